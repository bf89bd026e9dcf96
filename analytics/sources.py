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
import time
from typing import Callable, List, Optional, Text

import sqlalchemy as sa

from analytics import records as rec
from analytics.aggregator import Aggregator, BatchResult
from analytics.settings import BrokerSettings

logger = logging.getLogger(__name__)
CURSOR = "tracker_store_event_id"
BATCH_WAIT_SECONDS = 0.2  # how long a partial broker batch waits for more messages
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
    """Consumes Rasa's events from RabbitMQ through our own durable queue."""

    def __init__(self, broker: BrokerSettings, aggregator: Aggregator, batch_size: int = 500
                 ) -> None:
        self.broker = broker
        self.aggregator = aggregator
        self.batch_size = batch_size
        self.bound = False  # our queue is bound: from now on no event is missed

    async def _connect(self, stop: asyncio.Event):
        """Connect, retrying while RabbitMQ is not up yet (a robust connection then reconnects
        by itself); None when asked to stop first."""
        import aio_pika

        while not stop.is_set():
            try:
                return await aio_pika.connect_robust(self.broker.url)
            except (OSError, ConnectionError, aio_pika.exceptions.AMQPError) as error:
                logger.warning("RabbitMQ not reachable (%s); retrying in %s s", error,
                               CONNECT_RETRY_SECONDS)
                try:
                    await asyncio.wait_for(stop.wait(), CONNECT_RETRY_SECONDS)
                except asyncio.TimeoutError:
                    pass
        return None

    async def run(self, on_batch: Callable[[BatchResult], None], stop: asyncio.Event) -> None:
        import aio_pika

        connection = await self._connect(stop)
        if connection is None:
            return
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.batch_size * 2)
            exchange = await channel.declare_exchange(
                self.broker.exchange, aio_pika.ExchangeType.FANOUT)  # as Rasa declares it
            queue = await channel.declare_queue(self.broker.queue, durable=True)
            await queue.bind(exchange, "")
            inbox: asyncio.Queue = asyncio.Queue()
            tag = await queue.consume(inbox.put)
            self.bound = True
            logger.info("Consuming %s (queue %s, exchange %s)", self.broker.url.split("@")[-1],
                        self.broker.queue, self.broker.exchange)
            try:
                while not stop.is_set():
                    batch = await self._next_batch(inbox, stop)
                    if batch:
                        records = [r for r in (rec.from_broker_body(m.body) for m in batch) if r]
                        result = await asyncio.to_thread(self.aggregator.apply, records)
                        await batch[-1].ack(multiple=True)  # only after the commit
                        on_batch(result)
            finally:
                await queue.cancel(tag)
        finally:
            await connection.close()

    async def _next_batch(self, inbox: asyncio.Queue, stop: asyncio.Event) -> List:
        try:
            first = await asyncio.wait_for(inbox.get(), 0.5)
        except asyncio.TimeoutError:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT_SECONDS
        while len(batch) < self.batch_size and not stop.is_set():
            try:
                batch.append(inbox.get_nowait())
            except asyncio.QueueEmpty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(inbox.get(), remaining))
                except asyncio.TimeoutError:
                    break
        return batch
