"""Aggregates against ground truth, on SQLite and PostgreSQL: exact counts, exactly once across
a crash mid-batch and a restart, fallbacks/handoffs/anger streaks, and no text in any table."""
from collections import Counter

import pytest
import sqlalchemy as sa

from analytics import records, schema
from analytics.aggregator import Aggregator
from analytics.settings import Settings, StreakRule
from analytics.synthetic import TEXT_MARKER, PlantedSpike, stream, turn_events

START = 29_000_000  # a Unix minute (2025)


def truth(events):
    """(minute, intent, emotion) -> messages, straight from the events."""
    return Counter((int(e["timestamp"] // 60), e["parse_data"]["intent"]["name"],
                    e["parse_data"]["emotion"]["name"]) for e in events if e["event"] == "user")


def counted(engine):
    table = schema.emotion_minute
    with engine.connect() as conn:
        return Counter({(r.minute, r.intent, r.emotion): r.messages
                        for r in conn.execute(sa.select(table))})


def as_records(events, keyed=False):
    import json

    if keyed:
        return [records.from_broker_body(json.dumps(e).encode()) for e in events]
    return [records.from_event(e) for e in events]


def test_counts_match_the_stream_exactly(database_url):
    events = stream(START, 30, [PlantedSpike("order_status", 20, minutes=5)], seed=1)
    engine = schema.make_engine(database_url)
    aggregator = Aggregator(engine, Settings())
    batch = as_records(events)
    for start in range(0, len(batch), 333):  # batches cut across minutes
        aggregator.apply(batch[start:start + 333])
    assert counted(engine) == truth(events)
    with engine.connect() as conn:
        messages = conn.execute(sa.select(sa.func.sum(schema.activity_minute.c.messages))).scalar()
        conversations = conn.execute(sa.select(sa.func.count()).select_from(schema.conversations)).scalar()
    assert messages == sum(truth(events).values())
    assert conversations == len({e["sender_id"] for e in events})


def test_crash_mid_batch_and_restart_count_every_event_once(database_url):
    events = stream(START, 12, seed=2)
    batch = as_records(events)
    cut = len(batch) // 2
    engine = schema.make_engine(database_url)
    first = Aggregator(engine, Settings())
    first.apply(batch[:cut], cursor=("test_cursor", cut))

    def crash(*_args, **_kwargs):
        raise RuntimeError("power cut")

    crashing = Aggregator(engine, Settings())
    crashing._set_progress = crash  # dies after counting, before the cursor commits
    with pytest.raises(RuntimeError):
        crashing.apply(batch[cut:], cursor=("test_cursor", len(batch)))

    restarted = Aggregator(schema.make_engine(database_url), Settings())
    position = restarted.progress("test_cursor")
    assert position == cut
    restarted.apply(batch[position:], cursor=("test_cursor", len(batch)))
    assert counted(engine) == truth(events)
    assert restarted.progress("test_cursor") == len(batch)


def test_redelivered_broker_messages_are_skipped(database_url):
    events = stream(START, 3, seed=3)
    batch = as_records(events, keyed=True)
    engine = schema.make_engine(database_url)
    aggregator = Aggregator(engine, Settings())
    aggregator.apply(batch[:100])
    result = aggregator.apply(batch[50:] + batch[50:60])  # 50 redelivered + 10 twice in one batch
    assert result.duplicates == 60
    assert counted(engine) == truth(events)


def test_fallbacks_handoffs_and_anger_streaks(database_url):
    t = START * 60
    events = (
        turn_events("angry", t + 1, "order_status", "anger")
        + turn_events("angry", t + 2, "order_status", "anger")
        + turn_events("angry", t + 3, "nlu_fallback", "anger", action="action_default_fallback")
        + turn_events("angry", t + 4, "order_status", "anger")  # 4th angry turn: no 2nd alert
        + turn_events("handed", t + 5, "order_status", "anger")
        + turn_events("handed", t + 6, "request_human", "anger", action="action_handoff")
        + turn_events("handed", t + 7, "order_status", "anger")  # streak restarts after handoff
        + turn_events("calmed", t + 8, "order_status", "anger")
        + turn_events("calmed", t + 9, "order_status", "anger")
        + turn_events("calmed", t + 10, "thanks", "joy")
        + turn_events("calmed", t + 11, "order_status", "anger")
        + turn_events("misunderstood", t + 12, "order_status", "neutral",
                      action="action_default_fallback")
    )
    engine = schema.make_engine(database_url)
    result = Aggregator(engine, Settings(streak=StreakRule(turns=3))).apply(as_records(events))
    with engine.connect() as conn:
        rows = {r.sender_id: r for r in conn.execute(sa.select(schema.conversations))}
        minute = conn.execute(sa.select(schema.activity_minute)).one()
        alerts = conn.execute(sa.select(schema.alerts)).fetchall()
    assert [(a.kind, a.subject, a.count) for a in alerts] == [("streak", "angry", 3)]
    assert result.alerts == [alerts[0].id]
    assert rows["angry"].needs_human and rows["angry"].streak == 4
    assert rows["angry"].fallbacks == 1  # nlu_fallback then its core fallback action: one
    assert not rows["handed"].needs_human and rows["handed"].handoffs == 1
    assert rows["handed"].streak == 1 and rows["handed"].max_streak == 2
    assert not rows["calmed"].needs_human and rows["calmed"].max_streak == 2
    assert rows["misunderstood"].fallbacks == 1
    assert (minute.messages, minute.fallbacks, minute.handoffs, minute.conversations) == (12, 2, 1, 4)


def test_no_message_text_in_any_table(database_url):
    events = stream(START, 5, [PlantedSpike("greet", 1, minutes=3)], seed=4)
    for second in (296, 297, 298):
        events += turn_events("streaky", START * 60 + second, "order_status", "anger")
    engine = schema.make_engine(database_url)
    Aggregator(engine, Settings()).apply(as_records(events, keyed=True))
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            dump = repr(conn.execute(sa.select(table)).fetchall())
            assert TEXT_MARKER not in dump, table.name
    with engine.connect() as conn:
        kinds = set(conn.execute(sa.select(schema.alerts.c.kind)).scalars())
    assert kinds == {"spike", "streak"}  # alert rows were written, and hold no text either
    text_like = [c for t in schema.metadata.sorted_tables for c in t.columns
                 if isinstance(c.type, sa.Text)]
    assert text_like == []  # no unbounded text column at all; labels are String(100)
