"""Rasa's RabbitMQ event broker, which can say when the events it was handed are sent.

Rasa 3.6's `PikaEventBroker.publish` schedules each event as a background task and offers no way
to wait for them: `close` closes the connection without waiting, and a caller that must know an
event reached RabbitMQ had to read the private `_background_tasks`. `rasa export` closes right
after scheduling: it prints "Successfully published N events" and exits with the events unsent
(seen here: none of an exported conversation's events reached the queue). This subclass adds
`flushed()`, the public way to wait for what was published so far, and uses it in `close`; it is
otherwise Rasa's broker, with the same settings:

    event_broker:
      type: brokers.pika.FlushingPikaEventBroker
      url: localhost
      ...

channels/idempotent_rest.py awaits `flushed()` before it answers a turn, and
privacy.MaskingEventBroker forwards it to the broker it wraps.
"""
import asyncio

from rasa.core.brokers.pika import PikaEventBroker


class FlushingPikaEventBroker(PikaEventBroker):
    """`PikaEventBroker` with `flushed()`, whose `close` first sends every pending event."""

    async def flushed(self) -> None:
        """Return once every event handed to `publish` before this call is done: confirmed by
        RabbitMQ (aio-pika's channels use publisher confirms), or, if sending failed, kept in
        memory by Rasa's broker for the next reconnection. Events published meanwhile by other
        turns are not waited for, so a busy replica cannot keep a caller waiting."""
        pending = list(self._background_tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        await self.flushed()
        await super().close()
