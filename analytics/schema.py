"""The analytics tables: labels, counts and conversation ids; no column can hold message text.

Every name starts with ``analytics_`` so the tables can live in the tracker store's own
PostgreSQL database without clashing with Rasa's ``events``.
"""
from typing import Text

import sqlalchemy as sa

metadata = sa.MetaData()
LABEL = sa.String(100)
SENDER = sa.String(255)

emotion_minute = sa.Table(
    "analytics_emotion_minute", metadata,
    sa.Column("minute", sa.Integer, primary_key=True),  # Unix time // 60 of the event
    sa.Column("intent", LABEL, primary_key=True),
    sa.Column("emotion", LABEL, primary_key=True),
    sa.Column("messages", sa.Integer, nullable=False),
)

activity_minute = sa.Table(
    "analytics_activity_minute", metadata,
    sa.Column("minute", sa.Integer, primary_key=True),
    sa.Column("messages", sa.Integer, nullable=False, default=0),
    sa.Column("fallbacks", sa.Integer, nullable=False, default=0),
    sa.Column("handoffs", sa.Integer, nullable=False, default=0),
    sa.Column("conversations", sa.Integer, nullable=False, default=0),  # first seen this minute
)

conversations = sa.Table(
    "analytics_conversations", metadata,
    sa.Column("sender_id", SENDER, primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, index=True),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("angry_messages", sa.Integer, nullable=False),
    sa.Column("streak", sa.Integer, nullable=False),  # angry messages in a row, since a handoff
    sa.Column("max_streak", sa.Integer, nullable=False),
    sa.Column("handoffs", sa.Integer, nullable=False),
    sa.Column("fallbacks", sa.Integer, nullable=False),
    sa.Column("last_intent", LABEL, nullable=False),
    sa.Column("last_emotion", LABEL, nullable=False),
    sa.Column("needs_human", sa.Boolean, nullable=False, index=True),
)

alerts = sa.Table(
    "analytics_alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),  # "spike" or "streak"
    sa.Column("subject", SENDER, nullable=False),  # the intent, or the conversation id
    sa.Column("minute", sa.Integer, nullable=False),
    sa.Column("share", sa.Float),  # spike: share of the rule's emotions now...
    sa.Column("baseline", sa.Float),  # ...and before
    sa.Column("count", sa.Integer, nullable=False),  # spike: messages; streak: angry turns
    sa.Column("delivered_at", sa.Float),  # when the webhook accepted it
)

spike_state = sa.Table(
    "analytics_spike_state", metadata,
    sa.Column("intent", LABEL, primary_key=True),
    sa.Column("threshold", sa.Float, nullable=False),  # frozen when the episode started
    sa.Column("calm_minutes", sa.Integer, nullable=False),
)

progress = sa.Table(
    "analytics_progress", metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

seen_messages = sa.Table(
    "analytics_seen_messages", metadata,
    sa.Column("key", sa.String(40), primary_key=True),  # sha1 of the broker message
    sa.Column("minute", sa.Integer, nullable=False, index=True),
)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the dashboard reads while the consumer writes
    # WAL + NORMAL: a commit survives the process dying (what restart safety needs) without an
    # fsync per batch; an OS crash or power cut can lose the last commits (use PostgreSQL then).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: Text) -> sa.engine.Engine:
    """An engine on ``url`` with the analytics tables created."""
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine
