"""NoiseFilter in a real `rasa train`: Rasa builds the graph, validates it, feeds the training
data through `process_training_data` (so featurizers learn from cleaned text), and the trained
model cleans live messages and reports what it changed."""
import asyncio
import json
import tarfile
from pathlib import Path

import pytest
import yaml
from rasa.core.agent import Agent
from rasa.model_training import train_nlu

NLU = """
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - wheres my ordr [A1001](order_id)
    - where is my order [B2002](order_id)
    - status of order [C3003](order_id)
    - has order [D4004](order_id) shipped
- intent: cancel_order
  examples: |
    - um can u cancel it
    - cancel my order
    - please cancel order [E5005](order_id)
    - I want to cancel
- regex: order_id
  examples: |
    - [A-Za-z]\\d{4}
"""

PIPELINE = [
    {"name": "components.noise_filter.NoiseFilter"},
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "components.fast_loading_diet.FastLoadingDIETClassifier", "epochs": 2},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("noise_filter_project")
    (work / "nlu.yml").write_text(NLU)
    (work / "config.yml").write_text(
        yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": PIPELINE})
    )
    path = train_nlu(
        str(work / "config.yml"), str(work / "nlu.yml"), str(work / "models"),
        fixed_model_name="noisy",
    )
    return Path(path)


def _count_vectors_vocabulary(model: Path) -> set:
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("vocabularies.json")
                      and "CountVectorsFeaturizer" in m.name)
        return set(json.load(archive.extractfile(member))["text"])


def test_featurizers_learn_from_cleaned_training_data(model: Path) -> None:
    vocabulary = _count_vectors_vocabulary(model)
    # "wheres my ordr" and "um can u cancel it" reached the featurizer cleaned.
    assert {"where", "is", "order", "you"} <= vocabulary
    assert not {"wheres", "ordr", "um", "u"} & vocabulary


def test_trained_model_cleans_live_messages_and_reports_it(model: Path) -> None:
    agent = Agent.load(str(model))
    parse = asyncio.run(agent.parse_message("wheres my ordr A1001??"))
    assert parse["text"] == "where is my order A1001?"
    info = parse["noise_filter"]
    assert info["text"] == "wheres my ordr A1001??"
    assert ("ordr", "order", "spelling") in {(c["from"], c["to"], c["kind"]) for c in info["corrections"]}
