"""The web chat page renders hostile bot text as text: no script runs, no element is injected.

A stand-in assistant (python-socketio, the same protocol as Rasa's channel, plus the tracker URL
the page reads its history from) answers the page's message with bot messages built from the
fuzz corpus: HTML and script tags, event-handler attributes, markdown links, `javascript:` image
sources, RTL and combining marks, 10,000 emoji, control characters. The same texts come back as
the conversation's history after a reload. The page is webchat/ in Debian's Chromium.
"""
import asyncio
import threading
import unicodedata
from typing import Any, Dict, Iterator, List, Text

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, expect

from scripts.servers import free_port
from tests.fuzz.inputs import SPECIAL_TEXTS, texts
from tests.integration.test_webchat_browser import (  # noqa: F401  (fixtures)
    chat_page,
    open_chat,
    page_for,
    webchat_url,
)

pytestmark = pytest.mark.browser

HOSTILE = [
    SPECIAL_TEXTS["html"],
    '<svg onload="window.__pwned=1"></svg><iframe src="javascript:window.__pwned=1">',
    "</span></li><li class='message message--bot'><script>window.__pwned=1</script>",
    "<a href=\"javascript:window.__pwned=1\">click</a> &lt;b&gt; &amp;",
    SPECIAL_TEXTS["markdown"], SPECIAL_TEXTS["right_to_left"], SPECIAL_TEXTS["combining"][:300],
    SPECIAL_TEXTS["ten_thousand_emoji"], SPECIAL_TEXTS["template"], SPECIAL_TEXTS["control"],
    "{{constructor.constructor('window.__pwned=1')()}}",
]


def _bot_messages(batch: List[Text]) -> List[Dict[Text, Any]]:
    messages: List[Dict[Text, Any]] = [{"text": text} for text in batch]
    messages.append({
        "text": "buttons",
        "quick_replies": [{"title": text[:200], "payload": "/greet"} for text in batch[:3]],
        "attachment": {"type": "image", "payload": {"src": "javascript:window.__pwned=1"}},
        "emotion": {"name": '<img src=x onerror="window.__pwned=1">', "confidence": 0.9},
    })
    return messages


class StandInAssistant:
    """Answers every `user_uttered` with the current batch of hostile bot messages."""

    def __init__(self) -> None:
        import socketio
        from aiohttp import web

        self.port = free_port()
        self.batch: List[Text] = []
        self.history: List[Dict[Text, Any]] = []
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = web.Application()
        sio.attach(app)

        @sio.on("session_request")
        async def session_request(sid: Text, data: Any) -> None:
            session = (data or {}).get("session_id") or "stand-in"
            await sio.emit("session_confirm", session, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: Text, data: Any) -> None:
            for message in _bot_messages(self.batch):
                await sio.emit("bot_uttered", message, room=sid)

        async def tracker(request: Any) -> Any:
            body = {"events": self.history, "latest_message": {"emotion": {"name": "<b>x</b>"}}}
            return web.json_response(body, headers={"Access-Control-Allow-Origin": "*"})

        app.router.add_get("/conversations/{sender}/tracker", tracker)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> Text:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInAssistant]:
    assistant = StandInAssistant()
    yield assistant
    assistant.stop()


INJECTED = """() => ({
  pwned: window.__pwned === 1,
  injected: document.querySelectorAll(
    '#messages script, #messages iframe, #messages svg, #messages a, #messages [onerror], #messages [onload]'
  ).length,
  images: Array.from(document.querySelectorAll('#messages img')).map(i => i.getAttribute('src')),
  bodies: Array.from(document.querySelectorAll('.message--bot')).map(li => li.textContent),
})"""


def check_page(page: Page, batch: List[Text]) -> None:
    state = page.evaluate(INJECTED)
    assert not state["pwned"] and state["injected"] == 0
    assert all(src == "javascript:window.__pwned=1" for src in state["images"])  # inert in <img>
    shown = printable("\n".join(state["bodies"]))
    for text in batch:
        assert printable(text).strip()[:50] in shown


def printable(text: Text) -> Text:
    """The text as compared: a lone surrogate as U+FFFD on both sides (the transport may keep it
    or replace it), control and format characters left out."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return "".join(c for c in text if unicodedata.category(c) not in {"Cc", "Cf"})


@settings(max_examples=5, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(extra=st.lists(texts(200), min_size=1, max_size=10))
def test_bot_text_and_history_render_as_text(
    stand_in: StandInAssistant, webchat_url: str, chat_page: Page, extra: List[Text]  # noqa: F811
) -> None:
    stand_in.batch = HOSTILE + [text for text in extra if text.strip()]
    stand_in.history = []
    page = chat_page
    url = page_for(webchat_url, stand_in.url)
    page.goto(url)
    page.evaluate("() => localStorage.clear()")  # a new visitor for every example
    open_chat(page, url)
    page.fill("#message", "hello")
    page.press("#message", "Enter")
    # One bubble per text, one for "buttons", one for the image attachment.
    expect(page.locator(".message--bot")).to_have_count(len(stand_in.batch) + 2)
    check_page(page, stand_in.batch)

    # The same texts as stored history, rendered again after a reload.
    stand_in.history = [{"event": "bot", "text": text} for text in stand_in.batch] + [
        {"event": "user", "text": text} for text in stand_in.batch[:4]
    ]
    page.reload()
    expect(page.locator("body[data-ready='true']")).to_have_count(1)
    check_page(page, stand_in.batch)
