"""One integration test per Rasa command, all on the session's trained demo model.

Interactive commands (`rasa shell`, `rasa shell nlu`, `rasa interactive`) run in a tmux pane
(prompt_toolkit needs a real terminal) and are driven by what the screen shows, with a timeout
on every wait instead of fixed sleeps.
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Text

import pytest
import yaml

from scripts.environment import rapport_env
from scripts.servers import _terminate_with_parent, group_members
from tests.integration.conftest import REPO, RunningAssistant

TEST_STORY_FILES = sorted((REPO / "tests").glob("test_stories*.yml"))
TMUX = shutil.which("tmux") or "/usr/bin/tmux"


def rasa_env(**extra: Text) -> Dict[Text, Text]:
    """The environment `make` gives Rasa (rapport.env: offline, no telemetry, quiet TensorFlow)."""
    return {**os.environ, **rapport_env(), **extra}


def run_in(args: List[Text], cwd: Path, env: Dict[Text, Text], timeout: float = 1500) -> Text:
    """Run a command in `cwd`; fail the test with its output if it fails."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output[-6000:]}"
    return output


class Terminal:
    """A command in a tmux pane (its own tmux server, 200 x 50): the screen a person sees, read
    with `capture-pane`, and their keys, typed with `send-keys`.

    A screen, not a stream of output: prompt_toolkit (questionary, `rasa shell`) redraws a
    prompt when it is answered, so in the stream the question appears again after the answer,
    and a driver waiting there for "the next question" answers it before it is asked (that
    typed-ahead key then answers the wrong prompt: why `rasa interactive` failed in a bare
    pty). On the screen an answered prompt is one line that shows its answer. tmux also
    answers prompt_toolkit's cursor position requests as a terminal does.
    """

    def __init__(self, args: List[Text], cwd: Path, env: Dict[Text, Text], log: Path) -> None:
        self.log = log
        self._directory = Path(tempfile.mkdtemp(prefix="rapport-tmux-"))  # a short socket path
        self._socket = str(self._directory / "socket")
        # In the foreground (-D) as this process's child: it gets SIGTERM if pytest dies, and
        # takes the command down with it (SIGHUP).
        self._server = subprocess.Popen(
            [TMUX, "-D", "-S", self._socket, "-f", "/dev/null"], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_terminate_with_parent,
        )
        self.pid = 0
        self.screen = ""
        try:
            _wait_until(lambda: Path(self._socket).is_socket(), 30, "tmux did not start")
            self._tmux(
                "set-option", "-g", "history-limit", "100000", ";",
                "set-option", "-g", "remain-on-exit", "on", ";",  # keep the last screen to read
                "new-session", "-d", "-x", "200", "-y", "50", "-c", str(cwd), "--", *args,
            )
            self.pid = int(self._show("pane_pid"))  # a session leader: its process group id too
        except BaseException:
            self.close()
            raise

    def _tmux(self, *args: Text) -> Text:
        return subprocess.run(
            [TMUX, "-S", self._socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def _show(self, *variables: Text) -> Text:
        """tmux's values of the pane's `variables` (pane_pid, cursor_y...), space-separated."""
        return self._tmux("display-message", "-p", " ".join(f"#{{{v}}}" for v in variables)).strip()

    def _capture(self, *lines: Text) -> Text:
        # -J: a line the terminal wrapped is one line again
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", *lines)

    def _refresh(self) -> None:
        self.screen = self._capture().rstrip()

    def _closed(self) -> bool:
        """The command closed its terminal (exited): nothing more will appear."""
        return self._show("pane_dead") == "1"

    def expect(self, pattern: Text, timeout: float = 300, since: int = 0) -> "re.Match":
        """Wait until `pattern` appears on the screen (scrollback included) after `since`."""
        regex = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            closed = self._closed()
            self._refresh()
            found = regex.search(self.screen, since)
            if found:
                return found
            if closed or time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} did not appear within {timeout} s (command exited: {closed});"
                    f" the terminal showed:\n{self.screen[-5000:]}"
                )
            time.sleep(0.2)

    def wait_for_exit(self, timeout: float = 300) -> None:
        """Wait until the command and everything it started have exited.

        Read from /proc, not from tmux: tmux 3.3 calls a pane dead once its terminal closes,
        and then may never learn the exit status.
        """
        self._refresh()
        _wait_until(lambda: not group_members(self.pid), timeout,
                    f"still running after {timeout} s; the terminal showed:\n{self.screen[-3000:]}")
        self._refresh()

    def send(self, *keys: Text) -> int:
        """Press `keys`: tmux key names (Enter, Down, C-c) or text, typed as it is.

        Returns where the screen's current line starts: the lines above it do not change any
        more, so `expect(..., since=)` finds only what comes after.
        """
        history, cursor_y = map(int, self._show("history_size", "cursor_y").split())
        # -E: the last line to capture, counted from the top of the screen (negative: scrollback)
        mark = len(self._capture("-E", str(cursor_y - 1))) if history + cursor_y else 0
        self._tmux("send-keys", *keys)
        return mark

    def close(self, grace: float = 20) -> None:
        """Stop the command (SIGTERM, then SIGKILL) and the tmux server; keep the screen in `log`."""
        with contextlib.suppress(subprocess.CalledProcessError):  # tmux may not have started
            self._refresh()
        self.log.write_text(self.screen + "\n", encoding="utf-8")
        for stop in (signal.SIGTERM, signal.SIGKILL):
            if not self.pid or not group_members(self.pid):
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, stop)
            _wait_until(lambda: not group_members(self.pid), grace)
        self._server.terminate()
        try:
            self._server.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        shutil.rmtree(self._directory, ignore_errors=True)


def _wait_until(condition: Callable[[], bool], timeout: float, failure: Text = "") -> bool:
    """Poll `condition` until it holds; False after `timeout` (AssertionError if `failure`)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            if failure:
                raise AssertionError(failure)
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def terminal(tmp_path: Path):
    """Start commands in tmux panes; each (and its tmux server) is stopped when the test ends."""
    started: List[Terminal] = []

    def start(args: List[Text], cwd: Path = REPO, env: Optional[Dict[Text, Text]] = None) -> Terminal:
        session = Terminal(args, cwd, env or rasa_env(), tmp_path / f"terminal-{len(started)}.log")
        started.append(session)
        return session

    yield start
    for session in started:
        session.close()


@pytest.fixture(scope="session")
def test_stories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with every demo test story file (tests/ itself also holds Python files)."""
    directory = tmp_path_factory.mktemp("test_stories")
    for path in TEST_STORY_FILES:
        shutil.copy(path, directory / path.name)
    return directory


def reduced_epochs(config: Dict, epochs: int) -> Dict:
    """config.yml with every component that trains in epochs cut to `epochs` (CI time)."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    def cut(item: Dict) -> Dict:
        component = DefaultV1Recipe._from_registry(item["name"]).clazz
        return {**item, "epochs": epochs} if "epochs" in component.get_default_config() else item

    return {
        **config,
        "pipeline": [cut(item) for item in config["pipeline"]],
        "policies": [cut(item) for item in config["policies"]],
    }


@pytest.fixture(scope="session")
def quick_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of config.yml with 10 epochs for every component that trains in epochs; for the
    commands that must train (cross-validation), so that CI stays lean."""
    config = yaml.safe_load((REPO / "config.yml").read_text())
    path = tmp_path_factory.mktemp("quick_config") / "config.yml"
    path.write_text(yaml.safe_dump(reduced_epochs(config, 10), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def nlu_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's NLU data cut to its first 8 examples per intent (every intent, entity,
    synonym, regex and lookup table kept): what cross-validation needs to exercise every
    component in each fold, at a third of the featurizing and training."""
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = TrainingDataImporter.load_from_dict(training_data_paths=[str(REPO / "data")]).get_nlu_data()
    kept: Dict[Text, int] = {}
    sample = []
    for example in data.training_examples:
        intent = example.get("intent")
        if intent is not None and kept.get(intent, 0) < 8:
            kept[intent] = kept.get(intent, 0) + 1
            sample.append(example)
    cut = TrainingData(sample, data.entity_synonyms, data.regex_features, data.lookup_tables)
    path = tmp_path_factory.mktemp("nlu_sample") / "nlu.yml"
    path.write_text(cut.nlu_as_yaml())
    return path


def actions_url(assistant: RunningAssistant) -> Text:
    """The webhook of the session's running action server (it has its own orders database)."""
    args = assistant.actions.args
    return f"http://127.0.0.1:{args[args.index('--port') + 1]}/webhook"


def endpoints_file(directory: Path, **sections: Dict) -> Path:
    path = directory / "endpoints.yml"
    path.write_text(yaml.safe_dump(sections))
    return path

















