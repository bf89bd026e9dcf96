"""The demo assistant as the repository configures it for the public: the masking tracker store
of endpoints.yml (on its own SQLite file), a masking event broker around the pika broker of
endpoints.production.yml publishing to a queue of its own on the real RabbitMQ, the limited channels of credentials.yml, and its own action server and
orders database (the fuzzing cancels orders; the shared assistant's must stay as seeded).

It loads the session's trained model once for every test in this folder.
"""
import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Text

import pytest
import yaml

from scripts.servers import Server, free_port
from tests.integration.conftest import RASA, REPO, run

RABBITMQ = {"url": "127.0.0.1", "port": 5672, "username": "guest", "password": "guest"}
MESSAGES_PER_MINUTE = 6  # low, so that the rate-limit test needs few messages


@dataclass
class GuardedAssistant:
    url: Text
    actions_url: Text
    tracker_db: Path
    queue: Text
    rasa_log: Path
    actions_log: Path

    def published_events(self) -> List[bytes]:
        """Everything on the broker queue so far (consumed)."""
        return asyncio.run(_drain(self.queue))


async def _drain(queue_name: Text) -> List[bytes]:
    import aio_pika

    connection = await aio_pika.connect_robust(
        host=RABBITMQ["url"], port=RABBITMQ["port"], login=RABBITMQ["username"],
        password=RABBITMQ["password"],
    )
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        bodies = []
        while True:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                return bodies
            bodies.append(message.body)


async def _delete_queue(queue_name: Text) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(
        host=RABBITMQ["url"], port=RABBITMQ["port"], login=RABBITMQ["username"],
        password=RABBITMQ["password"],
    )
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue_name)


@pytest.fixture(scope="session")
def guarded_assistant(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuardedAssistant]:
    work = tmp_path_factory.mktemp("guarded")
    env = os.environ.copy()
    env["RAPPORT_DATABASE_URL"] = f"sqlite:///{work / 'orders.db'}"
    env["LOG_LEVEL"] = "INFO"
    env.pop("RAPPORT_ACTION_SERVER_TOKEN", None)
    run([sys.executable, "-m", "actions.db", "init"], env=env)
    queue = f"rapport_hostile_{uuid.uuid4().hex[:12]}"

    endpoints = yaml.safe_load((REPO / "endpoints.yml").read_text())
    tracker_store = endpoints["tracker_store"]
    assert tracker_store["type"] == "privacy.MaskingTrackerStore"
    tracker_store["store"]["db"] = str(work / "trackers.db")
    actions_port, rasa_port = free_port(), free_port()
    endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{actions_port}/webhook"}
    endpoints["event_broker"] = {
        "type": "privacy.MaskingEventBroker",
        # As endpoints.production.yml: the REST channel waits for RabbitMQ's confirm (flushed()).
        "broker": {"type": "brokers.pika.FlushingPikaEventBroker", **RABBITMQ, "queues": [queue],
                   "raise_on_failure": True},
    }
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
    credentials = yaml.safe_load((REPO / "credentials.yml").read_text())
    for channel in ("channels.idempotent_rest.IdempotentRestInput",
                    "channels.socketio.PersistentSocketIOInput"):
        credentials[channel]["messages_per_minute"] = MESSAGES_PER_MINUTE
    (work / "credentials.yml").write_text(yaml.safe_dump(credentials))

    actions = Server([RASA, "run", "actions", "--port", str(actions_port)], env, work / "actions.log")
    rasa = Server(
        [RASA, "run", "-m", str(trained_model), "--enable-api", "--port", str(rasa_port),
         "--endpoints", str(work / "endpoints.yml"), "--credentials", str(work / "credentials.yml")],
        env, work / "rasa.log",
    )
    actions.start(f"http://127.0.0.1:{actions_port}/health")
    try:
        rasa.start(f"http://127.0.0.1:{rasa_port}/status", timeout=900)
        yield GuardedAssistant(
            f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}",
            work / "trackers.db", queue, work / "rasa.log", work / "actions.log",
        )
    finally:
        rasa.stop()
        actions.stop()
        try:
            asyncio.run(_delete_queue(queue))
        except Exception:  # RabbitMQ gone: nothing left to clean
            pass
