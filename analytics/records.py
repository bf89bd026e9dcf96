"""Rasa event dicts -> the few labels analytics keeps.

The same function reads a broker message (``{"sender_id": ..., **event.as_dict()}``, as
``rasa.core.brokers.pika`` publishes it) and a row of the SQL tracker store's ``events`` table.
Text never leaves this module: a Record has no field that could hold it.
"""
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Text

from components.shared.contracts import emotion_of

NO_LABEL = "(none)"
MAX_LABEL = 100  # labels are intent/emotion/action names; anything longer is not one


@dataclass(frozen=True)
class Record:
    """One event, reduced to what the aggregates need."""

    sender_id: Text
    kind: Text  # "user", "action" or "other"
    timestamp: float
    intent: Text = NO_LABEL
    emotion: Text = NO_LABEL
    action: Text = NO_LABEL
    key: Optional[Text] = None  # identifies a broker message, to drop a redelivered copy
    redelivered: bool = False  # RabbitMQ may have delivered it before: look its key up

    @property
    def minute(self) -> int:
        return int(self.timestamp // 60)


def label(value: Any) -> Text:
    """A short printable label, or NO_LABEL for anything that is not one."""
    if not isinstance(value, str):
        return NO_LABEL
    value = value.strip()
    if not value or len(value) > MAX_LABEL or not value.isprintable():
        return NO_LABEL
    return value


def _name(entry: Any) -> Text:
    return label(entry.get("name")) if isinstance(entry, dict) else NO_LABEL


def _timestamp(value: Any) -> Optional[float]:
    try:
        timestamp = float(value)
    except (TypeError, ValueError):
        return None
    return timestamp if math.isfinite(timestamp) and timestamp >= 0 else None


def from_event(event: Dict[Text, Any], sender_id: Optional[Text] = None,
               key: Optional[Text] = None, redelivered: bool = False) -> Optional[Record]:
    """The Record of a Rasa event dict, or None when it is not one (no sender, no timestamp)."""
    if not isinstance(event, dict):
        return None
    sender = sender_id if sender_id is not None else event.get("sender_id")
    timestamp = _timestamp(event.get("timestamp"))
    if not isinstance(sender, str) or not sender or timestamp is None:
        return None
    sender = sender[:255]
    kind = event.get("event")
    if kind == "user":
        parse_data = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
        return Record(sender, "user", timestamp, intent=_name(parse_data.get("intent")),
                      emotion=emotion_of(parse_data) or NO_LABEL, key=key,
                      redelivered=redelivered)
    if kind == "action":
        return Record(sender, "action", timestamp, action=label(event.get("name")), key=key,
                      redelivered=redelivered)
    return Record(sender, "other", timestamp, key=key, redelivered=redelivered)


def from_broker_body(body: bytes, redelivered: bool = True) -> Optional[Record]:
    """The Record of one broker message; its key is the hash of the exact bytes Rasa sent.
    RabbitMQ's ``redelivered`` flag is False only for a message never delivered before."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return from_event(event, key=hashlib.sha1(body).hexdigest(), redelivered=redelivered)


def from_tracker_row(sender_id: Text, data: Text) -> Optional[Record]:
    """The Record of one row of Rasa's SQL ``events`` table."""
    try:
        event = json.loads(data)
    except (TypeError, ValueError):
        return None
    return from_event(event, sender_id=sender_id)
