"""NoiseFilterRestorer: entity offsets and text go back to what the user typed."""
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from components.noise_filter.component import NoiseFilter
from components.noise_filter.restorer import NoiseFilterRestorer
from components.shared.contracts import noise_filter_of
from tests.checks.nlu_checks import NLUComponentChecks, ProcessFn, outputs


def test_entities_found_in_cleaned_text_point_into_the_typed_text(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    typed = "um wheres my ordr A1001??"
    message = Message(data={"text": typed})
    NoiseFilter.create({}, model_storage, resource, execution_context).process([message])
    cleaned = message.get("text")
    start = cleaned.index("A1001")
    # what an extractor (DIET) would add, in cleaned-text offsets
    message.set("entities", [{"entity": "order_id", "value": "A1001", "start": start,
                              "end": start + 5}], add_to_output=True)

    NoiseFilterRestorer.create({}, model_storage, resource, execution_context).process([message])

    assert message.get("text") == typed
    entity = message.get("entities")[0]
    assert typed[entity["start"] : entity["end"]] == "A1001"
    assert message.get("noise_filter")["clean_text"] == cleaned


def test_messages_without_noise_filter_are_left_alone(
    model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext
) -> None:
    message = Message(data={"text": "where is A1001",
                            "entities": [{"entity": "order_id", "start": 9, "end": 14}]})
    NoiseFilterRestorer.create({}, model_storage, resource, execution_context).process([message])
    assert message.get("text") == "where is A1001"
    assert message.get("entities")[0]["start"] == 9


class TestNoiseFilterRestorerChecks(NLUComponentChecks):
    component_class = NoiseFilterRestorer

    @pytest.fixture(scope="class")
    def prepare(self, tmp_path_factory: pytest.TempPathFactory) -> ProcessFn:
        noise_filter = NoiseFilter.create(
            NoiseFilter.get_default_config(), LocalModelStorage(tmp_path_factory.mktemp("nf")),
            Resource("noise_filter"), ExecutionContext(GraphSchema({}), "checks"),
        )
        return noise_filter.process

    def check_output(self, message: Message) -> None:
        record = noise_filter_of(outputs(message))
        assert record is not None
        assert message.get("text") == record["text"]  # what the user typed, back in place
