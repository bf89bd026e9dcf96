"""`rasa shell nlu`, `rasa shell` and `rasa interactive`, typed into a tmux pane as a person
would, on the session's demo model and the session's action server."""
import json
import re
import sys
from pathlib import Path
from typing import Text

import yaml

from scripts.servers import free_port
from tests.integration.commands.conftest import Terminal, actions_url, endpoints_file, rasa_env
from tests.integration.conftest import RASA, RunningAssistant
from tests.integration.test_assistant import post_json

RAPPORT_POLICIES = ("DecisionTreePolicy", "BertContextPolicy")
# What a person corrects the order answer to in `rasa interactive`: ask for the id instead.
CORRECTION = "utter_ask_order_id"


def answer(session: Terminal, *keys: Text, shows: Text) -> int:
    """Answer the prompt on the screen with `keys`; wait until the screen shows `shows` (a
    regex: the answer) after it; returns where the next question will start."""
    mark = session.send(*keys)
    return session.expect(shows, since=mark).end()


def accept_until_listening(session: Terminal, mark: int, turns: int = 10) -> None:
    """Say yes to every action the bot wants to run (after `mark`) until it waits for the user."""
    for _ in range(turns):
        found = session.expect(
            r"The bot wants to run '(\w+)', correct\? \(Y/n\)|\? Your input ->", since=mark
        )
        if found.group(1) is None:
            return
        mark = answer(session, "y", shows=rf"The bot wants to run '{found.group(1)}', correct\? Yes")
    raise AssertionError(f"the bot did not listen after {turns} actions:\n{session.screen[-3000:]}")


def test_rasa_shell_nlu_shows_emotion_and_noise_filter_corrections(
    trained_model: Path, terminal
) -> None:
    shell = terminal([RASA, "shell", "nlu", "-m", str(trained_model)])
    shell.expect("Next message:", timeout=600)
    mark = shell.send("wheres my ordr A1001??", "Enter")
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
    mark = shell.send("wheres my ordr A1001??", "Enter")
    shell.expect(r"(?i)DHL|shipped", since=mark)  # the order's status, from the database
    mark = shell.send("this is ridiculous, I am so angry with your service", "Enter")
    shell.expect(r"You're right to be annoyed", since=mark)


def test_rasa_interactive_corrects_a_policy_prediction_and_exports_the_story(
    trained_model: Path, running_assistant: RunningAssistant, terminal, tmp_path: Path
) -> None:
    """A person greets (RulePolicy's turn, accepted) and asks for an order: the prediction of
    Rapport's decision tree or BERT policy is rejected and another action picked from the list;
    the rest is accepted until the bot listens; Ctrl-C, "Export & Quit": the story holds the
    correction.

    (With the demo's config the tree makes every story turn's prediction, at confidence 1.0:
    pure leaves, and its priority is above the BERT policy's.)"""
    endpoints = endpoints_file(tmp_path, action_endpoint={"url": actions_url(running_assistant)})
    port, conversation = free_port(), "interactive-test"
    session = terminal([RASA, "interactive", "-m", str(trained_model), "--endpoints", str(endpoints),
                        "-p", str(port), "--conversation-id", conversation, "--skip-visualization"])
    api = f"http://127.0.0.1:{port}/conversations/{conversation}"
    session.expect(r"\? Your input ->", timeout=600)
    mark = answer(session, "hello", "Enter", shows=r"Your input -> hello")
    session.expect(r"intent 'greet'[^?]*\? \(Y/n\)", since=mark)
    mark = answer(session, "y", shows=r"intent 'greet'[^?]*\? Yes")
    accept_until_listening(session, mark)

    mark = answer(session, "what is the status of order A1002", "Enter",
                  shows=r"Your input -> what is the status of order A1002")
    session.expect(r"intent 'check_order_status'[^?]*\? \(Y/n\)", since=mark)
    mark = answer(session, "y", shows=r"intent 'check_order_status'[^?]*\? Yes")
    predicted = session.expect(r"The bot wants to run '(\w+)', correct\? \(Y/n\)", since=mark).group(1)
    # the same question to the same server: which policy made this prediction, and the list
    # interactive shows below `<create new action>`, best first
    prediction = post_json(f"{api}/predict", {})
    assert prediction["scores"][0]["action"] == predicted
    assert prediction["policy"].endswith(RAPPORT_POLICIES), prediction["policy"]
    assert predicted != CORRECTION
    place = [score["action"] for score in prediction["scores"]].index(CORRECTION) + 1
    mark = answer(session, "n", shows=rf"The bot wants to run '{predicted}', correct\? No")
    session.expect(r"\? What is the next action of the bot\?", since=mark)
    mark = answer(session, *["Down"] * place, "Enter",
                  shows=rf"The bot will now run {CORRECTION}\.")
    accept_until_listening(session, mark)

    mark = answer(session, "C-c", shows=r"\? Do you want to stop\?")
    mark = answer(session, *["Down"] * 4, "Enter", shows=r"Do you want to stop\? Export & Quit")
    stories, nlu, domain = (tmp_path / name for name in ("stories.yml", "nlu.yml", "domain.yml"))
    for question, path in (("stories", stories), ("NLU data", nlu), ("domain file", domain)):
        session.expect(rf"\? Export {question} to \(.*?\)", since=mark)
        # Ctrl-U first: the default is the project's own file (data/stories.yml...)
        mark = answer(session, "C-u", str(path), "Enter", shows=re.escape(f") {path}"))
    session.wait_for_exit()
    assert "Successfully wrote stories and NLU data" in session.screen
    assert "Traceback" not in session.screen, session.screen[-5000:]  # no error logged on the way

    assert "- what is the status of order [A1002](order_id)" in nlu.read_text()
    assert "utter_ask_order_id" in yaml.safe_load(domain.read_text())["responses"]
    [story] = yaml.safe_load(stories.read_text())["stories"]
    steps = story["steps"]
    assert steps[0]["intent"] == "greet"
    order_question = next(i for i, step in enumerate(steps) if step.get("intent") == "check_order_status")
    assert next(step for step in steps[order_question:] if "action" in step) == {"action": CORRECTION}
