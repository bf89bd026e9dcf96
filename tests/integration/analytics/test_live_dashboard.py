"""Chatting angrily with the running demo assistant shows on the analytics dashboard (headless
Chromium; how fast is a benchmark's question, not this test's), the transcript comes from Rasa's API with the emotion of each
turn, and `rasa run` and the action server export Prometheus metrics for it."""
import json
import re
import urllib.request
import uuid
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, expect

from analytics.settings import Settings
from tests.analytics.conftest import RunningService
from tests.integration.conftest import REPO, RunningAssistant

pytestmark = pytest.mark.browser

ANGRY = ["this is a disgrace, I'm furious", "I'm so angry, nobody ever answers me",
         "your service is pathetic"]
REPLY_TIMEOUT = 120  # a shared 2-core machine can be slow to answer; not a timing assertion


def say(assistant: RunningAssistant, sender: str, text: str) -> list:
    request = urllib.request.Request(
        f"{assistant.url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=REPLY_TIMEOUT) as reply:
        return json.loads(reply.read())


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as reply:
        return reply.read().decode()


def value(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.M)
    return float(match.group(1)) if match else 0.0


def test_angry_chat_shows_on_the_dashboard_with_its_transcript_and_metrics(
        running_assistant: RunningAssistant, chromium: Browser, tmp_path):
    settings = replace(Settings(), database_url=f"sqlite:///{tmp_path / 'analytics.db'}",
                       tracker_store_url=f"sqlite:///{running_assistant.tracker_db}",
                       rasa_url=running_assistant.url, port=0, poll_seconds=0.2)
    service = RunningService(settings)
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.set_default_timeout(30_000)
        page.goto(service.url + "/")
        expect(page.locator("body[data-ready='true']")).to_have_count(1, timeout=30_000)

        sender = f"angry-{uuid.uuid4().hex[:8]}"
        for text in ANGRY:
            assert say(running_assistant, sender, text), "the assistant did not answer"
        row = page.locator(f"#needs-human tr[data-sender='{sender}']")
        expect(row).to_be_visible(timeout=REPLY_TIMEOUT * 1000)
        expect(row.locator("td.angry")).to_have_text("3")
        page.screenshot(path=str(REPO / "test-artifacts" / "analytics-live.png"), full_page=True)

        row.locator("a").click()
        turns = page.locator("#turns li.user")
        expect(turns).to_have_count(3)
        assert turns.evaluate_all("ts => ts.map(t => t.dataset.emotion)") == ["anger"] * 3
        expect(turns.first).to_contain_text(ANGRY[0])  # read live from Rasa, not stored
        expect(page.locator("#turns li.bot").first).to_be_visible()
    finally:
        page.close()
        service.stop()

    rasa_metrics = scrape(running_assistant.url)
    assert value(rasa_metrics, 'rasa_emotions_total{emotion="anger"}') >= 3
    assert value(rasa_metrics, 'rasa_user_messages_total{channel="rest"}') >= 3
    assert value(rasa_metrics, 'rasa_http_request_duration_seconds_count{channel="rest"}') >= 3
    assert re.search(r'^rasa_model_info\{model_id="\w+",rasa_version="3\.6\.\d+"\} 1\.0$',
                     rasa_metrics, re.M)
    actions_url = running_assistant.actions.args[-1]
    action_metrics = scrape(f"http://127.0.0.1:{actions_url}")
    calls = re.findall(r'^rasa_sdk_action_calls_total\{action="(\w+)",status="200"\} (\S+)$',
                       action_metrics, re.M)
    assert calls and sum(float(n) for _, n in calls) >= 1, action_metrics[-2000:]
