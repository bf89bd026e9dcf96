"""Where events come from: Rasa's RabbitMQ event broker, or Rasa's SQL tracker store.

Broker: Rasa's PikaEventBroker publishes every event as JSON (``{"sender_id", **event}``,
persistent) to a fanout exchange ("rasa-exchange" by default, declared non-durable). We declare
the exchange the same way, bind our OWN durable queue to it (so other consumers keep their
copies, and events wait for us while we are down) and acknowledge a batch only after its
aggregates are committed.

Tracker store: read Rasa's ``events`` table by increasing id after a cursor that commits with
the aggregates. Exact for SQLite (one writer); with several replicas writing to PostgreSQL an
id can commit after a higher one, so use the broker there (docs/analytics.md).
"""
import asyncio
import logging
import threading
import time
from typing import Callable, List, Optional, Text, Tuple

import sqlalchemy as sa

from analytics import records as rec
from analytics.aggregator import Aggregator, BatchResult
from analytics.settings import BrokerSettings

logger = logging.getLogger(__name__)
CURSOR = "tracker_store_event_id"
BATCH_WAIT_SECONDS = 0.2  # how long a partial broker batch waits for more messages
POLL_SECONDS = 0.05  # how often the consumer thread looks at its stop flag when idle
CONNECT_RETRY_SECONDS = 5.0

rasa_events = sa.table(
    "events", sa.column("id", sa.Integer), sa.column("sender_id", sa.String),
    sa.column("data", sa.Text),
)


class TrackerStoreSource:
    """Reads new rows of Rasa's SQL ``events`` table, oldest first."""

    def __init__(self, url: Text, aggregator: Aggregator, batch_size: int = 500) -> None:
        self.engine = sa.create_engine(url, future=True)
        self.aggregator = aggregator
        self.batch_size = batch_size

    def poll_once(self) -> Optional[BatchResult]:
        """Count the next batch of events; None when there is nothing new (or no table yet)."""
        cursor = self.aggregator.progress(CURSOR) or 0
        query = (sa.select(rasa_events.c.id, rasa_events.c.sender_id, rasa_events.c.data)
                 .where(rasa_events.c.id > cursor).order_by(rasa_events.c.id)
                 .limit(self.batch_size))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).fetchall()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            logger.debug("Tracker store not readable yet: %s", error)
            return None
        if not rows:
            return None
        batch = [r for r in (rec.from_tracker_row(row.sender_id, row.data) for row in rows) if r]
        return self.aggregator.apply(batch, cursor=(CURSOR, rows[-1].id))

    async def run(self, poll_seconds: float, on_batch: Callable[[BatchResult], None],
                  stop: asyncio.Event) -> None:
        while not stop.is_set():
            result = await asyncio.to_thread(self.poll_once)
            if result is not None:
                on_batch(result)
                continue  # maybe more waiting
            try:
                await asyncio.wait_for(stop.wait(), poll_seconds)
            except asyncio.TimeoutError:
                pass


class BrokerSource:
    """Consumes Rasa's events from RabbitMQ through our own durable queue.

    A blocking pika consumer in a thread of its own: about 20 times less CPU per message than
    an asyncio client here (BENCHMARKS.md, "Analytics consumer throughput"), and the consumer
    does nothing but wait, count and commit anyway.
    """

    def __init__(self, broker: BrokerSettings, aggregator: Aggregator, batch_size: int = 500
                 ) -> None:
        self.broker = broker
        self.aggregator = aggregator
        self.batch_size = batch_size
        self.bound = False  # our queue is bound: from now on no event is missed

    def run(self, on_batch: Callable[[BatchResult], None], stop: threading.Event) -> None:
        """Consume until ``stop``; reconnect when RabbitMQ goes away. An error while counting
        ends the run with the batch unacknowledged: RabbitMQ delivers it again."""
        import pika

        where = self.broker.url.split("@")[-1]
        while not stop.is_set():
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.broker.url))
            except pika.exceptions.AMQPConnectionError as error:
                logger.warning("RabbitMQ at %s not reachable (%r); retrying in %s s", where,
                               error, CONNECT_RETRY_SECONDS)
                stop.wait(CONNECT_RETRY_SECONDS)
                continue
            try:
                self._consume(connection, on_batch, stop)
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as error:
                logger.warning("Lost RabbitMQ at %s (%r); reconnecting", where, error)
                stop.wait(CONNECT_RETRY_SECONDS)
            finally:
                if connection.is_open:
                    connection.close()

    def _consume(self, connection, on_batch: Callable[[BatchResult], None],
                 stop: threading.Event) -> None:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self.batch_size * 2)
        # Declared exactly as Rasa's PikaEventBroker declares it (fanout, not durable).
        channel.exchange_declare(self.broker.exchange, exchange_type="fanout")
        channel.queue_declare(self.broker.queue, durable=True)
        channel.queue_bind(self.broker.queue, self.broker.exchange)
        self.bound = True
        logger.info("Consuming queue %s bound to exchange %s", self.broker.queue,
                    self.broker.exchange)
        bodies: List[Tuple[bytes, bool]] = []
        last_tag, deadline = None, 0.0
        for method, _properties, body in channel.consume(self.broker.queue,
                                                         inactivity_timeout=POLL_SECONDS):
            if stop.is_set():
                break
            if method is not None:
                if not bodies:
                    deadline = time.monotonic() + BATCH_WAIT_SECONDS
                bodies.append((body, method.redelivered))
                last_tag = method.delivery_tag
            if bodies and (len(bodies) >= self.batch_size or time.monotonic() >= deadline):
                batch = [r for r in (rec.from_broker_body(b, again) for b, again in bodies) if r]
                result = self.aggregator.apply(batch)
                channel.basic_ack(last_tag, multiple=True)  # only after the commit
                bodies = []
                on_batch(result)
        channel.cancel()
