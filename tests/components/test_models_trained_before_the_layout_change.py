"""Regression: Rasa stores each component's `cls.__module__` in the model, so moving a module
breaks every model trained before the move unless the old paths still import.

tests/fixtures/old_layout_model.tar.gz was trained at commit 366d784 (the flat components/
layout) from tests/fixtures/old_layout_config.yml and the demo's domain and data:
`rasa train --config tests/fixtures/old_layout_config.yml --fixed-model-name old_layout`.
It names every component by its old path, e.g. `components.noise_filter_restorer`.
"""
import asyncio
import json
import tarfile
from pathlib import Path

import pytest
from rasa.core.agent import Agent

from components.shared.contracts import emotion_of, noise_filter_of

REPO = Path(__file__).resolve().parents[2]
OLD_MODEL = REPO / "tests" / "fixtures" / "old_layout_model.tar.gz"

def test_the_fixture_names_the_old_module_paths() -> None:
    with tarfile.open(OLD_MODEL) as archive:
        schema = json.load(archive.extractfile("metadata.json"))["predict_schema"]
    uses = {node["uses"] for node in schema["nodes"].values()}
    assert "components.noise_filter_restorer.NoiseFilterRestorer" in uses
    assert "components.noise_filter.NoiseFilter" in uses
    assert "components.emotion_classifier.EmotionClassifier" in uses


@pytest.mark.slow
def test_a_model_trained_before_the_move_loads_and_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the old config named the encoder by a path relative to the project
    agent = Agent.load(str(OLD_MODEL))
    parse = asyncio.run(agent.parse_message("wheres my ordr A1001??"))
    assert parse["intent"]["name"]
    assert noise_filter_of(parse)["clean_text"] == "where is my order A1001?"
    assert parse["text"] == "wheres my ordr A1001??"  # the old restorer still put it back
    assert emotion_of(parse)
    replies = asyncio.run(agent.handle_text("wheres my ordr A1001??", sender_id="old-model"))
    assert isinstance(replies, list)
    tracker = asyncio.run(agent.tracker_store.retrieve("old-model"))
    assert tracker.latest_action_name  # the policies predicted a next action
