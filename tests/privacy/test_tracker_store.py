"""MaskingTrackerStore around Rasa's real SQL tracker store (SQLite file) and file event broker,
with masked slot values kept in process or in the local Redis (127.0.0.1:6379)."""
import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Text

import pytest
import redis
from rasa.core.brokers.file import FileEventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import privacy.log_filter
from privacy import MaskingTrackerStore, slot_memory

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


def test_slot_values_are_not_kept_when_told_so_and_an_action_never_gets_a_placeholder(
    tmp_path: Path,
) -> None:
    masking = store(tmp_path, keep_slot_values_for=0)
    save(masking, conversation())
    # Empty, so that a form asks again rather than an action taking "[ADDRESS]" for an address.
    assert asyncio.run(masking.retrieve("jane")).get_slot("street") is None
    assert asyncio.run(masking.retrieve("jane")).get_slot("order_id") == "A1001"
    assert asyncio.run(masking.retrieve_full_tracker("jane")).get_slot("street") == "[ADDRESS]"


def test_a_replica_that_did_not_see_the_value_gets_an_empty_slot(tmp_path: Path) -> None:
    """Two replicas on one database, values kept in process: the other one cannot restore."""
    first, second = store(tmp_path), store(tmp_path)
    save(first, conversation())
    assert asyncio.run(first.retrieve("jane")).get_slot("street") == "221B Baker Street"
    assert asyncio.run(second.retrieve("jane")).get_slot("street") is None


@pytest.fixture
def redis_settings() -> Iterator[Dict[Text, Any]]:
    """The local Redis (127.0.0.1:6379), under a key prefix of our own, cleaned afterwards."""
    settings = {"url": "127.0.0.1", "port": 6379, "db": 1, "key_prefix": f"test{uuid.uuid4().hex[:8]}"}
    yield settings
    red = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)
    for key in red.scan_iter(f"{settings['key_prefix']}:*"):
        red.delete(key)


def test_replicas_sharing_redis_restore_each_others_values_until_they_expire(
    tmp_path: Path, redis_settings: Dict[Text, Any]
) -> None:
    first = store(tmp_path, slot_values_redis=redis_settings, keep_slot_values_for=600)
    second = store(tmp_path, slot_values_redis=redis_settings, keep_slot_values_for=600)
    save(first, conversation())
    assert asyncio.run(second.retrieve("jane")).get_slot("street") == "221B Baker Street"
    red = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)
    key = f"{redis_settings['key_prefix']}:masked_slots:jane"
    assert 0 < red.ttl(key) <= 600  # Redis deletes them itself
    stored = b"".join(red.hvals(key)).decode()
    assert "Baker" in stored and "4111" not in stored  # only masked slot values, nothing else
    assert "Baker" not in (tmp_path / "trackers.db").read_bytes().decode("utf-8", errors="replace")


def test_in_process_values_expire_oldest_conversation_first(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(slot_memory.time, "monotonic", lambda: now[0])
    kept = slot_memory.InProcessSlotValues(keep_for=900)
    street = SlotSet("street", "221B Baker Street", timestamp=1.0)
    kept.remember("a", {slot_memory.slot_key(street): street})
    now[0] = 10.0
    kept.remember("b", {slot_memory.slot_key(street): street})
    now[0] = 905.0
    assert kept.recall("a") == {} and kept.recall("b") == {("street", 1.0): street}
    assert len(kept) == 1


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
