"""`rasa shell nlu`, `rasa shell` and `rasa interactive`, typed into a pseudo-terminal as a person
would, on the session's demo model and the session's action server."""
import json
import re
import sys
from pathlib import Path

import yaml

from scripts.servers import free_port
from tests.integration.commands.conftest import actions_url, endpoints_file, rasa_env
from tests.integration.conftest import RASA, RunningAssistant

DOWN, ENTER = "\x1b[B", "\r"


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
    shell.expect(r"You're right to be annoyed.*Your input ->", since=mark)
    shell.send("/stop\r")


def test_rasa_interactive_corrects_a_prediction_and_exports_the_story(
    trained_model: Path, running_assistant: RunningAssistant, terminal, tmp_path: Path
) -> None:
    """The policies' prediction after "hello" is rejected and another action picked from the
    list; the corrected conversation is exported as a story."""
    endpoints = endpoints_file(tmp_path, action_endpoint={"url": actions_url(running_assistant)})
    session = terminal([RASA, "interactive", "-m", str(trained_model), "--endpoints",
                        str(endpoints), "-p", str(free_port()), "--skip-visualization"])
    session.expect("Your input ->", timeout=600)
    mark = session.send("hello" + ENTER)
    session.expect(r"classified 'hello' with intent 'greet'.*?\?", since=mark)
    mark = session.send("y")
    predicted = session.expect(r"The bot wants to run '(\w+)', correct\?", since=mark).group(1)
    mark = session.send("n")
    session.expect(r"What is the next action of the bot\?", since=mark)
    # <create new action>, then the policies' scores, best first: take the third best
    mark = session.send(DOWN * 3 + ENTER)
    chosen = session.expect(r"The bot will now run (\w+)\.", since=mark).group(1)
    assert chosen != predicted
    for _ in range(6):  # accept what follows until the bot listens
        found = session.expect(r"The bot wants to run '(\w+)', correct\?|Your input ->", since=mark)
        if found.group(0) == "Your input ->":
            break
        mark = session.send("y")
    mark = session.send("\x03")  # Ctrl-C opens the exit menu
    session.expect("Do you want to stop?", since=mark)
    mark = session.send(DOWN * 4 + ENTER)  # Export & Quit
    stories, nlu, domain = tmp_path / "stories.yml", tmp_path / "nlu.yml", tmp_path / "domain.yml"
    for path, question in ((stories, "Export stories to"), (nlu, "Export NLU data to"),
                           (domain, "Export domain file to")):
        session.expect(question, since=mark)
        mark = session.send("\x15" + str(path) + ENTER)  # Ctrl-U clears the default path
    session.wait_for_exit(timeout=300)

    [story] = yaml.safe_load(stories.read_text())["stories"]
    steps = story["steps"]
    assert steps[0]["intent"] == "greet"
    # the bot's first action is the corrected one
    assert [step for step in steps if "action" in step][0] == {"action": chosen}
