"""channels/limits.py, channels/rest.py, channels/socketio.py: what a public endpoint refuses, and says."""
import asyncio
import json
from typing import Any, List, Tuple

import pytest
from rasa.core.channels.channel import UserMessage
from socketio.packet import Packet

from channels.limits import Limits, RateLimiter, clean_conversation_id, clean_text
from channels.rest import BadRequest, LimitedRestInput
from channels.socketio import PersistentSocketIOInput


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'"hello"', "not an object"),
        (b"null", "not an object"),
        (b'{"sender": "a"}', "`message` must be text"),
        (b'{"sender": "a", "message": 42}', "`message` must be text"),
        (b'{"sender": {"x": 1}, "message": "hi"}', "`sender`"),
        (b'{"sender": true, "message": "hi"}', "`sender`"),
        (b'{"sender": "' + b"x" * 300 + b'", "message": "hi"}', "`sender`"),
        (b'{"sender": "a", "message": "hi", "metadata": [1]}', "`metadata` must be an object"),
        (b'{"sender": "a", "message": "hi", "input_channel": 5}', "`input_channel`"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
    ],
)
def test_rest_says_what_is_wrong_with_a_request(body: bytes, problem: str) -> None:
    with pytest.raises(BadRequest, match=problem):
        LimitedRestInput().parse_request(body)


def test_rest_cleans_what_it_passes_on() -> None:
    body = json.dumps({"sender": 12345, "message": "hi\x00 \ud800there"}).encode()
    sender, text, metadata, channel = LimitedRestInput().parse_request(body)
    assert (sender, text, metadata, channel) == ("12345", "hi \ufffdthere", None, None)
    text.encode("utf-8")  # storable


def test_limits_come_from_credentials() -> None:
    channel = LimitedRestInput.from_credentials(
        {"max_message_chars": 10, "max_body_kb": 2, "messages_per_minute": 3}
    )
    assert channel.limits == Limits(10, 2048, 3)
    assert "too long (11 characters)" in channel.limits.too_long("x" * 11)
    assert channel.limits.too_long("x" * 10) is None


def test_rate_limit_is_per_conversation_over_a_sliding_minute() -> None:
    limiter = RateLimiter(per_minute=2)
    assert [limiter.allow("a", now=t) for t in (0, 1, 2)] == [True, True, False]
    assert limiter.allow("b", now=2)
    assert limiter.allow("a", now=60.5) and not limiter.allow("a", now=60.9)


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(per_minute=1, max_conversations=100)
    for i in range(1000):
        limiter.allow(f"conversation-{i}", now=0)
    assert len(limiter._recent) == 100


def test_clean_helpers() -> None:
    assert clean_text("a\ud83d\ude00b\udc00") == "a😀b\ufffd"
    assert clean_conversation_id(" \x00 ") is None and clean_conversation_id(7) == "7"


async def socketio_exchange(messages: List[Any], **credentials: Any) -> Tuple[List[Any], List[UserMessage]]:
    channel = PersistentSocketIOInput.from_credentials(
        {"session_persistence": True, **credentials}
    )
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    channel.blueprint(on_new_message)
    sio, sent = channel.sio, []

    async def send(eio_sid: str, data: Any) -> None:
        sent.append(Packet(encoded_packet=data).data)

    async def send_packet(eio_sid: str, packet: Any) -> None:
        await send(eio_sid, packet.data)

    sio.eio.send, sio.eio.send_packet = send, send_packet
    sid = await sio.manager.connect("eio-1", "/")
    for message in messages:
        await sio.handlers["/"]["user_uttered"](sid, message)
    return [data[1]["text"] for data in sent if data[0] == "bot_uttered"], received


def test_socketio_refuses_with_a_reply_instead_of_raising() -> None:
    replies, received = asyncio.run(socketio_exchange(
        ["just a string", None, [1, 2], {"session_id": "s", "message": 5},
         {"session_id": "s", "message": "x" * 50}, {"session_id": {"a": 1}, "message": "hi"},
         {"session_id": "s", "message": "ok", "metadata": "{not json"}],
        max_message_chars=20,
    ))
    assert replies == ["I can only read text messages."] + [
        "Your message is too long (50 characters). Please keep it under 20 characters."
    ]
    assert [(m.sender_id, m.text, m.metadata) for m in received] == [("s", "ok", None)]


def test_socketio_rate_limit_and_packet_size() -> None:
    messages = [{"session_id": "s", "message": f"hi {i}"} for i in range(4)]
    replies, received = asyncio.run(socketio_exchange(messages, messages_per_minute=3, max_body_kb=8))
    assert len(received) == 3 and replies == [
        "You're sending messages faster than I can answer. Please wait a moment and try again."
    ]
    channel = PersistentSocketIOInput.from_credentials({"max_body_kb": 8})

    async def build() -> int:
        channel.blueprint(lambda message: asyncio.sleep(0))
        return channel.sio.eio.max_http_buffer_size

    assert asyncio.run(build()) == 8192


def test_socketio_events_without_data_do_not_raise() -> None:
    """A client may emit `user_uttered` or `session_request` with no argument at all (the fuzz run
    found Rasa's signature raising TypeError: no acknowledgement, an error in the log)."""
    channel = PersistentSocketIOInput.from_credentials({"session_persistence": True})

    async def exchange() -> None:
        channel.blueprint(lambda message: asyncio.sleep(0))
        sio = channel.sio
        sio.eio.send = sio.eio.send_packet = lambda *args: asyncio.sleep(0)
        sid = await sio.manager.connect("eio-2", "/")
        await sio.handlers["/"]["session_request"](sid)
        await sio.handlers["/"]["user_uttered"](sid)

    asyncio.run(exchange())
