"""The documented production settings (docs/deploy.md) really lock the servers:

- the action server, with RAPPORT_ACTION_SERVER_TOKEN set, answers only calls that carry the
  bearer token, and Rasa's own action-endpoint client sends it from endpoints.yml;
- `rasa run --enable-api --auth-token` refuses the HTTP API without the token, and refuses a
  text to parse that is longer than the channels allow.
"""
import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Text, Tuple

import pytest
import yaml
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import ClientResponseError

from rasa_sdk_plugins import TOKEN_ENV, token_is_valid
from scripts.servers import Server, free_port

REPO = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).parent / "rasa")
TOKEN = "test-action-token-7f3a"

# The production action_endpoint of docs/deploy.md (unquoted, so that Rasa expands ${...}).
PRODUCTION_ENDPOINTS = """\
action_endpoint:
  url: http://127.0.0.1:{port}/webhook
  headers:
    Authorization: Bearer ${{RAPPORT_ACTION_SERVER_TOKEN}}
"""


def http_status(url: Text, headers: Optional[Dict[Text, Text]] = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "header, valid",
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        ("Bearer wrong", False),
        (f"Bearer {TOKEN}x", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
        ("", False),
        (None, False),
        ("Bearer 🙂\x00", False),
    ],
)
def test_token_check(header: Optional[Text], valid: bool) -> None:
    assert token_is_valid(header, TOKEN) is valid


@pytest.fixture(scope="module")
def locked_action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`rasa run actions` with the token set, on loopback only, with its own orders database."""
    work = tmp_path_factory.mktemp("locked_actions")
    env = os.environ.copy()
    env.update({
        "RAPPORT_DATABASE_URL": f"sqlite:///{work / 'orders.db'}",
        TOKEN_ENV: TOKEN,
        "SANIC_HOST": "127.0.0.1",
    })
    subprocess.run([sys.executable, "-m", "actions.db", "init"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = Server([RASA, "run", "actions", "--port", str(port)], env, work / "actions.log")
    server.start(f"http://127.0.0.1:{port}/health")
    try:
        yield port
    finally:
        server.stop()


def order_status_call() -> Dict[Text, Any]:
    """What Rasa posts to the action server for "where is my order A1001?"."""
    return {
        "next_action": "action_order_status",
        "sender_id": "security-test",
        "tracker": {
            "sender_id": "security-test",
            "slots": {"order_id": "A1001"},
            "latest_message": {
                "text": "where is my order A1001?",
                "intent": {"name": "check_order_status", "confidence": 1.0},
                "entities": [{"entity": "order_id", "value": "A1001"}],
            },
            "events": [],
        },
        "domain": {},
    }


def test_action_server_refuses_calls_without_the_token(locked_action_server: int) -> None:
    base = f"http://127.0.0.1:{locked_action_server}"
    assert http_status(f"{base}/health") == 200  # health checks stay open
    assert http_status(f"{base}/actions") == 401
    assert http_status(f"{base}/actions", {"Authorization": "Bearer wrong"}) == 401
    assert http_status(f"{base}/actions", {"Authorization": f"Bearer {TOKEN}"}) == 200


def test_rasa_sends_the_token_from_endpoints_yml(
    locked_action_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints_file = tmp_path / "endpoints.yml"
    endpoints_file.write_text(PRODUCTION_ENDPOINTS.format(port=locked_action_server))

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    action_endpoint = AvailableEndpoints.read_endpoints(str(endpoints_file)).action
    result = asyncio.run(action_endpoint.request(json=order_status_call(), method="post"))
    reply = " ".join(response.get("text") or "" for response in result["responses"])
    assert "A1001" in reply and "shipped" in reply

    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    wrong_endpoint = AvailableEndpoints.read_endpoints(str(endpoints_file)).action
    with pytest.raises(ClientResponseError) as refused:
        asyncio.run(wrong_endpoint.request(json=order_status_call(), method="post"))
    assert refused.value.status == 401


def post(url: Text, body: Dict[Text, Any]) -> Tuple[int, Dict[Text, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_http_api_needs_the_auth_token_and_limits_the_text_it_parses(tmp_path: Path) -> None:
    """The production flags and channels, without a model: authentication is checked before
    anything the model would do, and a text the API would parse is held to the REST channel's
    `max_message_chars` (channels/api_limits.py) before that."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the channels of credentials.yml
    server = Server(
        [RASA, "run", "--enable-api", "--auth-token", TOKEN, "--port", str(port),
         "--interface", "127.0.0.1", "-m", str(tmp_path / "no-models"),
         "--credentials", str(REPO / "credentials.yml")],
        # Not from the repo: given no model, Rasa falls back to ./models, which `make demo` fills.
        env, tmp_path / "rasa.log", cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    server.start(f"{base}/version")
    try:
        assert http_status(f"{base}/conversations/someone/tracker") == 401
        assert http_status(f"{base}/status?token=wrong") == 401
        # with the token the request gets past authentication (409: no model loaded)
        assert http_status(f"{base}/conversations/someone/tracker?token={TOKEN}") == 409

        limit = yaml.safe_load((REPO / "credentials.yml").read_text())[
            "channels.idempotent_rest.IdempotentRestInput"]["max_message_chars"]
        status, reply = post(f"{base}/model/parse?token={TOKEN}", {"text": "x" * 1_000_000})
        assert status == 413 and reply["reason"] == "MessageTooLong"
        assert reply["message"] == (f"The text is too long (1000000 characters); the limit is "
                                    f"{limit} characters.")
        status, reply = post(f"{base}/conversations/a/b/messages?token={TOKEN}",
                             {"text": "y" * (limit + 1), "sender": "user"})
        assert status == 413 and reply["details"]["limit"] == limit
        # at the limit the text reaches Rasa's route (409: no model to parse it with)
        assert post(f"{base}/model/parse?token={TOKEN}", {"text": "x" * limit})[0] == 409
        assert post(f"{base}/model/parse", {"text": "hello"})[0] == 401
    finally:
        server.stop()
