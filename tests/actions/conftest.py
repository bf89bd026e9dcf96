"""Fixtures for the action tests: a fresh SQLite orders database per test, real trackers."""
import asyncio
from pathlib import Path
from typing import Any, Coroutine, Dict, Iterator, List, Optional, Sequence, Text, TypeVar

import pytest
import yaml
from rasa_sdk import Tracker

from actions import db

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    """The repository layer pointed at a seeded database that only this test uses."""
    database = db.configure(f"sqlite:///{tmp_path / 'orders.db'}")
    db.init_db(database=database)
    yield database
    db.reset_configuration()


@pytest.fixture
def broken_database(tmp_path: Path) -> Iterator[db.Database]:
    """A database URL that cannot be opened: every query raises an SQLAlchemyError."""
    database = db.configure(f"sqlite:///{tmp_path / 'no-such-dir' / 'orders.db'}")
    yield database
    db.reset_configuration()


@pytest.fixture(scope="session")
def domain() -> Dict[Text, Any]:
    return yaml.safe_load((REPO / "domain.yml").read_text())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def user_event(text: Text, intent: Text, entities: Sequence[Dict[Text, Any]] = ()) -> Dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": list(entities),
        },
    }


def make_tracker(
    text: Text = "",
    intent: Text = "check_order_status",
    order_id: Optional[Text] = None,
    entity: Optional[Text] = None,
    slots: Optional[Dict[Text, Any]] = None,
    history: Sequence[Dict[Text, Any]] = (),
    extra_events: Sequence[Dict[Text, Any]] = (),
    active_loop: Optional[Text] = None,
    sender_id: Text = "test-user",
) -> Tracker:
    """A tracker whose latest user message is ``text``, as Rasa would send it."""
    entities: List[Dict[Text, Any]] = []
    if entity is not None:
        start = text.find(entity)
        entities.append({"entity": "order_id", "value": entity, "start": start,
                         "end": start + len(entity)})
    latest = user_event(text, intent, entities)
    all_slots = {"order_id": order_id, "street": None, "city": None, "postcode": None,
                 "requested_slot": None, **(slots or {})}
    events = [*history, latest, *extra_events]
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=latest["parse_data"],
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
