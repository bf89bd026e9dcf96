"""One integration test per Rasa command, all on the session's trained demo model.

Interactive commands (`rasa shell`, `rasa shell nlu`) run in a pseudo-terminal
(the standard library's `pty`: prompt_toolkit needs a real terminal) and are driven by what
they print, with a timeout on every wait instead of fixed sleeps.
"""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Dict, List, Optional, Text

import pytest
import yaml

from scripts.environment import rapport_env
from scripts.servers import _terminate_with_parent, group_members
from tests.integration.conftest import REPO, RunningAssistant

TEST_STORY_FILES = sorted((REPO / "tests").glob("test_stories*.yml"))
# CSI/OSC escape sequences and the odd control characters prompt_toolkit writes.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>]|[\x07\x08\r]")


def rasa_env(**extra: Text) -> Dict[Text, Text]:
    """The environment `make` gives Rasa (rapport.env: offline, no telemetry, quiet TensorFlow)."""
    return {**os.environ, **rapport_env(), **extra}


def run_in(args: List[Text], cwd: Path, env: Dict[Text, Text], timeout: float = 1500) -> Text:
    """Run a command in `cwd`; fail the test with its output if it fails."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output[-6000:]}"
    return output


def plain(text: Text) -> Text:
    return _ESCAPES.sub("", text)


class Terminal:
    """A command in a pseudo-terminal: wait for what it prints, type into it."""

    def __init__(self, args: List[Text], cwd: Path, env: Dict[Text, Text], log: Path) -> None:
        self.log = log
        self.screen = ""
        master, slave = pty.openpty()
        # 50 x 200 characters: Rasa's tables and prompt_toolkit ask the terminal for its size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.set_blocking(master, False)
        env = {**env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"}
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=_terminate_with_parent, close_fds=True,
        )
        os.close(slave)
        self.master = master

    def _read(self, wait: float) -> None:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 65536).decode("utf-8", "replace")
        except OSError:  # the command exited and the terminal closed
            return
        # prompt_toolkit asks for the cursor position; answer, or it waits and warns
        if "\x1b[6n" in chunk:
            os.write(self.master, b"\x1b[1;1R")
        self.screen += plain(chunk)
        with self.log.open("a", encoding="utf-8") as log:
            log.write(plain(chunk))

    def expect(self, pattern: Text, timeout: float = 300, since: int = 0) -> "re.Match":
        """Wait until `pattern` appears in the output after position `since`."""
        regex = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = regex.search(self.screen, since)
            if found:
                return found
            if self.process.poll() is not None:
                self._read(0.1)
                found = regex.search(self.screen, since)
                if found:
                    return found
                break
            self._read(0.5)
        raise AssertionError(
            f"{pattern!r} did not appear within {timeout} s (exit code {self.process.poll()});"
            f" the terminal showed:\n{self.screen[-5000:]}"
        )

    def send(self, keys: Text) -> int:
        """Type `keys`; returns the output position before them, for `expect(..., since=)`."""
        mark = len(self.screen)
        os.write(self.master, keys.encode())
        return mark

    def close(self, grace: float = 20) -> None:
        pgid = self.process.pid
        if group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path: Path):
    """Start commands in pseudo-terminals; each is stopped when the test ends."""
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
    """A copy of config.yml with 5 epochs for every component that trains in epochs; for the
    commands that must train (cross-validation), so that CI stays lean."""
    config = yaml.safe_load((REPO / "config.yml").read_text())
    path = tmp_path_factory.mktemp("quick_config") / "config.yml"
    path.write_text(yaml.safe_dump(reduced_epochs(config, 5), sort_keys=False))
    return path


def actions_url(assistant: RunningAssistant) -> Text:
    """The webhook of the session's running action server (it has its own orders database)."""
    args = assistant.actions.args
    return f"http://127.0.0.1:{args[args.index('--port') + 1]}/webhook"


def endpoints_file(directory: Path, **sections: Dict) -> Path:
    path = directory / "endpoints.yml"
    path.write_text(yaml.safe_dump(sections))
    return path

















