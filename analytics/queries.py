"""What the dashboard shows, read from the aggregates (labels and counts only)."""
from collections import defaultdict
from typing import Any, Dict, Optional, Text

import sqlalchemy as sa

from analytics import schema
from analytics.alerts import minute_text
from analytics.records import NO_LABEL
from components.shared.contracts import EMOTION, emotion_of

MAX_MINUTES = 24 * 60


def overview(engine: sa.engine.Engine, minutes: int = 60, end: Optional[int] = None
             ) -> Dict[Text, Any]:
    """The last ``minutes`` minutes up to ``end`` (default: the newest minute with data)."""
    minutes = max(1, min(int(minutes), MAX_MINUTES))
    emotion, activity = schema.emotion_minute, schema.activity_minute
    with engine.connect() as conn:
        if end is None:
            end = conn.execute(sa.select(sa.func.max(activity.c.minute))).scalar()
        result: Dict[Text, Any] = {"end": end, "minutes": [], "emotions": {}, "intents": {},
                                   "totals": {}, "needs_human": [], "alerts": []}
        if end is not None:
            start = end - minutes + 1
            window = emotion.c.minute.between(start, end)
            result["minutes"] = [minute_text(m)[11:16] for m in range(start, end + 1)]
            series: Dict[Text, list] = defaultdict(lambda: [0] * minutes)
            for minute, label, count in conn.execute(
                    sa.select(emotion.c.minute, emotion.c.emotion, sa.func.sum(emotion.c.messages))
                    .where(window).group_by(emotion.c.minute, emotion.c.emotion)):
                series[label][minute - start] = int(count)
            result["emotions"] = dict(series)
            intents: Dict[Text, Dict[Text, int]] = defaultdict(dict)
            for intent, label, count in conn.execute(
                    sa.select(emotion.c.intent, emotion.c.emotion, sa.func.sum(emotion.c.messages))
                    .where(window).group_by(emotion.c.intent, emotion.c.emotion)):
                intents[intent][label] = int(count)
            busiest = sorted(intents, key=lambda i: -sum(intents[i].values()))[:12]
            result["intents"] = {i: intents[i] for i in busiest}
            totals = conn.execute(sa.select(
                sa.func.coalesce(sa.func.sum(activity.c.messages), 0),
                sa.func.coalesce(sa.func.sum(activity.c.fallbacks), 0),
                sa.func.coalesce(sa.func.sum(activity.c.handoffs), 0),
                sa.func.coalesce(sa.func.sum(activity.c.conversations), 0),
            ).where(activity.c.minute.between(start, end))).one()
            messages = int(totals[0])
            result["totals"] = {
                "messages": messages, "fallbacks": int(totals[1]), "handoffs": int(totals[2]),
                "conversations": int(totals[3]),
                "fallback_rate": round(int(totals[1]) / messages, 4) if messages else 0.0,
            }
        conversations = schema.conversations
        result["needs_human"] = [
            {"sender_id": row.sender_id, "streak": row.streak, "last_intent": row.last_intent,
             "messages": row.messages, "last_seen": row.last_seen}
            for row in conn.execute(sa.select(conversations)
                                    .where(conversations.c.needs_human.is_(True))
                                    .order_by(conversations.c.last_seen.desc()).limit(50))
        ]
        alerts = schema.alerts
        result["alerts"] = [
            {"id": row.id, "kind": row.kind, "subject": row.subject,
             "time": minute_text(row.minute), "share": row.share, "baseline": row.baseline,
             "count": row.count, "delivered": row.delivered_at is not None}
            for row in conn.execute(sa.select(alerts).order_by(alerts.c.id.desc()).limit(50))
        ]
    return result


def transcript(tracker: Dict[Text, Any]) -> Dict[Text, Any]:
    """Turns of a conversation from Rasa's tracker JSON (read live, never stored)."""
    turns = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind == "user":
            parse = event.get("parse_data") or {}
            emotion = parse.get(EMOTION) if isinstance(parse.get(EMOTION), dict) else {}
            turns.append({
                "who": "user", "text": event.get("text") or "", "time": event.get("timestamp"),
                "intent": (parse.get("intent") or {}).get("name") or NO_LABEL,
                "emotion": emotion_of(parse) or NO_LABEL,
                "confidence": emotion.get("confidence"),
            })
        elif kind == "bot":
            turns.append({"who": "bot", "text": event.get("text") or "",
                          "time": event.get("timestamp")})
        elif kind == "action" and event.get("name") == "action_handoff":
            turns.append({"who": "system", "text": "handed off to a human",
                          "time": event.get("timestamp")})
    return {"sender_id": tracker.get("sender_id"), "turns": turns}
