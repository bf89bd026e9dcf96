"""Rasa's RabbitMQ event broker, which sends every event before it closes.

Rasa 3.6's `PikaEventBroker.publish` schedules each event as a background task, and `close` closes
the connection without waiting for them. A server that keeps running sends them eventually, but
`rasa export` closes right after scheduling: it prints "Successfully published N events" and
exits with the events unsent (seen here: none of an exported conversation's events reached the
queue). This subclass waits for the pending publishes in `close`; it is otherwise Rasa's broker,
with the same settings:

    event_broker:
      type: brokers.pika.FlushingPikaEventBroker
      url: localhost
      ...
"""
import asyncio

from rasa.core.brokers.pika import PikaEventBroker


class FlushingPikaEventBroker(PikaEventBroker):
    """`PikaEventBroker` whose `close` first waits for every event it was asked to publish."""

    async def close(self) -> None:
        pending = list(self._background_tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await super().close()
