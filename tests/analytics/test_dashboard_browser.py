"""The dashboard in headless Chromium (Debian's, driven by Playwright), over a replayed
synthetic hour with a planted spike and two conversations that need a human. The screenshot
goes to test-artifacts/analytics-dashboard.png; copied to docs/img/, it is the one the README and
docs/analytics.md show."""
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from analytics.aggregator import Aggregator
from analytics.schema import make_engine
from analytics.settings import Settings
from analytics.sources import CURSOR
from analytics.synthetic import PlantedSpike, stream, turn_events
from scripts.servers import free_port
from tests.analytics.conftest import RunningService, wait_until, write_tracker_events

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "test-artifacts" / "analytics-dashboard.png"
WAIT_MS = 30_000


def replayed_hour():
    """The last hour, with an anger spike on order_status from minute 40 and two customers
    angry for three turns (a third was handed off in time)."""
    start = int(time.time() // 60) - 60
    events = stream(start, 60, [PlantedSpike("order_status", start=40, minutes=8)], seed=7)
    at = (start + 55) * 60
    for n in range(3):
        events += turn_events("customer-417", at + 10 * n, "order_status", "anger")
        events += turn_events("customer-952", at + 10 * n + 3, "cancel_order", "anger")
    events += turn_events("customer-300", at, "order_status", "anger")
    events += turn_events("customer-300", at + 5, "request_human", "anger", action="action_handoff")
    events += turn_events("customer-300", at + 12, "order_status", "anger")
    events.sort(key=lambda e: e["timestamp"])
    return events


def test_dashboard_shows_the_mix_the_spike_and_who_needs_a_human(tmp_path, chromium):
    events = replayed_hour()
    tracker_url = f"sqlite:///{tmp_path / 'trackers.db'}"
    last_id = write_tracker_events(tracker_url, events)
    settings = replace(Settings(), database_url=f"sqlite:///{tmp_path / 'analytics.db'}",
                       tracker_store_url=tracker_url, port=0, poll_seconds=0.05,
                       rasa_url=f"http://127.0.0.1:{free_port()}")  # no Rasa there
    service = RunningService(settings)
    try:
        progress = Aggregator(make_engine(settings.database_url), settings)
        wait_until(lambda: progress.progress(CURSOR) == last_id, message="the replay")
        page = chromium.new_page(viewport={"width": 1280, "height": 980})
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.goto(service.url + "/")
        expect(page.locator("body[data-ready='true']")).to_have_count(1)

        users = [e for e in events if e["event"] == "user"]
        emotions = Counter(e["parse_data"]["emotion"]["name"] for e in users)
        expect(page.locator("#total-messages")).to_have_text(str(len(users)))
        expect(page.locator("#total-handoffs")).to_have_text("1")
        drawn = page.evaluate("""() => Object.fromEntries(
            Chart.getChart('emotion-timeline').data.datasets.map(
                d => [d.label, d.data.reduce((a, b) => a + b, 0)]))""")
        assert drawn == dict(emotions)
        intents = page.evaluate("Chart.getChart('emotion-by-intent').data.labels")
        assert intents[0] == "order_status" and "cancel_order" in intents

        rows = page.locator("#needs-human tbody tr")
        expect(rows).to_have_count(2)
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.sender)")) == [
            "customer-417", "customer-952"]
        alerts = page.locator("#alerts li")
        expect(alerts.filter(has_text="intent order_status")).to_have_count(1)
        expect(alerts.filter(has_text="no handoff")).to_have_count(2)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.locator("#needs-human a", has_text="customer-417").click()
        expect(page.locator("#transcript")).to_be_visible()
        expect(page.locator("#transcript-id")).to_have_text("customer-417")
        expect(page.locator("#turns li")).to_have_text(["Rasa is not reachable"])
    finally:
        service.stop()
    expect(page.locator("#status")).to_have_text("The analytics service is not answering; retrying…")
    page.close()
