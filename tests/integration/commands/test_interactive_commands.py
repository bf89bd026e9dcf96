"""`rasa shell nlu` and `rasa shell`, typed into a pseudo-terminal as a person would, on the
session's demo model and the session's action server. (`rasa interactive` is not covered yet: in
a pseudo-terminal its action confirmations did not take the typed answer.)"""
import json
import re
import sys
from pathlib import Path

from scripts.servers import free_port
from tests.integration.commands.conftest import actions_url, endpoints_file, rasa_env
from tests.integration.conftest import RASA, RunningAssistant



def test_rasa_shell_nlu_shows_emotion_and_noise_filter_corrections(
    trained_model: Path, terminal
) -> None:
    shell = terminal([RASA, "shell", "nlu", "-m", str(trained_model)])
    shell.expect("Next message:", timeout=600)
    mark = shell.send("wheres my ordr A1001??\r")
    found = shell.expect(r"(\{\n.*?\n\})\s*Next message:", since=mark)
    parse = json.loads(found.group(1))
    assert parse["intent"]["name"] == "check_order_status"
    assert parse["emotion"] == parse["emotion_ranking"][0]
    assert len(parse["emotion_ranking"]) == 7
    assert {"from": "ordr", "to": "order"}.items() <= next(
        c for c in parse["noise_filter"]["corrections"] if c["from"] == "ordr"
    ).items()
    [order_id] = [e for e in parse["entities"] if e["entity"] == "order_id"]
    assert order_id["value"] == "A1001"


def test_rasa_shell_as_make_demo_starts_it_answers_with_a_clean_terminal(
    trained_model: Path, running_assistant: RunningAssistant, terminal, tmp_path: Path
) -> None:
    """`rasa shell` started as `make demo` does (scripts/rasa_cli.py): no library deprecation
    warning before the prompt; the action server fills the emotion slot (anger picks the
    apology's anger variation); the typo'd order question still reaches the orders database."""
    endpoints = endpoints_file(tmp_path, action_endpoint={"url": actions_url(running_assistant)})
    # the shell gives up on a reply after 10 s; a loaded CI machine can take longer
    env = rasa_env(RASA_SHELL_STREAM_READING_TIMEOUT_IN_SECONDS="600")
    shell = terminal([sys.executable, "-m", "scripts.rasa_cli", "shell", "-m", str(trained_model),
                      "--endpoints", str(endpoints), "-p", str(free_port())], env=env)
    shell.expect("Your input ->", timeout=600)
    deprecations = re.findall(r"^.*\w+Warning: .*[Dd]eprecat.*$", shell.screen, re.M)
    assert deprecations == [], shell.screen[:3000]
    mark = shell.send("wheres my ordr A1001??\r")
    shell.expect(r"(?i)DHL|shipped", since=mark)  # the order's status, from the database
    mark = shell.send("this is ridiculous, I am so angry with your service\r")
    shell.expect(r"You're right to be annoyed", since=mark)
