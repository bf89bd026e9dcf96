"""Apply a batch of Records to the aggregates in ONE transaction, with the source's position.

That transaction is what makes the service restart-safe: the aggregates, the alerts, the
dedup keys of broker messages and the tracker-store cursor commit together or not at all, and
the broker consumer acknowledges a batch only after its commit. A broker message delivered
again (after a crash between commit and ack) is recognised by its key and skipped.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Text, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from analytics import schema
from analytics.alerts import Episode, check_spike
from analytics.records import NO_LABEL, Record
from analytics.settings import Settings

CHUNK = 500  # keys per IN (...) query: under SQLite's variable limit
MAX_EVALUATION_GAP = 7 * 24 * 60  # minutes; a longer silence restarts the spike evaluation
SEEN_RETENTION_MINUTES = 2 * 24 * 60  # broker redeliveries come within minutes; keep two days


@dataclass
class BatchResult:
    counted: int = 0
    duplicates: int = 0
    alerts: List[int] = field(default_factory=list)


def _insert(engine: sa.engine.Engine, table: sa.Table):
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Aggregator:
    def __init__(self, engine: sa.engine.Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._batches = 0

    # --- position of the SQL source -----------------------------------------------------
    def progress(self, name: Text) -> Optional[int]:
        with self.engine.connect() as conn:
            return self._progress(conn, name)

    @staticmethod
    def _progress(conn: sa.engine.Connection, name: Text) -> Optional[int]:
        return conn.execute(
            sa.select(schema.progress.c.value).where(schema.progress.c.name == name)
        ).scalar()

    def _set_progress(self, conn: sa.engine.Connection, name: Text, value: int) -> None:
        statement = _insert(self.engine, schema.progress).values(name=name, value=value)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": statement.excluded.value}))

    # --- one batch ----------------------------------------------------------------------
    def apply(self, records: Sequence[Record], cursor: Optional[Tuple[Text, int]] = None
              ) -> BatchResult:
        """Count ``records`` and move ``cursor`` (name, position) in one transaction."""
        result = BatchResult()
        with self.engine.begin() as conn:
            records = self._drop_seen(conn, records, result)
            if records:
                self._count(conn, records, result)
                self._evaluate_spikes(conn, max(r.minute for r in records),
                                      min(r.minute for r in records), result)
            if cursor is not None:
                self._set_progress(conn, *cursor)
            self._batches += 1
            if self._batches % 100 == 0:
                self._prune_seen(conn)
        return result

    def _drop_seen(self, conn, records: Sequence[Record], result: BatchResult) -> List[Record]:
        """Skip broker messages already counted; remember the keys of the others. Only a
        message RabbitMQ flags as redelivered can have been counted before."""
        if not any(r.key for r in records):
            return list(records)
        seen = set()
        for chunk in _chunks([r.key for r in records if r.key and r.redelivered]):
            seen.update(conn.execute(sa.select(schema.seen_messages.c.key).where(
                schema.seen_messages.c.key.in_(chunk))).scalars())
        fresh, new_keys = [], []
        for record in records:
            if record.key in seen:
                result.duplicates += 1
                continue
            if record.key:
                seen.add(record.key)
                new_keys.append({"key": record.key, "minute": record.minute})
            fresh.append(record)
        if new_keys:
            conn.execute(schema.seen_messages.insert(), new_keys)
        return fresh

    def _prune_seen(self, conn) -> None:
        newest = conn.execute(sa.select(sa.func.max(schema.seen_messages.c.minute))).scalar()
        if newest is not None:
            conn.execute(schema.seen_messages.delete().where(
                schema.seen_messages.c.minute < newest - SEEN_RETENTION_MINUTES))

    def _load_conversations(self, conn, senders: List[Text]) -> Dict[Text, Dict]:
        table = schema.conversations
        found = {}
        for chunk in _chunks(senders):
            for row in conn.execute(sa.select(table).where(table.c.sender_id.in_(chunk))):
                found[row.sender_id] = dict(row._mapping)
        return found

    def _count(self, conn, records: Sequence[Record], result: BatchResult) -> None:
        settings = self.settings
        streak_emotions = set(settings.streak.emotions)
        emotions: Dict[Tuple[int, Text, Text], int] = defaultdict(int)
        activity: Dict[int, Dict[Text, int]] = defaultdict(
            lambda: {"messages": 0, "fallbacks": 0, "handoffs": 0, "conversations": 0})
        senders = list(dict.fromkeys(r.sender_id for r in records))
        known = self._load_conversations(conn, senders)
        changed: Dict[Text, Dict] = {}
        new_alerts = []
        for record in records:
            conversation = known.get(record.sender_id)
            if conversation is None:
                conversation = known[record.sender_id] = {
                    "sender_id": record.sender_id, "first_seen": record.timestamp,
                    "last_seen": record.timestamp, "messages": 0, "angry_messages": 0,
                    "streak": 0, "max_streak": 0, "handoffs": 0, "fallbacks": 0,
                    "last_intent": NO_LABEL, "last_emotion": NO_LABEL, "needs_human": False,
                }
                activity[record.minute]["conversations"] += 1
            changed[record.sender_id] = conversation
            conversation["last_seen"] = max(conversation["last_seen"], record.timestamp)
            counts = activity[record.minute]
            if record.kind == "user":
                result.counted += 1
                emotions[(record.minute, record.intent, record.emotion)] += 1
                counts["messages"] += 1
                conversation["messages"] += 1
                conversation["last_intent"] = record.intent
                conversation["last_emotion"] = record.emotion
                if record.intent in settings.fallback_intents:
                    counts["fallbacks"] += 1
                    conversation["fallbacks"] += 1
                if record.emotion in streak_emotions:
                    conversation["angry_messages"] += 1
                    conversation["streak"] += 1
                    conversation["max_streak"] = max(conversation["max_streak"],
                                                     conversation["streak"])
                    if conversation["streak"] == settings.streak.turns:
                        conversation["needs_human"] = True
                        new_alerts.append({
                            "kind": "streak", "subject": record.sender_id,
                            "minute": record.minute, "count": conversation["streak"]})
                else:
                    conversation["streak"] = 0
                    conversation["needs_human"] = False
            elif record.kind == "action":
                result.counted += 1
                if record.action in settings.handoff_actions:
                    counts["handoffs"] += 1
                    conversation["handoffs"] += 1
                    conversation["streak"] = 0
                    conversation["needs_human"] = False
                elif (record.action in settings.fallback_actions
                      and conversation["last_intent"] not in settings.fallback_intents):
                    counts["fallbacks"] += 1  # a core fallback after an understood message
                    conversation["fallbacks"] += 1
        self._write(conn, emotions, activity, changed)
        result.alerts.extend(self._add_alerts(conn, new_alerts))

    def _write(self, conn, emotions, activity, changed) -> None:
        if emotions:
            table = schema.emotion_minute
            statement = _insert(self.engine, table)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["minute", "intent", "emotion"],
                set_={"messages": table.c.messages + statement.excluded.messages},
            ), [{"minute": m, "intent": i, "emotion": e, "messages": n}
                for (m, i, e), n in emotions.items()])
        if activity:
            table = schema.activity_minute
            statement = _insert(self.engine, table)
            columns = ("messages", "fallbacks", "handoffs", "conversations")
            conn.execute(statement.on_conflict_do_update(
                index_elements=["minute"],
                set_={c: table.c[c] + statement.excluded[c] for c in columns},
            ), [{"minute": m, **counts} for m, counts in activity.items()])
        if changed:
            table = schema.conversations
            statement = _insert(self.engine, table)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["sender_id"],
                set_={c.name: statement.excluded[c.name] for c in table.columns
                      if c.name != "sender_id"},
            ), list(changed.values()))

    def _add_alerts(self, conn, alerts: List[Dict]) -> List[int]:
        ids = []
        for alert in alerts:
            ids.append(conn.execute(schema.alerts.insert().values(**alert)).inserted_primary_key[0])
        return ids

    # --- spike rule ---------------------------------------------------------------------
    def _evaluate_spikes(self, conn, newest: int, oldest: int, result: BatchResult) -> None:
        """Evaluate every minute that is now closed (older than the newest event seen)."""
        rule = self.settings.spike
        watermark = max(self._progress(conn, "watermark_minute") or newest, newest)
        evaluated = self._progress(conn, "evaluated_minute")
        if evaluated is None or watermark - evaluated > MAX_EVALUATION_GAP:
            evaluated = oldest - 1
        self._set_progress(conn, "watermark_minute", watermark)
        if watermark - 1 <= evaluated:
            return
        first, last = evaluated + 1, watermark - 1
        since = first - rule.current_minutes - rule.baseline_minutes
        table = schema.emotion_minute
        emotional = table.c.emotion.in_(rule.emotions)
        rows = conn.execute(sa.select(
            table.c.intent, table.c.minute,
            sa.func.sum(sa.case((emotional, table.c.messages), else_=0)),
            sa.func.sum(table.c.messages),
        ).where(table.c.minute.between(since, last)).group_by(table.c.intent, table.c.minute))
        counts: Dict[Text, Dict[int, Tuple[int, int]]] = defaultdict(dict)
        for intent, minute, e, t in rows:
            counts[intent][minute] = (int(e), int(t))
        state = schema.spike_state
        episodes = {row.intent: Episode(row.threshold, row.calm_minutes)
                    for row in conn.execute(sa.select(state))}
        new_alerts = []
        for intent in set(counts) | set(episodes):
            if intent == NO_LABEL:
                continue
            episode = episodes.get(intent)
            for minute in range(first, last + 1):
                spike, episode = check_spike(rule, counts[intent], minute, episode)
                if spike:
                    new_alerts.append({
                        "kind": "spike", "subject": intent, "minute": spike.minute,
                        "share": spike.share, "baseline": spike.baseline, "count": spike.count})
            conn.execute(state.delete().where(state.c.intent == intent))
            if episode is not None:
                conn.execute(state.insert().values(
                    intent=intent, threshold=episode.threshold,
                    calm_minutes=episode.calm_minutes))
        self._set_progress(conn, "evaluated_minute", last)
        new_alerts.sort(key=lambda a: a["minute"])
        result.alerts.extend(self._add_alerts(conn, new_alerts))
