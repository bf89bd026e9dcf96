"""Limits the public channels enforce before a message reaches Rasa, and the replies that say so.

A public chat endpoint receives anything: a megabyte of text would be tokenized, featurized
and stored (seconds of CPU and a megabyte per event in the tracker store), a script can send
hundreds of messages a second into one conversation, and a client can send JSON that is not an
object, numbers where text belongs, lone surrogates or NUL characters that PostgreSQL refuses.
The REST and socket.io channels of this package check each request with `Limits` and answer in
the channel's own reply format, so a person in a chat window reads why nothing happened.

credentials.yml, under each channel (defaults shown):

    max_message_chars: 2000     # longer messages are refused, not parsed
    max_body_kb: 64             # request body (REST) / socket.io packet size
    messages_per_minute: 30     # per conversation; 0 = no limit
"""
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, Optional, Text

TOO_LONG = "Your message is too long ({length} characters). Please keep it under {limit} characters."
TOO_MANY = "You're sending messages faster than I can answer. Please wait a moment and try again."
BAD_REQUEST = (
    'Send a JSON object like {{"sender": "<conversation id>", "message": "<text>"}}: {problem}.'
)
MAX_SENDER_CHARS = 255  # Rasa's SQL tracker store keeps the conversation id in a VARCHAR(255)


@dataclass
class Limits:
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    messages_per_minute: int = 30

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "Limits":
        credentials = credentials or {}
        defaults = cls()
        return cls(
            max_message_chars=int(credentials.get("max_message_chars", defaults.max_message_chars)),
            max_body_bytes=int(float(credentials.get("max_body_kb", defaults.max_body_bytes / 1024)) * 1024),
            messages_per_minute=int(credentials.get("messages_per_minute", defaults.messages_per_minute)),
        )

    def too_long(self, text: Text) -> Optional[Text]:
        """The reply for a message over the length limit, or None."""
        if len(text) <= self.max_message_chars:
            return None
        return TOO_LONG.format(length=len(text), limit=self.max_message_chars)


class RateLimiter:
    """At most `per_minute` messages per conversation in any 60 seconds (sliding window).

    Remembers the `max_conversations` most recently active conversations, so a flood of new
    conversation ids cannot grow memory without bound.
    """

    def __init__(self, per_minute: int, max_conversations: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_conversations = max_conversations
        self._recent: "OrderedDict[Text, Deque[float]]" = OrderedDict()

    def allow(self, conversation_id: Text, now: Optional[float] = None) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        times = self._recent.pop(conversation_id, None) or deque()
        while times and now - times[0] >= 60.0:
            times.popleft()
        allowed = len(times) < self.per_minute
        if allowed:
            times.append(now)
        self._recent[conversation_id] = times
        while len(self._recent) > self.max_conversations:
            self._recent.popitem(last=False)
        return allowed


def clean_text(text: Text) -> Text:
    """Text every later stage can encode and store: lone surrogates (JSON allows "\\ud800") become
    U+FFFD, NUL characters (PostgreSQL refuses them in text) are dropped."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "")


def clean_conversation_id(value: Any) -> Optional[Text]:
    """The conversation id as text without control characters, or None if it is not usable as one
    (wrong type, empty, too long)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = "".join(char for char in clean_text(str(value)) if char.isprintable()).strip()
    if not text or len(text) > MAX_SENDER_CHARS:
        return None
    return text
