"""FastLoadingDIETClassifier: loaded without a training step, it predicts exactly as Rasa's load."""
from typing import Any, Dict, List, Text

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.diet_classifier import DIET
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.importers.rasa import RasaFileImporter  # noqa: F401  (registers readers)
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message

from components.fast_loading_diet import FastLoadingDIETClassifier, PredictionLoadedDIET
from components.noise_filter import NoiseFilter
from tests.checks.nlu_checks import NLUComponentChecks, ProcessFn, shop_training_data

NLU = """
version: "3.1"
nlu:
- intent: check_order_status
  examples: |
    - where is my order [A1001](order_id)
    - status of [B2001](order_id) please
    - has [A1003](order_id) shipped yet
    - track order [A1002](order_id)
- intent: cancel_order
  examples: |
    - cancel [A1004](order_id)
    - please cancel my order [A1005](order_id)
    - i do not want [A1007](order_id) anymore
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
"""
TEXTS = ["where is A1008", "cancel my order A1002 please", "hi", "", "bonjour 🙂", "x " * 300]


def featurize(featurizer: CountVectorsFeaturizer, messages: List[Message]) -> List[Message]:
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    return featurizer.process(messages)


def predictions(classifier: FastLoadingDIETClassifier, featurizer: CountVectorsFeaturizer) -> List[Dict[Text, Any]]:
    messages = featurize(featurizer, [Message(data={TEXT: text}) for text in TEXTS])
    return [
        {"ranking": m.get("intent_ranking"), "entities": m.get("entities")}
        for m in classifier.process(messages)
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Dict[Text, Any]:
    """A tiny DIET with an entity (so the CRF that makes Rasa's load slow is there), persisted."""
    from rasa.engine.graph import GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage = LocalModelStorage(tmp_path_factory.mktemp("fast_diet"))
    context = ExecutionContext(GraphSchema({}), model_id="fast-diet")
    resource = Resource("fast_diet")
    data = RasaYAMLReader().reads(NLU)
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    featurizer = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("cvf"), context
    )
    featurizer.train(data)
    featurizer.process_training_data(data)
    config = {**FastLoadingDIETClassifier.get_default_config(), "epochs": 40, "random_seed": 7}
    classifier = FastLoadingDIETClassifier.create(config, storage, resource, context)
    classifier.train(data)
    return {
        "storage": storage, "context": context, "resource": resource, "config": config,
        "featurizer": featurizer, "in_memory": predictions(classifier, featurizer),
    }


def load(trained: Dict[Text, Any]) -> FastLoadingDIETClassifier:
    return FastLoadingDIETClassifier.load(
        trained["config"], trained["storage"], trained["resource"], trained["context"]
    )


def assert_same(left: List[Dict[Text, Any]], right: List[Dict[Text, Any]]) -> None:
    for a, b in zip(left, right):
        assert [r["name"] for r in a["ranking"]] == [r["name"] for r in b["ranking"]]
        np.testing.assert_allclose(
            [r["confidence"] for r in a["ranking"]], [r["confidence"] for r in b["ranking"]],
            atol=1e-6,
        )
        assert [(e["entity"], e["value"], e["start"], e["end"]) for e in a["entities"]] == [
            (e["entity"], e["value"], e["start"], e["end"]) for e in b["entities"]
        ]


def test_loaded_model_predicts_what_the_trained_model_predicted(trained: Dict[Text, Any]) -> None:
    loaded = load(trained)
    assert isinstance(loaded.model, PredictionLoadedDIET)
    assert_same(predictions(loaded, trained["featurizer"]), trained["in_memory"])
    # The entity is found, so the CRF's restored weights are the trained ones, not fresh ones.
    entities = predictions(loaded, trained["featurizer"])[1]["entities"]
    assert [(e["entity"], e["value"]) for e in entities] == [("order_id", "A1002")]


def test_finetuning_and_old_models_take_rasas_own_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fine-tuning needs the optimizer state that only Rasa's training-step build creates."""
    calls = []
    monkeypatch.setattr(DIET, "load", classmethod(lambda cls, *args, **kw: calls.append(args)))
    PredictionLoadedDIET.load("weights", "example", "predict example", True)
    PredictionLoadedDIET.load("weights", "example", None, False)
    assert calls == [("weights", "example", "predict example", True), ("weights", "example", None, False)]


class TestFastLoadingDIETChecks(NLUComponentChecks):
    component_class = FastLoadingDIETClassifier
    config = {"epochs": 5, "random_seed": 7}

    @pytest.fixture(scope="class")
    def prepare(self, tmp_path_factory: pytest.TempPathFactory) -> ProcessFn:
        """The shipped pipeline's front, untrained NoiseFilter (which bounds the length of what
        DIET reads), whitespace tokens and bag-of-words features learnt from the shop data."""
        from rasa.engine.graph import GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage

        storage = LocalModelStorage(tmp_path_factory.mktemp("front"))
        context = ExecutionContext(GraphSchema({}), "checks")
        noise_filter = NoiseFilter.create({}, storage, Resource("nf"), context)
        tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        featurizer = CountVectorsFeaturizer.create(
            CountVectorsFeaturizer.get_default_config(), storage, Resource("cvf"), context
        )
        data = shop_training_data()
        tokenizer.process_training_data(data)
        featurizer.train(data)
        return lambda messages: featurizer.process(tokenizer.process(noise_filter.process(messages)))

    def check_output(self, message: Message) -> None:
        intents = {example.get("intent") for example in shop_training_data().training_examples}
        assert message.get("intent")["name"] in intents
        assert {r["name"] for r in message.get("intent_ranking")} <= intents

    def check_untrained_output(self, message: Message) -> None:
        """Rasa's DIET without a model predicts no intent rather than a made-up one."""
        assert message.get("intent") == {"name": None, "confidence": 0.0}
