"""Real parts for integration tests: the demo assistant trained once per session by `rasa train`,
and a running assistant (action server + `rasa run`) on free loopback ports with its own
orders database and SQL tracker store.
"""
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Text

import pytest
import yaml

from scripts.servers import Server, free_port
from tests.integration import demo_model
from tests.integration.demo_model import RASA

REPO = Path(__file__).resolve().parents[2]


def run(args: List[Text], env: Optional[Dict[Text, Text]] = None, timeout: float = 1500) -> Text:
    """Run a command from the repo root; fail the test with its output if it fails."""
    result = subprocess.run(
        args, cwd=REPO, env=env or os.environ.copy(), capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output[-6000:]}"
    return output


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo assistant, trained from config.yml, domain.yml and data/ exactly as `make train`
    does, once per run, in the background since collection (tests/integration/demo_model.py)."""
    return demo_model.model(tmp_path_factory)


@dataclass
class RunningAssistant:
    """`rasa run` with the REST and socket.io channels and the HTTP API, plus its action server."""

    url: Text
    rasa: Server
    actions: Server
    database_url: Text
    tracker_db: Path

    @contextlib.contextmanager
    def second_server(self) -> Iterator["RunningAssistant"]:
        """Another `rasa run` on the same model, tracker store and action server.

        For tests that stop a server or need a fresh process: they use this one and leave the
        shared server alone. It stops when the `with` block ends.
        """
        port = free_port()
        args = self.rasa.args[:-2] + ["--port", str(port)]  # the shared one ends with --port N
        server = Server(args, self.rasa.env, self.rasa.log.with_name(f"rasa-{port}.log"))
        url = f"http://127.0.0.1:{port}"
        server.start(f"{url}/status", timeout=600)
        try:
            yield RunningAssistant(url, server, self.actions, self.database_url, self.tracker_db)
        finally:
            server.stop()


@pytest.fixture(scope="session")
def launched_assistant(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAssistant]:
    """The action server, ready, and `rasa run`, launched but maybe still loading the model.

    Loading takes a minute or more; a test that only needs the model file (`rasa test core`)
    asks for this fixture so that the server loads on the other core in the meantime.
    """
    work = tmp_path_factory.mktemp("assistant")
    env = os.environ.copy()
    env["RAPPORT_DATABASE_URL"] = f"sqlite:///{work / 'orders.db'}"
    run([sys.executable, "-m", "actions.db", "init"], env=env)

    actions_port, rasa_port = free_port(), free_port()
    endpoints = yaml.safe_load((REPO / "endpoints.yml").read_text())
    endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{actions_port}/webhook"}
    endpoints["tracker_store"] = {"type": "SQL", "dialect": "sqlite", "db": str(work / "trackers.db")}
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints))

    actions = Server(
        [RASA, "run", "actions", "--port", str(actions_port)], env, work / "actions.log"
    )
    rasa = Server(
        [RASA, "run", "-m", str(trained_model), "--enable-api", "--endpoints",
         str(work / "endpoints.yml"), "--credentials", "credentials.yml", "--cors", "*",
         "--port", str(rasa_port)],
        env, work / "rasa.log",
    )
    actions.start(f"http://127.0.0.1:{actions_port}/health")
    try:
        rasa.launch()
        yield RunningAssistant(
            f"http://127.0.0.1:{rasa_port}", rasa, actions, env["RAPPORT_DATABASE_URL"],
            work / "trackers.db",
        )
    finally:
        rasa.stop()
        actions.stop()


@pytest.fixture(scope="session")
def running_assistant(launched_assistant: RunningAssistant) -> RunningAssistant:
    """The assistant, answering: `rasa run` has loaded the model."""
    launched_assistant.rasa.wait_until_ready(f"{launched_assistant.url}/status", timeout=600)
    return launched_assistant
