"""An event broker that masks personal data in each event before the wrapped broker publishes it.

endpoints.yml:

    event_broker:
      type: privacy.MaskingEventBroker
      broker:                # the wrapped broker, written exactly as without masking
        type: brokers.pika.FlushingPikaEventBroker    # or any Rasa broker, e.g. `pika`
        url: localhost
        username: guest
        password: guest
        queues: [rasa_events]
      mask: [card, iban, email, phone, address]   # optional, default: all
      placeholders: {email: "[EMAIL]"}            # optional, per kind

`privacy.MaskingTrackerStore` already hands the broker masked events; this wrapper covers a
broker fed by any other store or by `rasa export`. It forwards `flushed()` (wait until what was
published is sent; brokers/pika.py) to the wrapped broker, so a channel that waits for the
broker (channels/idempotent_rest.py) waits the same with or without masking.
"""
import asyncio
from typing import Any, Dict, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from privacy.masking import MaskingConfig, mask_event_dicts


class MaskingEventBroker(EventBroker):
    """Publishes each event with personal data replaced by placeholders."""

    def __init__(self, wrapped: EventBroker, config: MaskingConfig) -> None:
        self.wrapped = wrapped
        self.config = config

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig,
        event_loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> Optional["MaskingEventBroker"]:
        settings: Dict[Text, Any] = dict(broker_config.kwargs)
        inner = settings.pop("broker", None)
        if not inner or not inner.get("type"):
            raise ValueError(
                "privacy.MaskingEventBroker needs the broker it wraps under `broker:` with its "
                "`type` (e.g. `broker: {type: pika, url: localhost, queues: [rasa_events]}`)."
            )
        config = MaskingConfig.from_settings(settings.get("mask"), settings.get("placeholders"))
        wrapped = await EventBroker.create(EndpointConfig.from_dict(inner), event_loop)
        return cls(wrapped, config) if wrapped else None

    def publish(self, event: Dict[Text, Any]) -> None:
        [masked] = mask_event_dicts([event], self.config)
        self.wrapped.publish(masked)

    async def flushed(self) -> None:
        """Wait until the wrapped broker has sent what it was handed, if it can tell
        (`flushed()` of brokers.pika.FlushingPikaEventBroker); at once otherwise."""
        flushed = getattr(self.wrapped, "flushed", None)
        if flushed is not None:
            await flushed()

    def is_ready(self) -> bool:
        return self.wrapped.is_ready()

    async def close(self) -> None:
        await self.wrapped.close()
