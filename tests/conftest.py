"""Fixtures shared by the whole suite: build components the way Rasa's graph does."""
import os

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture
def model_storage(tmp_path_factory: pytest.TempPathFactory) -> ModelStorage:
    """A fresh on-disk model storage, as `rasa train` uses."""
    return LocalModelStorage(tmp_path_factory.mktemp("model_storage"))


@pytest.fixture
def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), model_id="rapport-test")


@pytest.fixture
def resource(request: pytest.FixtureRequest) -> Resource:
    return Resource(f"resource_{request.node.name}")
