"""A Rapport component placed where it cannot work stops the graph with a message saying what to
move where; the graphs come from Rasa's own recipe, as `rasa train` and `rasa run` build them."""
from typing import Any, Dict, List, Text

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.data import TrainingType
from rasa.shared.exceptions import InvalidConfigException

from components.emotion_classifier import EmotionClassifier
from components.noise_filter import NoiseFilter, NoiseFilterRestorer

FILTER = {"name": "components.noise_filter.NoiseFilter"}
TOKENIZER = {"name": "WhitespaceTokenizer"}
LM = {"name": "LanguageModelFeaturizer", "model_name": "bert"}
EMOTION = {"name": "components.emotion_classifier.EmotionClassifier"}
DIET = {"name": "DIETClassifier"}
RESTORER = {"name": "components.noise_filter.NoiseFilterRestorer"}


def graphs(pipeline: List[Dict[Text, Any]]) -> Dict[Text, GraphSchema]:
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline, "policies": []}
    model = DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.NLU)
    return {"train": model.train_schema, "predict": model.predict_schema}


def build(schema: GraphSchema, cls: type, tmp_path) -> None:
    """Build the node of `cls` the way Rasa's graph does (create, with the whole graph)."""
    node_name = next(n for n, node in schema.nodes.items() if node.uses is cls)
    context = ExecutionContext(schema, model_id="order-test", node_name=node_name)
    cls.create({**cls.get_default_config(), **schema.nodes[node_name].config},
               LocalModelStorage(tmp_path), Resource(node_name), context)


def test_noise_filter_after_the_tokenizer_says_move_it_above(tmp_path) -> None:
    schema = graphs([TOKENIZER, FILTER, LM, DIET])["train"]
    with pytest.raises(InvalidConfigException, match="Move it above WhitespaceTokenizer"):
        build(schema, NoiseFilter, tmp_path)


def test_restorer_before_an_entity_extractor_says_move_it_below(tmp_path) -> None:
    schema = graphs([FILTER, TOKENIZER, LM, RESTORER, DIET])["train"]
    with pytest.raises(InvalidConfigException, match="Move it below DIETClassifier"):
        build(schema, NoiseFilterRestorer, tmp_path)


def test_a_trained_model_in_the_wrong_order_still_loads_with_a_warning(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """Models trained before the check existed must serve; the log says what to move."""
    schema = graphs([FILTER, TOKENIZER, LM, RESTORER, DIET])["predict"]
    build(schema, NoiseFilterRestorer, tmp_path)
    assert "Move it below DIETClassifier" in caplog.text


def test_the_response_selector_may_come_after_the_restorer(tmp_path) -> None:
    """It is a DIET subclass (an entity extractor by class) but extracts no entities."""
    schema = graphs([FILTER, TOKENIZER, LM, DIET, RESTORER, {"name": "ResponseSelector"}])["train"]
    build(schema, NoiseFilterRestorer, tmp_path)


def test_emotion_classifier_without_dense_features_names_the_featurizer(tmp_path) -> None:
    schema = graphs([TOKENIZER, {"name": "CountVectorsFeaturizer"}, EMOTION, DIET])["train"]
    with pytest.raises(InvalidConfigException, match="CompiledLanguageModelFeaturizer"):
        build(schema, EmotionClassifier, tmp_path)


@pytest.mark.parametrize("graph", ["train", "predict"])
def test_the_shipped_order_builds(graph: Text, tmp_path) -> None:
    schema = graphs([FILTER, TOKENIZER, LM, EMOTION, DIET, RESTORER])[graph]
    for cls in (NoiseFilter, NoiseFilterRestorer, EmotionClassifier):
        build(schema, cls, tmp_path)


def test_outside_a_graph_nothing_is_checked(tmp_path) -> None:
    """Unit tests and scripts build components without a graph; that stays possible."""
    NoiseFilter.create(NoiseFilter.get_default_config(), LocalModelStorage(tmp_path),
                       Resource("x"), ExecutionContext(GraphSchema({}), "no-graph"))
