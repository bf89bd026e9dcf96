"""MaskingTrackerStore around Rasa's real SQL tracker store (SQLite file) and file event broker."""
import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Text

import pytest
from rasa.core.brokers.file import FileEventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import privacy.log_filter
from privacy import MaskingTrackerStore

CARD, EMAIL, PHONE = "4111 1111 1111 1111", "jane.doe@example.com", "+44 20 7946 0958"
SECRETS = ["4111111111111111", "4111 1111", "1111 1111", "jane.doe", "example.com", "7946", "0958"]
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [check_order_status, inform_address]
entities: [order_id]
slots:
  order_id: {type: text, mappings: [{type: from_entity, entity: order_id}]}
  street: {type: text, mappings: [{type: custom}]}
"""
)


def conversation() -> List[Any]:
    text = f"where is A1001? card {CARD}, mail {EMAIL}, phone {PHONE}"
    parse_data = {
        "intent": {"name": "check_order_status", "confidence": 0.9},
        "entities": [{"entity": "order_id", "value": "A1001", "start": 9, "end": 14}],
        "text": text,
        "noise_filter": {"original": text, "corrections": [{"from": "4111-1111", "to": "4111"}]},
    }
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data),
        SlotSet("order_id", "A1001"),
        SlotSet("street", "221B Baker Street"),
        BotUttered(f"I'll write to {EMAIL} about A1001."),
    ]


def store(tmp_path: Path, **settings: Any) -> MaskingTrackerStore:
    config = {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "trackers.db")}
    broker = FileEventBroker(str(tmp_path / "events.log"))
    return MaskingTrackerStore(DOMAIN, event_broker=broker, store=config, mask_logs=False, **settings)


def save(masking: TrackerStore, events: List[Any]) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events("jane", events, slots=DOMAIN.slots)
    asyncio.run(masking.save(tracker))
    return tracker


def assert_no_secret(text: Text) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_nothing_of_the_card_email_or_phone_reaches_the_database_or_the_broker(tmp_path: Path) -> None:
    masking = store(tmp_path)
    save(masking, conversation())
    database = (tmp_path / "trackers.db").read_bytes().decode("utf-8", errors="replace")
    published = (tmp_path / "events.log").read_text()
    for stored in (database, published):
        assert_no_secret(stored)
        assert "[CARD]" in stored and "[EMAIL]" in stored and "[PHONE]" in stored
        assert "A1001" in stored
    assert isinstance(masking.wrapped, SQLTrackerStore)


def test_the_api_tracker_is_masked_and_keeps_the_order_id(tmp_path: Path) -> None:
    masking = store(tmp_path)
    save(masking, conversation())
    full = asyncio.run(masking.retrieve_full_tracker("jane"))
    state = json.dumps(full.current_state())
    assert_no_secret(state)
    assert "221B Baker Street" not in state and "[ADDRESS]" in state
    assert full.get_slot("order_id") == "A1001"


def test_the_next_turn_sees_a_recent_slot_value_and_not_the_masked_text(tmp_path: Path) -> None:
    masking = store(tmp_path)
    save(masking, conversation())
    tracker = asyncio.run(masking.retrieve("jane"))
    assert tracker.get_slot("street") == "221B Baker Street"
    assert CARD not in tracker.latest_message.text
    # Saving that tracker again stores nothing new and nothing unmasked.
    asyncio.run(masking.save(tracker))
    assert "Baker" not in (tmp_path / "trackers.db").read_bytes().decode("utf-8", errors="replace")


def test_slot_values_are_not_kept_when_told_so(tmp_path: Path) -> None:
    masking = store(tmp_path, keep_slot_values_for=0)
    save(masking, conversation())
    assert asyncio.run(masking.retrieve("jane")).get_slot("street") == "[ADDRESS]"


def test_created_from_endpoints_yml_with_the_wrapped_stores_settings(tmp_path: Path) -> None:
    config = EndpointConfig.from_dict(
        {
            "type": "privacy.MaskingTrackerStore",
            "store": {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")},
            "mask": ["card"],
            "placeholders": {"card": "[PAYMENT CARD]"},
            "mask_logs": False,
        }
    )
    created = TrackerStore.create(config, DOMAIN)
    assert isinstance(created, MaskingTrackerStore)
    save(created, conversation())
    stored = (tmp_path / "t.db").read_bytes().decode("utf-8", errors="replace")
    assert "[PAYMENT CARD]" in stored and EMAIL in stored and "4111111111111111" not in stored


def test_a_store_without_a_wrapped_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="store:"):
        MaskingTrackerStore(DOMAIN, store={"dialect": "sqlite"})


def test_log_records_and_warnings_are_masked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    monkeypatch.setattr(privacy.log_filter, "_installed", None)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    original = logging.getLogRecordFactory()
    shown: List[Text] = []
    try:
        store_settings = {"type": "SQL", "dialect": "sqlite", "db": ":memory:"}
        monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kw: shown.append(str(message)))
        MaskingTrackerStore(DOMAIN, store=store_settings)
        with caplog.at_level(logging.INFO):
            logging.getLogger("rapport.test").info("user said %s and %s about A1001", CARD, EMAIL)
            logging.getLogger("rapport.test").info("typed \x1b[2J\x1b[31m")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            # What Rasa's RegexMessageHandler warns, with the user's text, for "/intent{...}".
            warnings.showwarning(UserWarning(f"Failed to parse '/inform{{\"email\": \"{EMAIL}\"}}'"),
                                 UserWarning, "io.py", 100)
    finally:
        logging.setLogRecordFactory(original)
    assert caplog.messages == ["user said [CARD] and [EMAIL] about A1001", "typed \\x1b[2J\\x1b[31m"]
    assert shown == ["Failed to parse '/inform{\"email\": \"[EMAIL]\"}'"]
