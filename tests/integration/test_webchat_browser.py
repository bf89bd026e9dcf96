"""The web chat page (webchat/) in a real headless Chromium, against the running demo assistant.

Debian's chromium (scripts/install_browser.sh) driven by Playwright; no browser download.
Screenshots go to test-artifacts/ (gitignored) so a person can look at what the test saw.
"""
import json
import re
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Text

import pytest
import yaml
from playwright.sync_api import Browser, Page, Route, expect

from actions import db
from scripts.serve_webchat import make_server
from scripts.servers import free_port
from tests.integration.conftest import REPO, RunningAssistant

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
REPLY_TIMEOUT_MS = 120_000  # a shared 2-core machine can be slow to answer; not a timing assertion


@pytest.fixture(scope="module")
def webchat_url() -> Iterator[Text]:
    """webchat/ served by scripts/serve_webchat.py on a free loopback port."""
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def chat_page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (empty localStorage), as a new visitor has."""
    expect.set_options(timeout=REPLY_TIMEOUT_MS)
    context = chromium.new_context(viewport={"width": 480, "height": 760})
    page = context.new_page()
    page.set_default_timeout(REPLY_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def page_for(webchat_url: Text, rasa_url: Text) -> Text:
    return f"{webchat_url}?{urllib.parse.urlencode({'server': rasa_url})}"


def open_chat(page: Page, url: Text) -> None:
    page.goto(url)
    expect(page.locator("body[data-ready='true']")).to_have_count(1)


def say(page: Page, text: Text) -> None:
    bot_messages = page.locator(".message--bot").count()
    page.fill("#message", text)
    page.press("#message", "Enter")
    expect(page.locator(".message--user").last).to_contain_text(text)
    expect(page.locator(".message--bot")).not_to_have_count(bot_messages)


def screenshot(page: Page, name: Text) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"webchat-{name}.png"), full_page=True)


def tracker(assistant: RunningAssistant, sender: Text) -> Any:
    url = f"{assistant.url}/conversations/{urllib.parse.quote(sender)}/tracker"
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def emotion_classifier_in_pipeline() -> bool:
    config = yaml.safe_load((REPO / "config.yml").read_text())
    return any("EmotionClassifier" in step["name"] for step in config.get("pipeline", []))


def order_status(assistant: RunningAssistant, order_id: Text) -> Text:
    db.configure(assistant.database_url)
    try:
        order = db.get_order(order_id)
    finally:
        db.reset_configuration()
    assert order is not None
    return order.status


def test_order_status_quick_reply_and_reload(
    running_assistant: RunningAssistant, webchat_url: Text, chat_page: Page
) -> None:
    page = chat_page
    open_chat(page, page_for(webchat_url, running_assistant.url))
    expect(page.locator("#connection")).to_have_text("Online")

    say(page, "where is my order A1001?")
    reply = page.locator(".message--bot").filter(has_text="A1001").last
    expect(reply).to_contain_text(re.compile(order_status(running_assistant, "A1001"), re.I))
    expect(page.locator("#typing")).to_be_hidden()
    emotion = page.locator(".message--user").last.locator(".message__emotion")
    if emotion_classifier_in_pipeline():
        expect(emotion).to_have_attribute("aria-label", re.compile(r"^Detected emotion: \w+"))
    else:
        expect(emotion).to_have_count(0)
    screenshot(page, "1-order-status")

    # A question with quick replies: the buttons come from the response's `buttons`.
    say(page, "please cancel my order A1001")
    keep = page.get_by_role("button", name="No, keep it")
    expect(keep).to_be_visible()
    expect(page.get_by_role("button", name="Yes, cancel it")).to_be_visible()
    screenshot(page, "2-quick-replies")
    bot_messages = page.locator(".message--bot").count()
    keep.click()
    expect(page.locator(".message--user").last).to_have_text(re.compile("No, keep it"))
    expect(page.locator(".message--bot")).not_to_have_count(bot_messages)
    expect(page.locator(".message--bot").last).to_contain_text("won't cancel")
    expect(page.locator(".quick-reply")).to_have_count(0)
    assert order_status(running_assistant, "A1001") == "shipped"  # "no" really kept it

    session_id = page.locator("body").get_attribute("data-session-id")
    assert session_id
    turns_before = page.locator(".message").count()

    # A reload continues the same conversation: same id, earlier turns shown again from the
    # tracker store, and the next message lands in the same tracker.
    page.reload()
    expect(page.locator("body[data-ready='true']")).to_have_count(1)
    assert page.locator("body").get_attribute("data-session-id") == session_id
    expect(page.locator(".message")).to_have_count(turns_before)
    expect(page.locator(".message--user").first).to_contain_text("where is my order A1001?")
    expect(page.locator(".message--user").last).to_contain_text("No, keep it")
    screenshot(page, "3-after-reload")

    say(page, "thank you")
    user_texts = [e["text"] for e in tracker(running_assistant, session_id)["events"]
                  if e["event"] == "user"]
    assert user_texts[0] == "where is my order A1001?"
    assert user_texts[-1] == "thank you"
    screenshot(page, "4-conversation-continues")


@pytest.mark.slow  # starts a second server twice: about 1 min
def test_server_down_is_visible_and_the_page_reconnects(
    running_assistant: RunningAssistant, webchat_url: Text, chat_page: Page
) -> None:
    with running_assistant.second_server() as assistant:
        check_server_down_and_back(assistant, webchat_url, chat_page)


def check_server_down_and_back(
    running_assistant: RunningAssistant, webchat_url: Text, page: Page
) -> None:
    open_chat(page, page_for(webchat_url, running_assistant.url))
    say(page, "where is my order A1001?")
    session_id = page.locator("body").get_attribute("data-session-id")
    unavailable = page.locator("#unavailable")
    expect(unavailable).to_be_hidden()

    running_assistant.rasa.stop()
    try:
        expect(unavailable).to_be_visible()
        expect(unavailable).to_contain_text("unavailable")
        expect(page.locator("#send")).to_be_disabled()
        expect(page.locator("#connection")).to_have_text("Offline")
        screenshot(page, "5-server-down")
    finally:
        running_assistant.rasa.start(f"{running_assistant.url}/status", timeout=900)

    # socket.io reconnects by itself and asks for the same session again.
    expect(unavailable).to_be_hidden()
    expect(page.locator("#send")).to_be_enabled()
    assert page.locator("body").get_attribute("data-session-id") == session_id
    say(page, "where is my order A1002?")
    expect(page.locator(".message--bot").filter(has_text="A1002").last).to_contain_text(
        re.compile(order_status(running_assistant, "A1002"), re.I)
    )
    user_texts = [e["text"] for e in tracker(running_assistant, session_id)["events"]
                  if e["event"] == "user"]
    assert user_texts[-2:] == ["where is my order A1001?", "where is my order A1002?"]


def test_page_opened_while_the_server_is_down(webchat_url: Text, chat_page: Page) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    chat_page.goto(page_for(webchat_url, nothing_listens))
    expect(chat_page.locator("#unavailable")).to_be_visible()
    expect(chat_page.locator("#unavailable")).to_contain_text("Retrying")
    expect(chat_page.locator("#send")).to_be_disabled()
    screenshot(chat_page, "6-never-connected")


def test_emotion_indicator_shows_only_what_the_tracker_carries(
    running_assistant: RunningAssistant, webchat_url: Text, chat_page: Page
) -> None:
    """Earlier turns with and without `parse_data.emotion` (as the EmotionClassifier writes it)."""
    page = chat_page
    page.add_init_script("window.localStorage.setItem('rapport.chat.session', 'emotion-check')")
    events = [
        {"event": "user", "text": "this is the third time my parcel is late!",
         "parse_data": {"intent": {"name": "complain"},
                        "emotion": {"name": "anger", "confidence": 0.91}}},
        {"event": "bot", "text": "I'm really sorry about that.", "data": {}},
        {"event": "user", "text": "where is my order A1001?",
         "parse_data": {"intent": {"name": "check_order_status"}}},
        {"event": "bot", "text": "Order A1001 has shipped.", "data": {}},
    ]

    def fake_tracker(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json",
                      headers={"Access-Control-Allow-Origin": "*"},
                      body=json.dumps({"sender_id": "emotion-check", "events": events}))

    page.route(re.compile(r".*/conversations/emotion-check/tracker.*"), fake_tracker)
    open_chat(page, page_for(webchat_url, running_assistant.url))

    users = page.locator(".message--user")
    expect(users).to_have_count(2)
    badge = users.nth(0).locator(".message__emotion")
    expect(badge).to_contain_text("anger")
    expect(badge).to_have_attribute("aria-label", "Detected emotion: anger (91%)")
    expect(users.nth(1).locator(".message__emotion")).to_have_count(0)
    screenshot(page, "7-emotion-indicator")
