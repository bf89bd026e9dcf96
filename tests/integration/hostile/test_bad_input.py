"""Issue 13's crashes on the real trained model, and the channel limits over real HTTP."""
import uuid
from typing import Text

import pytest
import requests

from tests.fuzz.inputs import SPECIAL_TEXTS
from tests.integration.hostile.conftest import MESSAGES_PER_MINUTE, GuardedAssistant

ISSUE_13_TEXTS = ["", "   \t", "😀" * 30, "⎶⪫ꌠꉧꇉ⊒▤⍲⥽ꆽ⣁⤞", "\u200b", "ᚠᛇᚻ ꙮ ⍟"]


@pytest.mark.parametrize("text", ISSUE_13_TEXTS)
def test_issue13_trained_model_parses_empty_whitespace_emoji_and_symbols(
    guarded_assistant: GuardedAssistant, text: Text
) -> None:
    """These raised GraphComponentException in FastLoadingDIETClassifier (Agent.parse_message)."""
    parsed = requests.post(f"{guarded_assistant.url}/model/parse", json={"text": text}, timeout=120)
    assert parsed.status_code == 200, parsed.text
    assert parsed.json()["intent"]["name"]
    replies = requests.post(
        f"{guarded_assistant.url}/webhooks/rest/webhook",
        json={"sender": f"issue13-{uuid.uuid4().hex[:8]}", "message": text}, timeout=120,
    )
    assert replies.status_code == 200 and replies.json(), replies.text


def test_a_one_megabyte_message_is_refused_with_a_clear_reply(guarded_assistant: GuardedAssistant) -> None:
    body = {"sender": "huge", "message": "x" * 1_000_000}
    reply = requests.post(f"{guarded_assistant.url}/webhooks/rest/webhook", json=body, timeout=60)
    assert reply.status_code == 413
    assert "too large" in reply.json()[0]["text"]
    just_too_long = {"sender": "long", "message": SPECIAL_TEXTS["long_word"]}
    reply = requests.post(f"{guarded_assistant.url}/webhooks/rest/webhook", json=just_too_long, timeout=60)
    assert reply.status_code == 413 and "too long (5000 characters)" in reply.json()[0]["text"]
    # The HTTP API's parse route, which Rasa leaves unlimited, has the channel's limit too.
    parsed = requests.post(f"{guarded_assistant.url}/model/parse", json={"text": "x" * 1_000_000}, timeout=60)
    assert parsed.status_code == 413 and parsed.json()["reason"] == "MessageTooLong"
    assert "the limit is 2000 characters" in parsed.json()["message"]


@pytest.mark.parametrize("body", [b"[1,2,3]", b"not json", b'{"sender": 5}', b'"text"'])
def test_a_malformed_request_gets_400_and_says_why(guarded_assistant: GuardedAssistant, body: bytes) -> None:
    reply = requests.post(f"{guarded_assistant.url}/webhooks/rest/webhook", data=body, timeout=60)
    assert reply.status_code == 400
    assert reply.json()[0]["text"].startswith("Send a JSON object like")


def test_too_many_messages_in_a_minute_get_429(guarded_assistant: GuardedAssistant) -> None:
    sender = f"flood-{uuid.uuid4().hex[:8]}"
    statuses = [
        requests.post(f"{guarded_assistant.url}/webhooks/rest/webhook",
                      json={"sender": sender, "message": "/greet"}, timeout=120).status_code
        for _ in range(MESSAGES_PER_MINUTE + 1)
    ]
    assert statuses == [200] * MESSAGES_PER_MINUTE + [429]
    other = requests.post(f"{guarded_assistant.url}/webhooks/rest/webhook",
                          json={"sender": f"{sender}-other", "message": "/greet"}, timeout=120)
    assert other.status_code == 200  # the limit is per conversation
