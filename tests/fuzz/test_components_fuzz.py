"""Short-mode fuzzing of every Rapport NLU component, on tiny models (fast suite).

Each component gets hostile texts from tests/fuzz/inputs.py through `process` (and the
featurizer and NoiseFilter through `process_training_data`), and must neither raise nor put
anything into the message that the tracker store could not keep (JSON), nor break the
invariants later components rely on (one sequence feature per token; entity offsets inside
the text). The full run (bench/fuzz.py) fuzzes the trained pipeline over HTTP.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Text

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.noise_filter import NoiseFilter, NoiseFilterRestorer
from tests.components.emotion_classifier.test_component import TINY, hashed_features, make
from tests.components.noise_filter.test_component import build as build_noise_filter
from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer
from tests.components.test_compiled_lm_featurizer import featurize, featurizer
from tests.fuzz.inputs import texts as all_texts

def texts(max_size: int = 300) -> st.SearchStrategy[Text]:
    """The fuzz corpus, its fixed texts cut at 20,000 characters: a single component on a busy
    2-core machine takes seconds per megabyte, and the channels refuse more than 2,000."""
    return all_texts(max_size, longest=20_000)


SHORT = settings(
    max_examples=30, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


def training_texts(max_size: int = 120) -> st.SearchStrategy[Text]:
    """Training data is read from UTF-8 files: it can hold anything but lone surrogates (Rasa's
    TrainingData fingerprints each example as UTF-8)."""
    return texts(max_size).map(lambda text: text.encode("utf-8", "replace").decode("utf-8"))


def storable(message: Message) -> None:
    """What Rasa writes to the tracker store: JSON, which must also be encodable as UTF-8."""
    json.dumps(message.as_dict_nlu(), default=str).encode("utf-8")


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("fuzz_storage"))


@pytest.fixture(scope="module")
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), model_id="fuzz")


@pytest.fixture(scope="module")
def noise_filter(storage: LocalModelStorage, context: ExecutionContext) -> NoiseFilter:
    return build_noise_filter(storage, Resource("fuzz_noise_filter"), context)


@SHORT
@given(text=texts())
def test_noise_filter_process(noise_filter: NoiseFilter, text: Text) -> None:
    [message] = noise_filter.process([Message(data={TEXT: text})])
    assert isinstance(message.get(TEXT), str)
    storable(message)


@SHORT
@given(batch=st.lists(training_texts(), min_size=1, max_size=6))
def test_noise_filter_process_training_data(noise_filter: NoiseFilter, batch: List[Text]) -> None:
    data = TrainingData([Message(data={TEXT: text, "intent": "greet"}) for text in batch])
    cleaned = noise_filter.process_training_data(data)
    assert all(isinstance(m.get(TEXT), str) for m in cleaned.training_examples)


@SHORT
@given(text=texts(), spans=st.lists(st.tuples(st.integers(-5, 400), st.integers(-5, 400)), max_size=3))
def test_noise_filter_restorer_process(
    noise_filter: NoiseFilter, text: Text, spans: List[Any]
) -> None:
    """Entities an extractor may report (any offsets, even outside the text) are mapped back
    without error, and stay inside the text the user typed."""
    [message] = noise_filter.process([Message(data={TEXT: text})])
    cleaned = message.get(TEXT)
    entities = [
        {"entity": "order_id", "start": start, "end": end, "value": cleaned[max(start, 0):max(end, 0)]}
        for start, end in spans
    ]
    message.set(ENTITIES, entities)
    [restored] = NoiseFilterRestorer(Resource("fuzz_restorer")).process([message])
    assert restored.get(TEXT) == text or restored.get(TEXT) == cleaned
    storable(restored)


@pytest.fixture(scope="module")
def emotion_classifier(storage: LocalModelStorage, context: ExecutionContext) -> Any:
    return make(storage, Resource("fuzz_emotion"), context, **TINY)


@SHORT
@given(text=texts())
def test_emotion_classifier_process(emotion_classifier: Any, text: Text) -> None:
    [message] = emotion_classifier.process(hashed_features([Message(data={TEXT: text})]))
    ranking = message.get("emotion_ranking")
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-4
    storable(message)


@pytest.fixture(scope="module")
def compiled(tiny_bert: Text) -> CompiledLanguageModelFeaturizer:
    return featurizer(CompiledLanguageModelFeaturizer, tiny_bert)


@SHORT
@given(text=texts())
def test_compiled_featurizer_process(compiled: CompiledLanguageModelFeaturizer, text: Text) -> None:
    [message] = featurize(compiled, [text])
    sequence, sentence = message.get_dense_features(TEXT, [])
    assert sequence.features.shape[0] == len(message.get("text_tokens"))  # issue 13
    assert sentence.features.shape[0] == 1


@settings(SHORT, max_examples=15)
@given(batch=st.lists(training_texts(), min_size=1, max_size=4))
def test_compiled_featurizer_process_training_data(
    compiled: CompiledLanguageModelFeaturizer, batch: List[Text]
) -> None:
    data = TrainingData([Message(data={TEXT: text, "intent": "greet"}) for text in batch])
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    try:
        compiled.process_training_data(data)
    except RuntimeError as error:
        # Rasa's rule for training data: an example over the model's 512 word pieces is refused
        # with this message (at inference it is truncated instead).
        assert "is too long" in str(error)
        return
    for message in data.training_examples:
        if message.get(TEXT):
            sequence, _ = message.get_dense_features(TEXT, [])
            assert sequence.features.shape[0] == len(message.get("text_tokens"))
