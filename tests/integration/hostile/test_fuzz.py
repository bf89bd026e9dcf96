"""Short fuzz mode over real HTTP and socket.io against the assistant as configured for the public
(a few hundred cases per entry point; the full run with 10,000 is bench/fuzz.py).

A case fails on an HTTP 5xx, a dropped connection, no answer within two minutes, or a new error
line or traceback in the server's log.
"""
import re
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings

from tests.fuzz import inputs, targets
from tests.integration.hostile.conftest import MESSAGES_PER_MINUTE, GuardedAssistant

# Cases per entry point in `make test` (the full run: bench/fuzz.py, 10,000 each).
CASES = {"rest": 200, "parse": 150, "actions": 150, "socketio": 15}
# Unhandled exceptions: tracebacks and the servers' "exception occurred" lines. (An action's own
# ERROR message about a call Rasa would never make, e.g. a form submitted without slots, is not.)
ERROR_LINE = re.compile(r"Traceback \(most recent call last\)|Exception occurred|Exception in |Task exception")


def short(cases: int) -> settings:
    return settings(
        max_examples=cases, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
    )


# rasa_sdk's own line for a call naming no registered action, which it answers with 404.
HANDLED = "No registered action found"


def error_lines(log: Path) -> list:
    return [
        line for line in log.read_text(errors="replace").splitlines()
        if ERROR_LINE.search(line) and HANDLED not in line
    ]


@pytest.fixture
def no_new_errors_in(guarded_assistant: GuardedAssistant) -> Iterator[None]:
    logs = [guarded_assistant.rasa_log, guarded_assistant.actions_log]
    before = {log: len(error_lines(log)) for log in logs}
    yield
    for log in logs:
        assert error_lines(log)[before[log]:] == [], f"new errors in {log.name}"


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


@short(CASES["rest"])
@given(body=inputs.rest_bodies())
def test_fuzz_rest_channel(
    guarded_assistant: GuardedAssistant, session: requests.Session, no_new_errors_in: None, body: bytes
) -> None:
    assert targets.rest(guarded_assistant.url, body, session) in {200, 400, 413, 429}


@short(CASES["parse"])
@given(text=inputs.texts())
def test_fuzz_trained_pipeline_parse(
    guarded_assistant: GuardedAssistant, session: requests.Session, no_new_errors_in: None, text: str
) -> None:
    """/model/parse runs `Agent.parse_message` on the whole trained pipeline; a text over the
    REST channel's 2000 characters is refused first (channels/api_limits.py)."""
    assert targets.parse(guarded_assistant.url, text, session) == (413 if len(text) > 2000 else 200)


@short(CASES["actions"])
@given(body=inputs.action_server_bodies())
def test_fuzz_action_server(
    guarded_assistant: GuardedAssistant, session: requests.Session, no_new_errors_in: None, body: bytes
) -> None:
    assert targets.action_server(guarded_assistant.actions_url, body, session) < 500


@pytest.fixture(scope="module")
def socket_state() -> Iterator[Dict[str, Any]]:
    state: Dict[str, Any] = {"target": None, "sent": 0}
    yield state
    if state["target"] is not None:
        state["target"].close()


@short(CASES["socketio"])
@given(payload=inputs.socketio_payloads())
def test_fuzz_socketio_channel(
    guarded_assistant: GuardedAssistant, socket_state: Dict[str, Any], no_new_errors_in: None, payload: Any
) -> None:
    # A new conversation before the per-conversation limit is reached.
    if socket_state["target"] is None or socket_state["sent"] >= MESSAGES_PER_MINUTE - 1:
        if socket_state["target"] is not None:
            socket_state["target"].close()
        socket_state["target"] = targets.SocketIOTarget(guarded_assistant.url)
        socket_state["sent"] = 0
    socket_state["sent"] += 1
    # 413: a packet over max_body_kb, dropped by Engine.IO; the next connection still works.
    assert socket_state["target"].send(payload) in {200, 413}
