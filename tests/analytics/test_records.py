"""Rasa events -> Records: labels only, and bad input never crashes."""
import json

import pytest

from analytics import records
from analytics.records import NO_LABEL, Record
from analytics.synthetic import TEXT_MARKER, turn_events


def test_user_event_keeps_intent_and_emotion_and_no_text():
    user, action, bot, listen = turn_events("c1", 120.5, "order_status", "anger")
    record = records.from_event(user)
    assert record == Record("c1", "user", 120.5, intent="order_status", emotion="anger")
    assert record.minute == 2
    assert TEXT_MARKER not in repr(record)
    assert records.from_event(action).action == "utter_order_status"
    assert records.from_event(bot).kind == "other"
    assert TEXT_MARKER not in repr(records.from_event(bot))


def test_broker_body_is_keyed_by_its_bytes():
    body = json.dumps(turn_events("c1", 60.0, "greet", "joy")[0]).encode()
    first, again = records.from_broker_body(body), records.from_broker_body(body)
    other = records.from_broker_body(json.dumps(turn_events("c1", 61.0, "greet", "joy")[0]).encode())
    assert first.key == again.key and len(first.key) == 40
    assert other.key != first.key


def test_tracker_row_takes_the_sender_from_the_row():
    data = json.dumps({"event": "user", "timestamp": 5.0, "parse_data": {
        "intent": {"name": "greet"}, "emotion": {"name": "joy", "confidence": 0.9}}})
    assert records.from_tracker_row("row-sender", data) == Record(
        "row-sender", "user", 5.0, intent="greet", emotion="joy")


@pytest.mark.parametrize("body", [
    b"", b"   ", b"\x00\xff\xfe binary", b"[1, 2]", b"null", b'"just a string"',
    b'{"event": "user"}', b'{"sender_id": "c", "event": "user", "timestamp": "soon"}',
    b'{"sender_id": "c", "event": "user", "timestamp": NaN}',
    b'{"sender_id": 42, "event": "user", "timestamp": 1}',
    b'{"sender_id": "c", "event": "user", "timestamp": -5}',
])
def test_bad_broker_bodies_are_skipped(body):
    assert records.from_broker_body(body) is None


@pytest.mark.parametrize("parse_data", [
    None, "text", [], {"intent": "greet"}, {"intent": {"name": None}},
    {"intent": {"name": "x" * 5000}}, {"emotion": {"name": "😡"}},
    {"emotion": {"name": "anger"}}, {"emotion": {"name": "rage", "confidence": 0.9}},
])
def test_odd_parse_data_gives_no_label_not_a_crash(parse_data):
    record = records.from_event({"sender_id": "c", "event": "user", "timestamp": 1.0,
                                 "parse_data": parse_data})
    assert record.kind == "user"
    assert record.intent in (NO_LABEL, "greet")  # only a real name string counts
    assert record.emotion == NO_LABEL  # only EmotionClassifier's labels, with a confidence
    assert len(record.intent) <= records.MAX_LABEL and len(record.emotion) <= records.MAX_LABEL


def test_non_latin_and_emoji_labels_are_kept():
    record = records.from_event({"sender_id": "клиент-😀", "event": "user", "timestamp": 1.0,
                                 "parse_data": {"intent": {"name": "заказ"},
                                                "emotion": {"name": "anger",
                                                            "confidence": 0.7}}})
    assert (record.sender_id, record.intent, record.emotion) == ("клиент-😀", "заказ", "anger")
