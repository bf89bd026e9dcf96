"""EmotionClassifier: learns labelled data, survives persistence, answers every input sensibly.

Most tests feed synthetic dense features (a hashed random vector per token) in place of MiniLM's,
so they stay fast; the shipped-weights tests at the end run Rasa's real tokenizer and
CompiledLanguageModelFeaturizer once per module.
"""
import json
import logging
import zlib
from typing import Any, Dict, List, Optional, Text

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    FEATURE_TYPE_SENTENCE,
    FEATURE_TYPE_SEQUENCE,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.emotion_classifier.component import EmotionClassifier
from components.emotion_classifier.features import MAX_TOKENS, dense_inputs, pad_sequences, rasa_featurizers
from components.emotion_classifier.network import NETWORK_DEFAULTS, MessageForward, build_network
from components.shared.contracts import EMOTION, EMOTION_LABELS, EMOTION_RANKING, emotion_of, emotion_scores
from tests.checks.nlu_checks import BAD_INPUTS, NLUComponentChecks, ProcessFn, outputs

DIM = 384  # the shipped model reads MiniLM-sized vectors
TOKENIZER = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


def hashed_features(messages: List[Message], origin: Text = "TinyFeaturizer") -> List[Message]:
    """Tokenize, then give every token a fixed random vector: a tiny stand-in for MiniLM."""
    TOKENIZER.process(messages)
    for message in messages:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not tokens:
            continue
        vectors = np.stack([
            np.random.default_rng(zlib.crc32(t.text.lower().encode())).normal(size=DIM)
            for t in tokens
        ]).astype(np.float32)
        message.add_features(Features(vectors, FEATURE_TYPE_SEQUENCE, TEXT, origin))
        message.add_features(Features(vectors.mean(0, keepdims=True), FEATURE_TYPE_SENTENCE, TEXT, origin))
    return messages


def labelled(text: Text, emotion: Optional[Text], on_intent: bool = False) -> Message:
    level = METADATA_INTENT if on_intent else METADATA_EXAMPLE
    metadata = {level: {EMOTION: emotion}} if emotion else {}
    return Message(data={TEXT: text, "intent": "any", METADATA: metadata})


TINY_SET = {
    "anger": ["I am furious", "furious again", "so furious now", "furious about this", "really furious"],
    "joy": ["thanks a lot", "thanks so much", "many thanks", "thanks again", "great thanks"],
    "fear": ["I am scared", "scared of this", "so scared now", "scared again", "really scared"],
    "neutral": ["the order number", "an order today", "order number please", "my order", "order it"],
}


def tiny_training_data(emotions: Dict[Text, List[Text]] = TINY_SET) -> TrainingData:
    examples = [labelled(text, emotion) for emotion, texts in emotions.items() for text in texts]
    examples.append(labelled("hello there", None))  # unlabelled examples are ignored
    return TrainingData(hashed_features(examples))


def make(
    model_storage: ModelStorage, resource: Resource, context: ExecutionContext, **config: Any
) -> EmotionClassifier:
    return EmotionClassifier.create(
        {**EmotionClassifier.get_default_config(), **config}, model_storage, resource, context
    )


TINY = {"bot_labels": "replace", "lstm_units": 8, "epochs": 40, "learning_rate": 0.01, "batch_size": 4}


def top(classifier: EmotionClassifier, text: Text) -> Text:
    return classifier.rank(hashed_features([Message(data={TEXT: text})])[0])[0]["name"]


def test_learns_a_tiny_labelled_set(model_storage, resource, execution_context) -> None:
    classifier = make(model_storage, resource, execution_context, **TINY)
    classifier.train(tiny_training_data())
    for emotion, texts in TINY_SET.items():
        for text in texts:
            assert top(classifier, text) == emotion, text
    # and generalises to new sentences with the same cue words
    assert top(classifier, "why am I furious") == "anger"
    assert top(classifier, "thanks buddy") == "joy"


def test_finetuning_moves_the_pretrained_model(model_storage, resource, execution_context) -> None:
    classifier = make(model_storage, resource, execution_context, epochs=30, learning_rate=0.005)
    texts = ["banana banana", "banana split", "a banana", "banana again", "banana please"]
    before = [top(classifier, t) for t in texts]
    classifier.train(tiny_training_data({"surprise": texts, "neutral": TINY_SET["neutral"]}))
    after = [top(classifier, t) for t in texts]
    assert after == ["surprise"] * len(texts), (before, after)


def test_labels_on_the_intent_count_too() -> None:
    assert EmotionClassifier._label_of(labelled("grr", "Anger", on_intent=True)) == "anger"
    assert EmotionClassifier._label_of(labelled("grr", None)) is None


@pytest.mark.parametrize("length", [5, MAX_TOKENS + 9])  # a short message; one cut at MAX_TOKENS
def test_served_numpy_forward_pass_equals_the_keras_network(length: int) -> None:
    network = {**NETWORK_DEFAULTS, "lstm_units": 8}
    model = build_network(network)
    rng = np.random.default_rng(length)
    for layer in ("lstm", "emotion"):  # large random weights: saturated gates are compared too
        model.get_layer(layer).set_weights(
            [rng.normal(scale=0.5, size=w.shape) for w in model.get_layer(layer).get_weights()]
        )
    sequence = rng.normal(size=(length, DIM)).astype(np.float32)
    sentence = rng.normal(size=DIM).astype(np.float32)
    keras = model([pad_sequences([sequence], DIM), sentence[None]], training=False).numpy()[0]
    np.testing.assert_allclose(MessageForward(model)(sequence, sentence), keras, atol=1e-5)


def test_without_labels_the_pretrained_model_is_kept(model_storage, resource, execution_context) -> None:
    fresh = make(model_storage, Resource("fresh"), execution_context)
    trained = make(model_storage, resource, execution_context)
    trained.train(TrainingData(hashed_features([labelled("hello there", None)])))
    loaded = EmotionClassifier.load(
        EmotionClassifier.get_default_config(), model_storage, resource, execution_context
    )
    message = hashed_features([Message(data={TEXT: "where is my parcel, it is late"})])[0]
    assert fresh.rank(message) == trained.rank(message) == loaded.rank(message)


def test_unknown_emotion_labels_are_ignored_with_a_warning(
    model_storage, resource, execution_context, caplog: pytest.LogCaptureFixture
) -> None:
    classifier = make(model_storage, resource, execution_context, **{**TINY, "epochs": 1})
    data = tiny_training_data()
    data.training_examples.extend(hashed_features([labelled("meh whatever", "boredom")]))
    with caplog.at_level(logging.WARNING):
        classifier.train(data)
    assert "boredom" in caplog.text


def test_persist_and_load_give_identical_rankings(model_storage, resource, execution_context) -> None:
    classifier = make(model_storage, resource, execution_context, **{**TINY, "epochs": 5})
    classifier.train(tiny_training_data())
    loaded = EmotionClassifier.load(
        {**EmotionClassifier.get_default_config(), **TINY}, model_storage, resource, execution_context
    )
    for text in ["I am furious", "thanks", "the order number is late", "banana"]:
        message = hashed_features([Message(data={TEXT: text})])[0]
        assert loaded.rank(message) == classifier.rank(message)


def test_rasa_finetune_continues_from_the_previous_weights_even_in_replace_mode(
    model_storage, resource, execution_context
) -> None:
    """`rasa train --finetune` loads, then trains: "replace" must not start a fresh network."""
    import dataclasses

    classifier = make(model_storage, resource, execution_context, **{**TINY, "epochs": 5})
    classifier.train(tiny_training_data())
    finetuning = dataclasses.replace(execution_context, is_finetuning=True)
    config = {**EmotionClassifier.get_default_config(), **TINY, "epochs": 1, "learning_rate": 0.0}
    loaded = EmotionClassifier.load(config, model_storage, resource, finetuning)
    loaded.train(tiny_training_data())
    for before, after in zip(classifier._model.get_weights(), loaded._model.get_weights()):
        np.testing.assert_array_equal(after, before)


def test_loading_an_untrained_resource_falls_back_to_the_pretrained_model(
    model_storage, execution_context
) -> None:
    config = EmotionClassifier.get_default_config()
    loaded = EmotionClassifier.load(config, model_storage, Resource("never_trained"), execution_context)
    fresh = make(model_storage, Resource("fresh"), execution_context)
    message = hashed_features([Message(data={TEXT: "thanks, that helped"})])[0]
    assert loaded.rank(message) == fresh.rank(message)


def test_a_model_saved_by_the_bilstm_version_falls_back_to_the_pretrained_model(
    model_storage, resource, execution_context, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: models trained before the LSTM change stored `emotion_bilstm.weights.h5`,
    and loading them crashed `rasa run` with a FileNotFoundError."""
    with model_storage.write_to(resource) as directory:
        (directory / "emotion_model.json").write_text(
            json.dumps({"labels": list(EMOTION_LABELS), "network": NETWORK_DEFAULTS, "provenance": {}})
        )
        (directory / "emotion_bilstm.weights.h5").write_bytes(b"old weights")
    with caplog.at_level(logging.WARNING):
        loaded = EmotionClassifier.load(
            EmotionClassifier.get_default_config(), model_storage, resource, execution_context
        )
    assert "retrain" in caplog.text
    message = hashed_features([Message(data={TEXT: "thanks, that helped"})])[0]
    assert loaded.rank(message) == make(model_storage, Resource("fresh"), execution_context).rank(message)


def test_outputs_are_a_full_probability_ranking_and_an_entity(
    model_storage, resource, execution_context
) -> None:
    classifier = make(model_storage, resource, execution_context, emit_entity=True)
    texts = ["I am furious, my parcel is late again!", "thanks!", "where is A1001", ""]
    for message in classifier.process(hashed_features([Message(data={TEXT: t}) for t in texts])):
        parse = message.as_dict(only_output_properties=True)
        ranking = parse[EMOTION_RANKING]
        assert sorted(r["name"] for r in ranking) == sorted(EMOTION_LABELS)
        confidences = [r["confidence"] for r in ranking]
        assert all(0.0 <= c <= 1.0 for c in confidences)
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0, abs=1e-6)
        assert parse[EMOTION] == ranking[0]
        [entity] = [e for e in parse[ENTITIES] if e["entity"] == EMOTION]
        assert entity["value"] == ranking[0]["name"]
        assert entity["extractor"] == "EmotionClassifier"
        assert (entity["start"], entity["end"]) == (0, len(message.get(TEXT)))


def test_no_entity_by_default_so_e2e_tests_score_only_annotated_entities(
    model_storage, resource, execution_context
) -> None:
    classifier = make(model_storage, resource, execution_context)
    [message] = classifier.process(hashed_features([Message(data={TEXT: "thanks!"})]))
    assert not message.get(ENTITIES)
    assert message.get(EMOTION)


@pytest.mark.parametrize("case", ["empty", "huge", "emoji_only", "binary_junk", "cjk", "right_to_left"])
def test_bad_input_gets_a_low_confidence_neutral(
    model_storage, resource, execution_context, case: Text
) -> None:
    classifier = make(model_storage, resource, execution_context)
    [message] = classifier.process(hashed_features([Message(data={TEXT: BAD_INPUTS[case]})]))
    assert message.get(EMOTION)["name"] == "neutral"
    assert message.get(EMOTION)["confidence"] <= 0.5


class TestEmotionClassifierChecks(NLUComponentChecks):
    component_class = EmotionClassifier
    config = {"epochs": 2}

    @pytest.fixture(scope="class")
    def prepare(self) -> ProcessFn:
        return hashed_features

    def check_output(self, message: Message) -> None:
        parse_data = outputs(message)
        assert emotion_of(parse_data) in EMOTION_LABELS
        assert sorted(emotion_scores(parse_data)) == sorted(EMOTION_LABELS)


# --- the shipped model with Rasa's real featurizers (MiniLM loaded once for the module) ---------


@pytest.fixture(scope="module")
def real_featurizers():
    return rasa_featurizers()


def real_features(texts: List[Text], featurizers) -> List[Message]:
    tokenizer, featurizer = featurizers
    messages = [Message(data={TEXT: text}) for text in texts]
    tokenizer.process(messages)
    return featurizer.process(messages)


CLEAR_SENTENCES = {
    "I am furious, this is the third time my parcel is late!": "anger",
    "thanks, that really helped!": "joy",
    "I'm so scared my card details were stolen": "fear",
    "wow, I did not expect that at all!": "surprise",
}


def test_shipped_model_recognises_clear_emotions(
    model_storage, resource, execution_context, real_featurizers
) -> None:
    classifier = make(model_storage, resource, execution_context)
    messages = classifier.process(real_features(list(CLEAR_SENTENCES), real_featurizers))
    predicted = {m.get(TEXT): m.get(EMOTION)["name"] for m in messages}
    assert predicted == CLEAR_SENTENCES


def test_without_pipeline_features_it_computes_the_same_ones_itself(
    model_storage, resource, execution_context, real_featurizers, caplog: pytest.LogCaptureFixture
) -> None:
    classifier = make(model_storage, resource, execution_context)
    text = "I am furious, this is the third time my parcel is late!"
    [with_pipeline] = real_features([text], real_featurizers)
    bare = Message(data={TEXT: text})
    with caplog.at_level(logging.WARNING):
        own = classifier.rank(bare)
    assert "found no dense features" in caplog.text
    assert dense_inputs(bare) is None  # the message itself is left alone
    pipeline = classifier.rank(with_pipeline)
    assert [r["name"] for r in own] == [r["name"] for r in pipeline]
    np.testing.assert_allclose(
        [r["confidence"] for r in own], [r["confidence"] for r in pipeline], atol=1e-4
    )
