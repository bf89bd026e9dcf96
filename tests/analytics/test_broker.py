"""The broker source against a real RabbitMQ (127.0.0.1:5672), fed by Rasa's own
PikaEventBroker: every event counted exactly once across a crash between commit and ack (the
batch comes back, redelivered, and is recognised) and across a restart while Rasa publishes."""
import asyncio
import urllib.request
import uuid
from collections import Counter
from dataclasses import replace

import aio_pika
import pytest
import sqlalchemy as sa
from rasa.core.brokers.pika import PikaEventBroker

from analytics import schema
from analytics.settings import BrokerSettings, Settings
from analytics.synthetic import stream
from tests.analytics.conftest import RunningService, wait_until

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
START = 29_000_000


@pytest.fixture
def names():
    """Our own exchange and queues, deleted afterwards."""
    prefix = f"rapport-analytics-test-{uuid.uuid4().hex[:8]}"
    names = {"exchange": prefix, "queue": f"{prefix}-analytics", "rasa_queue": f"{prefix}-rasa"}
    yield names

    async def delete() -> None:
        connection = await aio_pika.connect(AMQP)
        async with connection:
            channel = await connection.channel()
            for queue in (names["queue"], names["rasa_queue"]):
                await channel.queue_delete(queue)
            await channel.exchange_delete(names["exchange"])

    asyncio.run(delete())


def publish(events, names) -> None:
    """Publish through Rasa's PikaEventBroker, exactly as `rasa run` with a pika event_broker."""

    async def run() -> None:
        broker = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[names["rasa_queue"]],
                                 exchange_name=names["exchange"])
        await broker.connect()
        for event in events:
            broker.publish(event)
        while broker._background_tasks:
            await asyncio.sleep(0.01)
        await broker.close()

    asyncio.run(run())


def counted_messages(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(schema.emotion_minute.c.messages))).scalar()
        rows = Counter({(r.minute, r.intent, r.emotion): r.messages
                        for r in conn.execute(sa.select(schema.emotion_minute))})
    engine.dispose()
    return total or 0, rows


def truth(events):
    return Counter((int(e["timestamp"] // 60), e["parse_data"]["intent"]["name"],
                    e["parse_data"]["emotion"]["name"]) for e in events if e["event"] == "user")


def settings_for(database_url, names):
    return replace(Settings(), database_url=database_url, port=0, batch_size=200,
                   broker=BrokerSettings(url=AMQP, exchange=names["exchange"],
                                         queue=names["queue"]))


def test_crash_between_commit_and_ack_counts_every_event_once(database_url, names):
    events = stream(START, 6, seed=5)
    settings = settings_for(database_url, names)

    def crash_after_second_commit(service) -> None:
        apply, calls = service.aggregator.apply, []

        def apply_then_die(records, cursor=None):
            result = apply(records, cursor)  # committed...
            calls.append(result)
            if len(calls) == 2:
                raise RuntimeError("killed before the ack")  # ...but never acknowledged
            return result

        service.aggregator.apply = apply_then_die

    first = RunningService(settings, prepare=crash_after_second_commit)
    wait_until(lambda: first.service.source.bound, message="queue bound")
    publish(events, names)
    first.thread.join(60)
    first.stop(expect_error=True)
    committed, _ = counted_messages(database_url)
    assert committed > 0

    second = RunningService(settings)
    try:
        expected = sum(truth(events).values())
        wait_until(lambda: counted_messages(database_url)[0] >= expected, message="all events")
        wait_until(lambda: second.service.duplicates._value.get() > 0, message="redelivery")
    finally:
        second.stop()
    assert counted_messages(database_url)[1] == truth(events)


def test_restart_while_rasa_publishes_loses_nothing(tmp_path, names):
    database_url = f"sqlite:///{tmp_path / 'analytics.db'}"
    events = stream(START, 4, seed=6)
    half = len(events) // 2
    settings = settings_for(database_url, names)
    first = RunningService(settings)
    wait_until(lambda: first.service.source.bound, message="queue bound")
    publish(events[:half], names)
    first.stop()  # may stop mid-stream: the rest waits in our durable queue
    publish(events[half:], names)  # published while analytics is down
    second = RunningService(settings)
    try:
        expected = sum(truth(events).values())
        wait_until(lambda: counted_messages(database_url)[0] >= expected, message="all events")
    finally:
        second.stop()
    assert counted_messages(database_url)[1] == truth(events)


def test_waits_for_rabbitmq_instead_of_dying(tmp_path, monkeypatch, caplog):
    from scripts.servers import free_port
    from analytics import sources

    monkeypatch.setattr(sources, "CONNECT_RETRY_SECONDS", 0.1)
    nowhere = BrokerSettings(url=f"amqp://guest:guest@127.0.0.1:{free_port()}/",
                             exchange="x", queue="q")
    settings = replace(Settings(), database_url=f"sqlite:///{tmp_path / 'a.db'}", port=0,
                       broker=nowhere)
    service = RunningService(settings)
    try:
        wait_until(lambda: caplog.text.count("not reachable") >= 3,
                   message="connection attempts")
        assert service.thread.is_alive() and not service.error
        with urllib.request.urlopen(f"{service.url}/health", timeout=5) as reply:
            assert reply.status == 200
    finally:
        service.stop()
