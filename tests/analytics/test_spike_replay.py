"""The spike alert end to end: a synthetic stream with planted spikes written to Rasa's events
table, replayed by the running service (tracker-store source), alerts posted to a real local
HTTP server in Slack's format. Each planted spike fires once, at its first minute; the calm
stream fires nothing: precision 1.0 and recall 1.0 over all seeds."""
import re
from dataclasses import replace

import pytest

from analytics.aggregator import Aggregator
from analytics.alerts import minute_text
from analytics.schema import make_engine
from analytics.settings import Settings
from analytics.sources import CURSOR
from analytics.synthetic import PlantedSpike, stream
from tests.analytics.conftest import RunningService, wait_until, write_tracker_events

START = 29_000_000
MINUTES = 150
SPIKES = [PlantedSpike("order_status", start=40), PlantedSpike("cancel_order", start=100, rate=10)]
SPIKE_TEXT = re.compile(r"Anger spike on intent `(\w+)`: .* minute (.+ UTC)\.")


def replay(tmp_path, events, webhook, name):
    tracker_url = f"sqlite:///{tmp_path / f'{name}-trackers.db'}"
    last_id = write_tracker_events(tracker_url, events)
    settings = replace(Settings(), database_url=f"sqlite:///{tmp_path / f'{name}-analytics.db'}",
                       tracker_store_url=tracker_url, webhook_url=webhook.url, port=0,
                       poll_seconds=0.05)
    service = RunningService(settings)
    try:
        progress = Aggregator(make_engine(settings.database_url), settings)
        wait_until(lambda: progress.progress(CURSOR) == last_id, message="the replay")
        raised = service.service.alerts
        wait_until(lambda: len(webhook.payloads) >= raised._value.get(), message="delivery")
    finally:
        service.stop()
    return [SPIKE_TEXT.search(p["text"]).groups() for p in webhook.payloads
            if "Anger spike" in p["text"]]


@pytest.mark.parametrize("seed", [11, 12])
def test_planted_spikes_fire_once_each_at_their_minute_and_calm_never(tmp_path, webhook, seed):
    calm = replay(tmp_path, stream(START, MINUTES, seed=seed), webhook, "calm")
    assert calm == []
    webhook.payloads.clear()
    fired = replay(tmp_path, stream(START, MINUTES, SPIKES, seed=seed), webhook, "spiky")
    planted = {(s.intent, minute_text(START + s.start)) for s in SPIKES}
    true_positives = planted & set(fired)
    precision = len(true_positives) / len(fired) if fired else 0.0
    recall = len(true_positives) / len(planted)
    assert (precision, recall) == (1.0, 1.0), fired
    assert len(fired) == len(planted)  # once per episode, not once per spiky minute
