"""MaskingEventBroker, created from endpoints.yml settings around Rasa's file event broker."""
import asyncio
from pathlib import Path

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.file import FileEventBroker
from rasa.utils.endpoints import EndpointConfig

from privacy import MaskingEventBroker


def test_published_events_are_masked(tmp_path: Path) -> None:
    config = EndpointConfig.from_dict(
        {
            "type": "privacy.MaskingEventBroker",
            "broker": {"type": "file", "path": str(tmp_path / "events.log")},
            "placeholders": {"phone": "[TEL]"},
        }
    )
    broker = asyncio.run(EventBroker.create(config))
    assert isinstance(broker, MaskingEventBroker) and isinstance(broker.wrapped, FileEventBroker)
    broker.publish(
        {"sender_id": "+447700900123", "event": "user",
         "text": "A1001 to jane@example.com, 07700 900123, card 4111111111111111"}
    )
    published = (tmp_path / "events.log").read_text()
    assert "[EMAIL]" in published and "[TEL]" in published and "[CARD]" in published
    assert "4111" not in published and "jane@" not in published and "A1001" in published
    # The conversation id is a key, not content: a channel may use a phone number as the id.
    assert "+447700900123" in published


def test_a_broker_without_a_wrapped_broker_is_refused() -> None:
    with pytest.raises(ValueError, match="broker:"):
        asyncio.run(MaskingEventBroker.from_endpoint_config(
            EndpointConfig.from_dict({"type": "privacy.MaskingEventBroker"})
        ))
