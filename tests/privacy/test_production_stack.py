"""endpoints.production.yml's masking stores against the real services: the tracker store on
PostgreSQL (127.0.0.1:5432, a database of our own) and the event broker on RabbitMQ
(127.0.0.1:5672, an exchange and queue of our own), created by Rasa from the file itself.

The masked slot values the next turn needs are shared through the local Redis (127.0.0.1:6379).
A turn is what the processor does to the stores (save the tracker) followed by what the REST
channel does before it answers (channels/idempotent_rest.py: wait for the broker). The queue is
then read with a blocking client, which gives the event loop no chance to send anything late:
what is not in the queue then was not waited for."""
import asyncio
import json
import logging
import uuid
import warnings
from pathlib import Path
from typing import Iterator, List, Text, Tuple

import pika
import pytest
import redis
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import privacy.log_filter
from brokers.pika import FlushingPikaEventBroker
from channels.idempotent_rest import publish_again, published
from privacy import MaskingEventBroker, MaskingTrackerStore
from tests.privacy.test_tracker_store import DOMAIN, SECRETS, conversation
from tests.services import POSTGRES_SERVER, postgres_database

REPO = Path(__file__).resolve().parents[2]
DATABASE = "rapport_privacy_test"


@pytest.fixture(scope="module")
def database() -> Text:
    """A database of our own on the local PostgreSQL (Rasa creates its `events` table)."""
    postgres_database(DATABASE)
    return DATABASE


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch, database: Text) -> Iterator[Text]:
    """The production file's variables, pointing at the local services; our queue and exchange
    are deleted afterwards."""
    name = f"rapport-privacy-test-{uuid.uuid4().hex[:8]}"
    variables = {
        "RAPPORT_ACTION_URL": "http://127.0.0.1:5055/webhook", "RAPPORT_ACTION_SERVER_TOKEN": "t",
        "RAPPORT_TRACKER_DB_HOST": "127.0.0.1", "RAPPORT_TRACKER_DB_PORT": "5432",
        "RAPPORT_TRACKER_DB_NAME": database, "RAPPORT_TRACKER_DB_USER": "postgres",
        "RAPPORT_TRACKER_DB_PASSWORD": "", "RAPPORT_REDIS_HOST": "127.0.0.1",
        "RAPPORT_REDIS_PORT": "6379", "RAPPORT_REDIS_DB": "1", "RAPPORT_REDIS_PASSWORD": "",
        "RAPPORT_LOCK_KEY_PREFIX": name, "RAPPORT_RABBITMQ_HOST": "127.0.0.1",
        "RAPPORT_RABBITMQ_PORT": "5672", "RAPPORT_RABBITMQ_USER": "guest",
        "RAPPORT_RABBITMQ_PASSWORD": "guest", "RAPPORT_BROKER_EXCHANGE": name,
        "RAPPORT_BROKER_QUEUE": name,
    }
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    # The store masks this process's logs from its creation on (mask_logs): not beyond this test.
    monkeypatch.setattr(privacy.log_filter, "_installed", None)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    record_factory = logging.getLogRecordFactory()
    yield name
    logging.setLogRecordFactory(record_factory)
    red = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)
    for key in red.scan_iter(f"{name}:*"):
        red.delete(key)
    with rabbitmq() as connection:
        channel = connection.channel()
        channel.queue_delete(name)
        channel.exchange_delete(name)


def rabbitmq() -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest")))


def queued(name: Text) -> List[Text]:
    """The queue's messages right now (consumed), read without yielding to the event loop."""
    bodies = []
    with rabbitmq() as connection:
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(name, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body.decode("utf-8"))


def stored_rows(sender_id: Text) -> List[Text]:
    engine = sa.create_engine(f"{POSTGRES_SERVER}/{DATABASE}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                            {"s": sender_id}).scalars().all()
    engine.dispose()
    return list(rows)


async def production_stores() -> Tuple[TrackerStore, EventBroker]:
    """The tracker store and event broker as `rasa run --endpoints endpoints.production.yml`
    creates them (rasa/core/run.py: broker first, then the store that publishes to it)."""
    endpoints = AvailableEndpoints.read_endpoints(str(REPO / "endpoints.production.yml"))
    broker = await EventBroker.create(endpoints.event_broker)
    return TrackerStore.create(endpoints.tracker_store, DOMAIN, broker), broker


def test_a_turn_leaves_no_personal_data_in_postgresql_or_the_queue_and_is_confirmed_first(
    queue: Text,
) -> None:
    sender = f"privacy-{uuid.uuid4().hex[:8]}"
    events = conversation()
    events[1] = UserUttered(events[1].text, events[1].intent, events[1].entities,
                            events[1].parse_data, message_id=f"{sender}-1")

    async def turn_then_retry() -> Tuple[List[Text], List[Text]]:
        store, broker = await production_stores()
        try:
            assert isinstance(store, MaskingTrackerStore) and isinstance(store.wrapped, SQLTrackerStore)
            assert isinstance(broker, MaskingEventBroker)
            assert isinstance(broker.wrapped, FlushingPikaEventBroker)
            tracker = DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots)
            await store.save(tracker)
            await published(store)  # what the channel awaits before it answers
            first = queued(queue)
            # Another replica (its own stores from the same file) continues the conversation:
            # the street typed in this turn reaches its actions unmasked (through Redis).
            other_replica, other_broker = await production_stores()
            assert (await other_replica.retrieve(sender)).get_slot("street") == "221B Baker Street"
            await other_broker.close()
            # A retried message: the channel replays the stored turn and publishes it again.
            await publish_again(store, await store.retrieve(sender), f"{sender}-1")
            return first, queued(queue)
        finally:
            await broker.close()

    first, replayed = asyncio.run(turn_then_retry())
    assert len(first) == len(events) and len(replayed) == len(events) - 1  # from the user message
    rows = stored_rows(sender)
    assert len(rows) == len(events)
    for where, content in [("PostgreSQL", "\n".join(rows)), ("queue", "\n".join(first + replayed))]:
        for secret in SECRETS + ["Baker"]:
            assert secret not in content, (where, secret)
        assert "[CARD]" in content and "[EMAIL]" in content and "[PHONE]" in content, where
        assert "A1001" in content, where  # an order id is not personal data
    # The replay publishes the tracker the processor would get, whose street slot this replica
    # remembers unmasked (privacy/tracker_store.py): the masking broker masks it again.
    assert any('"street"' in body and "[ADDRESS]" in body for body in replayed)
