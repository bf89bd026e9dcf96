"""NoiseFilter: each step on real examples, protected tokens, offsets, persistence, bad input."""
import json
import tracemalloc
from typing import Any, Dict, List, Text

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.noise_filter.component import (
    VOCABULARY_FILE,
    NoiseFilter,
    restore_original_offsets,
)
from components.shared.contracts import NOISE_FILTER, noise_filter_of
from tests.checks.nlu_checks import BAD_INPUTS, NLUComponentChecks, outputs

NLU_YAML = """
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order [A1001](order_id)?
    - wheres my ordr [B2002](order_id)
    - has my [Rapportbox](product) shipped
    - is my [rapportbox](product) on the way
    - track [C3003](order_id) please
- intent: pay
  examples: |
    - can I pay with klarna
    - do you take klarna
    - I want to pay by [fone](payment)
- regex: order_id
  examples: |
    - [A-Z]\\d{4}
- synonym: phone
  examples: |
    - fone
- lookup: city
  examples: |
    - Zwolle
    - Nijmegen
"""


def training_data() -> TrainingData:
    return RasaYAMLReader().reads(NLU_YAML)


def build(
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
    **config: Any,
) -> NoiseFilter:
    component = NoiseFilter.create(
        {**NoiseFilter.get_default_config(), **config}, model_storage, resource, execution_context
    )
    component.train(training_data())
    return component


@pytest.fixture
def noise_filter(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> NoiseFilter:
    return build(model_storage, resource, execution_context)


def run(component: NoiseFilter, text: Text) -> Message:
    message = Message(data={"text": text})
    component.process([message])
    return message


def kinds(message: Message) -> List[Text]:
    """Kinds of the corrections made; emoji are listed apart, as cues."""
    info = message.get(NOISE_FILTER)
    return [c["kind"] for c in info["corrections"]] + ["emoji" for _ in info["emoji"]]


# --------------------------------------------------------------------------- each step
def test_spelling_and_shorthand_keep_the_order_id(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "wheres my ordr A1001??")
    assert message.get("text") == "where is my order A1001?"
    corrections = message.get(NOISE_FILTER)["corrections"]
    assert {"from": "ordr", "to": "order", "kind": "spelling", "start": 10, "end": 14} in corrections
    assert message.get(NOISE_FILTER)["text"] == "wheres my ordr A1001??"


def test_elongated_word_and_punctuation_are_shortened(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "sooo angry!!!!")
    assert message.get("text") == "so angry!"
    assert kinds(message) == ["elongation", "elongation"]


def test_elongation_picks_the_known_spelling(noise_filter: NoiseFilter) -> None:
    assert run(noise_filter, "goooood morning").get("text") == "good morning"


def test_mojibake_is_repaired_then_expanded(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "donâ€™t")
    assert message.get("text") == "do not"
    assert kinds(message) == ["unicode", "shorthand"]


def test_fillers_dropped_and_chat_shorthand_expanded(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "um, can u cancel it pls")
    assert message.get("text") == "can you cancel it please"
    assert "filler" in kinds(message) and "shorthand" in kinds(message)


def test_emoji_leave_the_text_but_stay_as_a_cue(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "📦 late again 😡")
    assert message.get("text") == "late again"
    cue = message.get(NOISE_FILTER)["emoji"]
    assert [(e["emoji"], e["name"]) for e in cue] == [("📦", "package"), ("😡", "enraged_face")]
    assert cue[1]["start"] == len("📦 late again ")


def test_emoji_between_words_keeps_them_apart(noise_filter: NoiseFilter) -> None:
    assert run(noise_filter, "late😡again").get("text") == "late again"


def test_control_and_zero_width_characters_are_removed(noise_filter: NoiseFilter) -> None:
    assert run(noise_filter, "can\u200bcel\x00 my\x1b[31m order\ufeff").get("text") == (
        "cancel my order"
    )


def test_whitespace_is_collapsed(noise_filter: NoiseFilter) -> None:
    assert run(noise_filter, "  where\t\tis \n my order ").get("text") == "where is my order"


def test_merged_words_are_split(noise_filter: NoiseFilter) -> None:
    assert run(noise_filter, "cancelthe order").get("text") == "cancel the order"


def trained_on(
    examples: List[Text],  # distinct: TrainingData drops duplicates
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
) -> NoiseFilter:
    component = NoiseFilter.create({}, model_storage, resource, execution_context)
    component.train(TrainingData([Message(data={"text": t, "intent": "x"}) for t in examples]))
    return component


def test_merged_domain_words_beat_a_dropped_letter(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    # regression: on Banking77 'myaccount' became 'account' and 'inmy' became 'indy'
    component = trained_on(
        [
            f"{start} my {thing}"
            for start in ("top up", "money in", "is")
            for thing in ("account", "card")
        ],
        model_storage,
        resource,
        execution_context,
    )
    assert run(component, "top up myaccount").get("text") == "top up my account"
    assert run(component, "money inmy account").get("text") == "money in my account"
    assert run(component, "top up acount").get("text") == "top up account"


def test_context_picks_between_equally_close_domain_words(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    # 'wht' is one edit from both 'why' (the more frequent here) and 'what'
    component = trained_on(
        ["why was I charged", "why was my card declined", "why is it pending"]
        + ["why was I charged twice", "what is my balance", "what is my pin"],
        model_storage,
        resource,
        execution_context,
    )
    assert run(component, "wht is my balance").get("text") == "what is my balance"
    assert run(component, "wht was I charged").get("text") == "why was I charged"
    with model_storage.read_from(resource) as directory:
        saved = json.loads((directory / VOCABULARY_FILE).read_text())
    assert saved["bigrams"]["what is"] == 2
    loaded = NoiseFilter.load({}, model_storage, resource, execution_context)
    assert run(loaded, "wht is my balance").get("text") == "what is my balance"


@pytest.mark.parametrize(
    "step, text",
    [
        ("spelling", "where is my ordr"),
        ("shorthand", "can u help"),
        ("fillers", "um help"),
        ("elongation", "wow!!!"),
        ("emoji", "late 😡"),
        ("unicode", "donâ€™t"),
        ("control_characters", "he\x00llo"),
    ],
)
def test_each_step_can_be_switched_off(
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
    step: Text,
    text: Text,
) -> None:
    kind = {"fillers": "filler", "control_characters": "control"}.get(step, step)
    on = build(model_storage, resource, execution_context)
    off = build(model_storage, resource, execution_context, **{step: False})
    assert any(kind in k for k in kinds(run(on, text)))
    assert not any(kind in k for k in kinds(run(off, text)))


# --------------------------------------------------------------------------- protected tokens
@pytest.mark.parametrize(
    "text",
    [
        "send it to a.b@exmaple.com",
        "see http://shop.exmaple.com/ordr/A1001",
        "I paid $20.50 for 3 itmes",
        "order A1001 and B2002",
    ],
    ids=["email", "url", "amount", "order_ids"],
)
def test_urls_emails_numbers_and_order_ids_are_never_changed(
    noise_filter: NoiseFilter, text: Text
) -> None:
    cleaned = run(noise_filter, text).get("text")
    for token in text.split():
        if any(ch.isdigit() for ch in token) or "@" in token or "://" in token:
            assert token in cleaned


def test_regex_from_training_data_protects_lowercase_ids(noise_filter: NoiseFilter) -> None:
    # [A-Z]\d{4} from the training data (matched case-insensitively) protects 'a1001'.
    assert run(noise_filter, "my ordr a1001").get("text") == "my order a1001"


def test_entity_values_synonyms_and_lookups_are_protected(noise_filter: NoiseFilter) -> None:
    # 'fone' is a synonym, 'Zwolle' a lookup entry: both look like typos to an English speller.
    assert run(noise_filter, "pay by fone in Zwolle").get("text") == "pay by fone in Zwolle"


def test_domain_vocabulary_wins_over_english(noise_filter: NoiseFilter) -> None:
    # English alone would say 'karma'; the bot's own word 'klarna' is as close and wins.
    assert run(noise_filter, "pay with klarma").get("text") == "pay with klarna"
    assert run(noise_filter, "has my rapportbx shipped").get("text") == "has my rapportbox shipped"


def test_untrained_filter_does_not_know_domain_words(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    untrained = NoiseFilter.create({}, model_storage, resource, execution_context)
    assert run(untrained, "pay with klarma").get("text") != "pay with klarna"


def test_names_inside_a_sentence_are_not_spell_corrected(noise_filter: NoiseFilter) -> None:
    # regression: '7 Rue de Rivoli' became '7 Rue de Tivoli' on the demo's training data
    assert run(noise_filter, "7 Rue de Rivoli").get("text") == "7 Rue de Rivoli"
    assert run(noise_filter, "Ordr status. Ordr A1001").get("text") == "Order status. Order A1001"


def test_configured_protected_words_are_kept(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    component = build(model_storage, resource, execution_context, protected_words=["ordr"])
    assert run(component, "my ordr").get("text") == "my ordr"


# --------------------------------------------------------------------------- offsets
def test_entity_offsets_map_back_to_what_the_user_typed(noise_filter: NoiseFilter) -> None:
    original = "um wheres my ordr A1001??"
    message = run(noise_filter, original)
    cleaned = message.get("text")
    entities = [
        {"entity": "order_id", "value": "A1001", "start": cleaned.index("A1001"),
         "end": cleaned.index("A1001") + 5},
        {"entity": "thing", "value": "order", "start": cleaned.index("order"),
         "end": cleaned.index("order") + 5},
    ]
    parse_data = {**message.as_dict(only_output_properties=True), "entities": entities}
    restored = restore_original_offsets(parse_data)
    assert restored["text"] == original
    spans = [original[e["start"] : e["end"]] for e in restored["entities"]]
    assert spans == ["A1001", "ordr"]
    assert [e["value"] for e in restored["entities"]] == ["A1001", "order"]


def test_restore_is_identity_for_untouched_text(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "where is my order A1001")
    parse_data = {
        **message.as_dict(only_output_properties=True),
        "entities": [{"entity": "order_id", "value": "A1001", "start": 18, "end": 23}],
    }
    assert restore_original_offsets(parse_data)["entities"][0]["start"] == 18


def test_training_examples_are_cleaned_and_entities_follow(noise_filter: NoiseFilter) -> None:
    data = RasaYAMLReader().reads(
        'version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n'
        "    - um wheres my ordr [A1001](order_id)??\n"
    )
    noise_filter.process_training_data(data)
    example = data.training_examples[0]
    assert example.get("text") == "where is my order A1001?"
    entity = example.get("entities")[0]
    assert example.get("text")[entity["start"] : entity["end"]] == "A1001"


def test_parse_data_is_json_and_lists_corrections(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, "wheres my ordr 😡")
    output = message.as_dict(only_output_properties=True)
    decoded = json.loads(json.dumps(output))
    assert decoded["noise_filter"]["text"] == "wheres my ordr 😡"
    assert {"from", "to", "kind", "start", "end"} <= set(decoded["noise_filter"]["corrections"][0])


# --------------------------------------------------------------------------- persistence
def test_persist_and_load_give_the_same_cleaning(
    noise_filter: NoiseFilter,
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
) -> None:
    loaded = NoiseFilter.load({}, model_storage, resource, execution_context)
    for text in ["pay with klarma", "wheres my ordr A1001??", "pay by fone in Zwolle"]:
        assert run(loaded, text).get("text") == run(noise_filter, text).get("text")
    with model_storage.read_from(resource) as directory:
        saved = json.loads((directory / VOCABULARY_FILE).read_text())
    assert "klarna" in saved["vocabulary"] and "fone" in saved["protected_words"]
    assert saved["regex_patterns"] == ["[A-Z]\\d{4}"]


def test_rasa_finetune_keeps_what_the_previous_model_learned(
    noise_filter: NoiseFilter,
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
) -> None:
    """`rasa train --finetune` loads, then trains on the new data: klarna (only in the old
    data) is still a domain word, and the new data's words are learned too."""
    import dataclasses

    finetuning = dataclasses.replace(execution_context, is_finetuning=True)
    new_data = TrainingData([
        Message(data={"text": text, "intent": "x"})
        for text in ("track my zalando parcel", "where is the zalando order")
    ])
    loaded = NoiseFilter.load({}, model_storage, resource, finetuning)
    loaded.train(new_data)
    assert run(loaded, "pay with klarma").get("text") == "pay with klarna"
    assert run(loaded, "track my zalanda parcel").get("text") == "track my zalando parcel"
    retrained = NoiseFilter.load({}, model_storage, resource, execution_context)
    retrained.train(new_data)
    assert run(retrained, "pay with klarma").get("text") != "pay with klarna"


def test_load_without_training_falls_back_to_english(
    model_storage: ModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loaded = NoiseFilter.load({}, model_storage, resource, execution_context)
    assert run(loaded, "where is my ordr").get("text") == "where is my order"
    assert "no learned vocabulary" in caplog.text


# --------------------------------------------------------------------------- augmentation
def test_augmentation_adds_cleaned_noisy_copies_with_correct_entities(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    component = build(
        model_storage, resource, execution_context, augmentation_copies=2, augmentation_level=0.5
    )
    data = training_data()
    before = len(data.training_examples)
    augmented = component.process_training_data(data)
    assert len(augmented.training_examples) > before
    assert augmented.entity_synonyms == data.entity_synonyms
    for example in augmented.training_examples:
        for entity in example.get("entities") or []:
            assert example.get("text")[entity["start"] : entity["end"]].lower() == (
                entity["value"].lower() if entity["value"] != "phone" else "fone"
            )


def test_augmentation_is_reproducible(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    def texts(seed: int) -> List[Text]:
        component = build(
            model_storage, resource, execution_context, augmentation_copies=1,
            augmentation_seed=seed,
        )
        return [m.get("text") for m in component.process_training_data(training_data()).training_examples]

    assert texts(1) == texts(1)
    assert texts(1) != texts(2)


# --------------------------------------------------------------------------- bad input
class TestNoiseFilterChecks(NLUComponentChecks):
    component_class = NoiseFilter

    def check_output(self, message: Message) -> None:
        record = noise_filter_of(outputs(message))
        assert record is not None
        assert message.get("text") == record["clean_text"]


def test_bad_inputs_keep_an_original_text_and_order_id(noise_filter: NoiseFilter) -> None:
    for name, text in BAD_INPUTS.items():
        message = run(noise_filter, text)
        assert message.get(NOISE_FILTER)["text"] == text, name
    assert run(noise_filter, "A1001").get("text") == "A1001"
    assert run(noise_filter, BAD_INPUTS["cjk"]).get("text").startswith("我的订单A1001")
    assert "A1001" in run(noise_filter, BAD_INPUTS["right_to_left"]).get("text")


def test_emoji_only_message_becomes_empty_text_with_cues(noise_filter: NoiseFilter) -> None:
    message = run(noise_filter, BAD_INPUTS["emoji_only"])
    assert message.get("text") == ""
    assert len(message.get(NOISE_FILTER)["emoji"]) == 4


def test_huge_message_does_not_grow_memory(noise_filter: NoiseFilter) -> None:
    huge = BAD_INPUTS["huge"]
    run(noise_filter, huge)  # warm up the correction cache and lazy imports
    tracemalloc.start()
    try:
        run(noise_filter, huge)
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(2):
            run(noise_filter, huge)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - baseline < 1_000_000


def test_broken_step_leaves_the_message_unchanged(
    noise_filter: NoiseFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Dict[Text, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(noise_filter, "_word_edits", explode)
    message = run(noise_filter, "wheres my ordr")
    assert message.get("text") == "wheres my ordr"
    assert message.get(NOISE_FILTER)["corrections"] == []


def test_a_one_megabyte_message_is_cut_to_max_characters(noise_filter: NoiseFilter) -> None:
    """Regression: DIET and the ResponseSelector attend over every token of what they get."""
    message = run(noise_filter, "where is my order A1001 " * 45_000)
    assert len(message.get("text")) <= NoiseFilter.get_default_config()["max_characters"]
    assert message.get("text").startswith("where is my order A1001")
    [cut] = [c for c in message.get(NOISE_FILTER)["corrections"] if c["kind"] == "truncated"]
    assert cut["end"] == len("where is my order A1001 " * 45_000)
    assert len(json.dumps(message.get(NOISE_FILTER)["corrections"])) < 1000


def test_first_reply_loaded_filter_has_its_spacy_tokenizer_ready(
    noise_filter: NoiseFilter, model_storage: ModelStorage, resource: Resource,
    execution_context: ExecutionContext,
) -> None:
    """Regression (issue 15, first reply after start-up): the spaCy tokenizer that protects
    names was built on the first message, which then paid ~1 s for importing spaCy."""
    from components.noise_filter import component

    component._spacy_tokenizer.cache_clear()
    NoiseFilter.load(NoiseFilter.get_default_config(), model_storage, resource, execution_context)
    assert component._spacy_tokenizer.cache_info().currsize == 1
