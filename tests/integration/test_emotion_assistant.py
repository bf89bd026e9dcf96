"""The trained demo assistant with EmotionClassifier: the emotion slot fills on every turn, and the
emotion timeline is drawn from the real SQL tracker store."""
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.conftest import REPO, RunningAssistant
from tests.integration.test_assistant import get_json, say


def test_emotion_fills_the_slot_every_turn_and_the_timeline_is_drawn(
    running_assistant: RunningAssistant, tmp_path: Path
) -> None:
    sender = "emotion-check"
    say(running_assistant, sender, "thanks, that really helped!")
    tracker = get_json(f"{running_assistant.url}/conversations/{sender}/tracker")
    assert tracker["latest_message"]["emotion"]["name"] == "joy"
    assert tracker["slots"]["emotion"] == "joy"
    assert len(tracker["latest_message"]["emotion_ranking"]) == 7

    say(running_assistant, sender, "hello")
    tracker = get_json(f"{running_assistant.url}/conversations/{sender}/tracker")
    assert tracker["slots"]["emotion"] == tracker["latest_message"]["emotion"]["name"]
    # one calm or joyful message never sets the featurised anger flag
    assert not tracker["slots"]["anger_repeated"]

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": {
        "type": "SQL", "dialect": "sqlite", "db": str(running_assistant.tracker_db)}}))
    picture = tmp_path / "timeline.png"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.emotion_timeline", sender, "--endpoints", str(endpoints),
         "--out", str(picture)], cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 user messages" in result.stdout
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
