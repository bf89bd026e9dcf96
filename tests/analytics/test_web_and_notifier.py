"""The service's HTTP side: the token, the overview JSON (labels and counts, no text), the
transcript shaping, and webhook delivery that survives a webhook outage (each alert once)."""
import json
import urllib.error
import urllib.request
from dataclasses import replace

import sqlalchemy as sa

from analytics import notifier, queries, records, schema
from analytics.aggregator import Aggregator
from analytics.settings import Settings
from analytics.synthetic import TEXT_MARKER, stream, turn_events
from scripts.servers import free_port
from tests.analytics.conftest import RunningService

START = 29_000_000


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_dashboard_token_guards_the_page_and_api_not_health_or_metrics(tmp_path):
    settings = replace(Settings(), database_url=f"sqlite:///{tmp_path / 'a.db'}", port=0,
                       tracker_store_url=f"sqlite:///{tmp_path / 't.db'}",
                       dashboard_token="letmein")
    service = RunningService(settings)
    try:
        base = service.url
        assert get(f"{base}/api/overview")[0] == 401
        assert get(f"{base}/")[0] == 401
        assert get(f"{base}/api/overview", {"Authorization": "Bearer nope"})[0] == 401
        assert get(f"{base}/api/overview", {"Authorization": "Bearer letmein"})[0] == 200
        assert get(f"{base}/?token=letmein")[0] == 200
        assert get(f"{base}/health")[0] == 200
        status, body = get(f"{base}/metrics")
        assert status == 200 and "rapport_analytics_events_total" in body
        assert get(f"{base}/static/vendor/chart.umd.js")[0] == 200
        assert get(f"{base}/api/overview?minutes=lots", {"Authorization": "Bearer letmein"})[0] == 400
    finally:
        service.stop()


def test_overview_counts_and_holds_no_text(tmp_path):
    engine = schema.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    events = stream(START, 10, seed=9)
    for n in range(3):
        events += turn_events("needs-help", (START + 9) * 60 + 50 + n, "order_status", "anger")
    Aggregator(engine, Settings()).apply([records.from_event(e) for e in events])
    data = queries.overview(engine, minutes=5)
    assert data["end"] == START + 9 and len(data["minutes"]) == 5
    users_in_window = [e for e in events if e["event"] == "user"
                       and START + 5 <= e["timestamp"] // 60 <= START + 9]
    assert data["totals"]["messages"] == len(users_in_window)
    assert sum(sum(series) for series in data["emotions"].values()) == len(users_in_window)
    assert [c["sender_id"] for c in data["needs_human"]] == ["needs-help"]
    assert [a["kind"] for a in data["alerts"]] == ["streak"]
    assert TEXT_MARKER not in json.dumps(data)
    empty = queries.overview(schema.make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    assert empty["end"] is None and empty["minutes"] == [] and empty["needs_human"] == []


def test_transcript_keeps_turns_and_per_turn_emotion():
    events = turn_events("c", 60.0, "order_status", "anger") + turn_events(
        "c", 70.0, "request_human", "sadness", action="action_handoff")
    tracker = {"sender_id": "c", "events": [{k: v for k, v in e.items() if k != "sender_id"}
                                            for e in events]}
    turns = queries.transcript(tracker)["turns"]
    assert [(t["who"], t.get("emotion")) for t in turns] == [
        ("user", "anger"), ("bot", None), ("user", "sadness"), ("system", None), ("bot", None)]
    assert turns[0]["intent"] == "order_status" and turns[0]["confidence"] == 0.8
    assert queries.transcript({"events": None}) == {"sender_id": None, "turns": []}


def test_alerts_wait_out_a_webhook_outage_and_are_delivered_once(tmp_path, webhook):
    engine = schema.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    events = []
    for sender in ("a", "b"):
        for n in range(3):
            events += turn_events(sender, START * 60 + n, "order_status", "anger")
    Aggregator(engine, Settings()).apply([records.from_event(e) for e in events])
    down = replace(Settings(), webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    assert notifier.deliver_pending(engine, down) == 0
    up = replace(Settings(), webhook_url=webhook.url, dashboard_url="http://dash")
    assert notifier.deliver_pending(engine, up) == 2
    assert notifier.deliver_pending(engine, up) == 0  # not again
    assert [p["text"].split("`")[1] for p in webhook.payloads] == ["a", "b"]
    assert all("angry for 3 turns" in p["text"] and "blocks" in p for p in webhook.payloads)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(
            schema.alerts.c.delivered_at.is_(None))).scalar() == 0
