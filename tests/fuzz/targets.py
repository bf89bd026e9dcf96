"""Send one fuzz case to one entry point of a running assistant over real HTTP / socket.io.

Each function returns the HTTP status (socket.io: 200 when the server acknowledged the event)
and raises `EntryPointFailed` for what counts as a crash: a 5xx, a dropped connection, or no
answer within the timeout. Shared by the short mode (tests/integration/hostile/test_fuzz.py)
and the full run (bench/fuzz.py).
"""
import json
import time
import uuid
from typing import Any, Optional, Text

import requests

TIMEOUT = 120.0


class EntryPointFailed(AssertionError):
    """The entry point crashed on a case (5xx, connection dropped, or no answer)."""


def _post(url: Text, body: bytes, session: Optional[requests.Session] = None) -> int:
    try:
        response = (session or requests).post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
        )
    except requests.RequestException as error:
        raise EntryPointFailed(f"{url}: {type(error).__name__}: {error}") from error
    if response.status_code >= 500:
        raise EntryPointFailed(f"{url}: HTTP {response.status_code}: {response.text[:500]}")
    return response.status_code


def rest(base_url: Text, body: bytes, session: Optional[requests.Session] = None) -> int:
    return _post(f"{base_url}/webhooks/rest/webhook", body, session)


def parse(base_url: Text, text: Text, session: Optional[requests.Session] = None) -> int:
    """Rasa's HTTP API /model/parse: `Agent.parse_message` on the trained pipeline."""
    body = json.dumps({"text": text}).encode("utf-8", errors="surrogatepass")
    return _post(f"{base_url}/model/parse", body, session)


def action_server(actions_url: Text, body: bytes, session: Optional[requests.Session] = None) -> int:
    return _post(f"{actions_url}/webhook", body, session)


class SocketIOTarget:
    """One socket.io client in one conversation, as the web chat page connects."""

    def __init__(self, base_url: Text, max_packet_bytes: int = 64 * 1024) -> None:
        self.base_url = base_url
        self.max_packet_bytes = max_packet_bytes
        self.session_id = f"fuzz-{uuid.uuid4().hex}"
        self.client = self._connect()

    def _connect(self) -> Any:
        import socketio

        client = socketio.Client(reconnection=False)
        client.connect(self.base_url, transports=["polling"], socketio_path="/socket.io")
        client.call("session_request", {"session_id": self.session_id}, timeout=TIMEOUT)
        return client

    def send(self, payload: Any) -> int:
        """200 when the server acknowledged the event; 413 when the packet was over the size
        limit, the server dropped it and a new connection to the same conversation works."""
        if isinstance(payload, dict) and "session_id" not in payload:
            payload = {**payload, "session_id": self.session_id}
        payload = _json_safe(payload)
        if len(json.dumps(payload)) + 64 > self.max_packet_bytes:
            # Engine.IO refuses the packet and the client drops the connection (about 0.1 s);
            # waiting for an acknowledgement instead took 10 s a case.
            self.client.emit("user_uttered", payload)
            deadline = time.monotonic() + 10
            while self.client.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            self.close()
            try:
                self.client = self._connect()
            except Exception as error:
                raise EntryPointFailed(f"socket.io: no new connection after a big packet: {error}") from error
            return 413
        try:
            self.client.call("user_uttered", payload, timeout=TIMEOUT)
        except Exception as error:  # socketio.exceptions.TimeoutError, disconnects
            raise EntryPointFailed(f"socket.io: {type(error).__name__}: {error}") from error
        if not self.client.connected:
            raise EntryPointFailed("socket.io: the server closed the connection")
        return 200

    def close(self) -> None:
        """Leave without waiting for the pending long-poll request to return: over the polling
        transport a plain disconnect waits up to the server's ping interval (25 s)."""
        self.client.eio.disconnect(abort=True)


def _json_safe(value: Any) -> Any:
    """What a browser can send: JSON.stringify turns a lone surrogate into an escape, and the
    Python client must not fail before the server sees it."""
    return json.loads(json.dumps(value))
