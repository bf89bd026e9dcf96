"""The /metrics exporters: `rasa run`'s (channels/metrics.py, served by a real Sanic app that
Rasa's configure_app builds from the channel list) and the processor instrumentation."""
import asyncio
import urllib.error
import urllib.request

import pytest
from prometheus_client import REGISTRY
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.run import configure_app

from channels import metrics
from scripts.servers import free_port


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("path, channel", [
    ("/webhooks/rest/webhook", "rest"), ("/webhooks/telegram/webhook", "telegram"),
    ("/socket.io/", "socketio"), ("/conversations/x/tracker", "api"), ("/", "api"),
    ("/metrics", "metrics"), ("/webhooks/", "api"),
])
def test_channel_of_a_path(path, channel):
    assert metrics.channel_of(path) == channel


def test_rasa_app_serves_metrics_and_counts_requests_per_channel():
    app = configure_app([metrics.MetricsInput(), RestInput()], enable_api=False, port=0)
    port = free_port()
    before = sample("rasa_http_requests_total", channel="rest", method="GET", status="200")

    def get(path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    async def main():
        server = await app.create_server(host="127.0.0.1", port=port,
                                         return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        loop = asyncio.get_running_loop()
        try:
            health = await loop.run_in_executor(None, get, "/webhooks/rest/")
            missing = await loop.run_in_executor(None, get, "/no/such/path")
            exported = await loop.run_in_executor(None, get, "/metrics")
        finally:
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()
        return health, missing, exported

    health, missing, (status, body) = asyncio.run(main())
    assert health[0] == 200 and missing[0] == 404 and status == 200
    assert sample("rasa_http_requests_total", channel="rest", method="GET", status="200") == before + 1
    assert 'rasa_http_requests_total{channel="api",method="GET",status="404"}' in body
    assert 'rasa_http_request_duration_seconds_count{channel="rest"}' in body


class Processor:
    """The two MessageProcessor methods the exporter wraps, with their real signatures."""

    class model_metadata:  # noqa: N801 (mirrors the attribute)
        model_id = "model-123"

    def __init__(self, parse_data):
        self.parse_data = parse_data
        self.ran = []

    async def parse_message(self, message, tracker=None, only_output_properties=True):
        return self.parse_data

    async def _run_action(self, action, tracker, output_channel, nlg, prediction):
        self.ran.append(action.name())
        return True


class Action:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


def test_instrumented_processor_counts_messages_emotions_fallbacks_handoffs():
    processor = Processor({"intent": {"name": "nlu_fallback", "confidence": 0.21},
                           "emotion": {"name": "anger", "confidence": 0.9}})
    metrics.instrument(processor)
    metrics.instrument(processor)  # idempotent: one wrapper, not two
    before = {
        "messages": sample("rasa_user_messages_total", channel="socketio"),
        "anger": sample("rasa_emotions_total", emotion="anger"),
        "nlu": sample("rasa_fallbacks_total", kind="nlu"),
        "core": sample("rasa_fallbacks_total", kind="core"),
        "handoffs": sample("rasa_handoffs_total"),
        "confidence": sample("rasa_nlu_intent_confidence_count"),
    }
    message = UserMessage("some text", sender_id="s1", input_channel="socketio")
    parsed = asyncio.run(processor.parse_message(message, tracker=object()))
    asyncio.run(processor.parse_message(message))  # /model/parse: no tracker, not counted
    for name in ("action_handoff", "action_default_fallback", "utter_greet"):
        assert asyncio.run(processor._run_action(Action(name), None, None, None, None))
    assert parsed == processor.parse_data and processor.ran[-1] == "utter_greet"
    assert sample("rasa_user_messages_total", channel="socketio") == before["messages"] + 1
    assert sample("rasa_emotions_total", emotion="anger") == before["anger"] + 1
    assert sample("rasa_fallbacks_total", kind="nlu") == before["nlu"] + 1
    assert sample("rasa_fallbacks_total", kind="core") == before["core"] + 1
    assert sample("rasa_handoffs_total") == before["handoffs"] + 1
    assert sample("rasa_nlu_intent_confidence_count") == before["confidence"] + 1
    assert sample("rasa_model_info", model_id="model-123", rasa_version=metrics.rasa.__version__) == 1


def test_odd_parse_data_is_counted_without_crashing():
    for parse_data in ({}, {"intent": None, "emotion": "anger"}, {"intent": {"confidence": "x"}}):
        processor = Processor(parse_data)
        metrics.instrument(processor)
        message = UserMessage("", sender_id="s", input_channel=None)
        assert asyncio.run(processor.parse_message(message, tracker=object())) == parse_data



@pytest.mark.slow
def test_action_server_serves_metrics_per_action(tmp_path):
    """`rasa run actions` (with our plugin, found by rasa_sdk's own discovery) on a free port:
    a known action and a made-up one, then its /metrics."""
    import json
    import os
    import re
    import sys
    from pathlib import Path

    from scripts.servers import Server

    port = free_port()
    env = {**os.environ, "RAPPORT_DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}"}
    env.pop("RAPPORT_ACTION_SERVER_TOKEN", None)
    server = Server([str(Path(sys.executable).parent / "rasa"), "run", "actions", "--port",
                     str(port)], env, tmp_path / "actions.log")
    server.start(f"http://127.0.0.1:{port}/health", timeout=240)

    def post(action):
        body = json.dumps({"next_action": action, "sender_id": "s", "domain": {},
                           "tracker": {"sender_id": "s", "events": [], "slots": {},
                                       "latest_message": {}}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        assert (post("action_default_fallback"), post("action_" + "x" * 300)) == (200, 404)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
            exported = reply.read().decode()
    finally:
        server.stop()
    calls = dict(re.findall(r'^rasa_sdk_action_calls_total\{(.+)\} (\S+)$', exported, re.M))
    assert calls == {'action="action_default_fallback",status="200"': "1.0",
                     'action="unknown",status="404"': "1.0"}  # a made-up name is no label
    assert 'rasa_sdk_action_duration_seconds_count{action="action_default_fallback"} 1.0' in exported
