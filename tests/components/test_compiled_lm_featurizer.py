"""CompiledLanguageModelFeaturizer: Rasa's features, from one traced graph, on a tiny random BERT."""
from pathlib import Path
from typing import List, Text, Type

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer
from tests.checks.nlu_checks import BAD_INPUTS, NLUComponentChecks, ProcessFn

TEXTS = [
    "hello", "where is my order A1001?", "please cancel my order, thanks!",
    "the refund has not arrived", "bye",
]


def featurizer(cls: Type[LanguageModelFeaturizer], weights: Text) -> LanguageModelFeaturizer:
    config = {**cls.get_default_config(), "model_name": "bert", "model_weights": weights}
    return cls(config, ExecutionContext(GraphSchema({}), node_name=cls.__name__))


def featurize(component: LanguageModelFeaturizer, texts: List[Text]) -> List[Message]:
    messages = [Message(data={TEXT: text}) for text in texts]
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    return component.process(messages)


def dense(message: Message) -> List[np.ndarray]:
    sequence, sentence = message.get_dense_features(TEXT, [])
    return [sequence.features, sentence.features]


def test_features_equal_rasas_language_model_featurizer(tiny_bert: Text) -> None:
    texts = TEXTS + [BAD_INPUTS["huge"], BAD_INPUTS["emoji_only"], BAD_INPUTS["cjk"]]
    stock = featurize(featurizer(LanguageModelFeaturizer, tiny_bert), texts)
    compiled = featurize(featurizer(CompiledLanguageModelFeaturizer, tiny_bert), texts)
    for expected, actual in zip(stock, compiled):
        for want, got in zip(dense(expected), dense(actual)):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_messages_of_every_length_share_one_traced_graph(tiny_bert: Text) -> None:
    component = featurizer(CompiledLanguageModelFeaturizer, tiny_bert)
    # traced while it loads, not on the first message
    assert component._hidden_states.experimental_get_tracing_count() == 1
    featurize(component, TEXTS)
    data = TrainingData([Message(data={TEXT: text}) for text in TEXTS])
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    component.process_training_data(data)  # a batch of 5, padded to its longest message
    assert component._hidden_states.experimental_get_tracing_count() == 1


def test_shares_the_weights_other_components_load_through_components_encoder(
    tiny_bert: Text,
) -> None:
    from components.shared.encoder import load_pretrained

    first = featurizer(CompiledLanguageModelFeaturizer, tiny_bert)
    second = featurizer(CompiledLanguageModelFeaturizer, tiny_bert)
    assert first.model is second.model is load_pretrained(tiny_bert)[1]


@pytest.fixture(scope="module")
def compiled(tiny_bert: Text) -> LanguageModelFeaturizer:
    return featurizer(CompiledLanguageModelFeaturizer, tiny_bert)


class TestCompiledFeaturizerChecks(NLUComponentChecks):
    component_class = CompiledLanguageModelFeaturizer

    @pytest.fixture(scope="class", autouse=True)
    def _tiny_encoder(self, tiny_bert: Text) -> None:
        type(self).config = {"model_name": "bert", "model_weights": tiny_bert}

    @pytest.fixture(scope="class")
    def prepare(self) -> ProcessFn:
        return WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process

    def check_output(self, message: Message) -> None:
        sequence, sentence = message.get_dense_features(TEXT, [])
        # One token vector per token, also for a text without word pieces (issue 13, below).
        assert sentence.features.shape == (1, 32)
        assert sequence.features.shape == (len(message.get("text_tokens")), 32)


def test_no_weights_means_the_bundled_minilm_and_the_config_keeps_no_path() -> None:
    """The directory is found at creation; the dict Rasa persists in the model stays as written."""
    from components.shared.encoder import default_model_path

    config = {**CompiledLanguageModelFeaturizer.get_default_config(), "model_name": "bert"}
    component = CompiledLanguageModelFeaturizer(
        config, ExecutionContext(GraphSchema({}), node_name="featurizer")
    )
    assert component.model_weights == default_model_path()
    assert config["model_weights"] is None
    assert len(dense(featurize(component, ["where is my order?"])[0])[1][0]) == 384


def test_model_name_or_path_is_another_name_for_model_weights(tiny_bert: Text) -> None:
    config = {
        **CompiledLanguageModelFeaturizer.get_default_config(),
        "model_name": "bert", "model_name_or_path": tiny_bert,
    }
    component = CompiledLanguageModelFeaturizer(
        config, ExecutionContext(GraphSchema({}), node_name="featurizer")
    )
    assert component.model_weights == tiny_bert
    assert dense(featurize(component, ["hello"])[0])[1].shape[-1] == 32


# Issue 13: texts in which the language model's tokenizer finds no word piece. Rasa's featurizer
# gives such a token no sequence row (and an empty text no features at all), so DIET, which joins
# these rows with the sparse ones (one per token), failed on every one of them.
NO_WORD_PIECES = ["", "   \t", "\u200b", "\x00\x01", "hello \u200b there", "😀" * 30]


def sequence_rows(message: Message) -> int:
    sequence, _ = message.get_dense_features(TEXT, [])
    return sequence.features.shape[0]


@pytest.mark.parametrize("text", NO_WORD_PIECES)
def test_issue13_one_sequence_feature_per_token_for_text_without_word_pieces(
    compiled: LanguageModelFeaturizer, text: Text
) -> None:
    [message] = featurize(compiled, [text])
    assert sequence_rows(message) == len(message.get("text_tokens")) >= 1


def test_issue13_stock_featurizer_leaves_those_tokens_without_features(tiny_bert: Text) -> None:
    """The bug this subclass fixes is Rasa's: its rows do not match the tokens."""
    stock = featurize(featurizer(LanguageModelFeaturizer, tiny_bert), ["", "   \t"])
    assert stock[0].get_dense_features(TEXT, [])[0] is None
    assert sequence_rows(stock[1]) == 0 != len(stock[1].get("text_tokens"))


@pytest.mark.slow  # trains and loads a DIET: about 30 s on a busy 2-core machine
def test_issue13_fast_loading_diet_parses_text_without_word_pieces(
    compiled: LanguageModelFeaturizer, tmp_path: Path
) -> None:
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    from components.fast_loading_diet import FastLoadingDIETClassifier
    from tests.components.test_fast_loading_diet import NLU

    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), model_id="issue13")
    data = RasaYAMLReader().reads(NLU)
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    compiled.process_training_data(data)
    counts = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("counts"), context
    )
    counts.train(data)
    counts.process_training_data(data)
    # No entity head: its CRF is most of the time tracing DIET's training step, and the rows that
    # did not match are joined in the input layer, which the intent path runs too.
    config = {**FastLoadingDIETClassifier.get_default_config(), "epochs": 1, "entity_recognition": False}
    FastLoadingDIETClassifier.create(config, storage, Resource("diet"), context).train(data)
    diet = FastLoadingDIETClassifier.load(config, storage, Resource("diet"), context)

    messages = counts.process(featurize(compiled, NO_WORD_PIECES))
    for message in diet.process(messages):
        assert message.get("intent")["name"] in {"check_order_status", "cancel_order", "greet"}
