"""Rasa's REST channel with the limits of channels/limits.py, under the same name and URL.

credentials.yml names it `channels.rest.LimitedRestInput:` instead of `rest:`; clients keep
POSTing `{"sender": ..., "message": ..., "metadata": {...}}` to /webhooks/rest/webhook and get the
same list of replies. What Rasa's channel does with a bad request, and what this one does:

- body over `max_body_kb`: parsed anyway / 413 and a reply saying so;
- invalid JSON, JSON that is not an object, a message that is not text, metadata that is not an
  object, an unusable sender: an HTTP 500 from an AttributeError deep in Rasa / 400 and a reply
  that says what is wrong;
- a message over `max_message_chars`: parsed for as long as it takes / 413 and a reply;
- more than `messages_per_minute` in one conversation: all handled / 429 and a reply.

It also puts `max_message_chars` on the HTTP API's routes that parse text (`POST /model/parse`,
`POST /conversations/<id>/messages`; channels/api_limits.py), which Rasa leaves unlimited.
"""
import json
from asyncio import CancelledError
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.api_limits import refuse_long_text
from channels.limits import (
    BAD_REQUEST,
    TOO_MANY,
    Limits,
    RateLimiter,
    clean_conversation_id,
    clean_text,
)

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "default"  # what Rasa's channel uses when the request names no sender


class BadRequest(ValueError):
    """The request cannot be a user message; the text says why, for the client."""


class LimitedRestInput(RestInput):
    """`RestInput` that refuses what a public endpoint must not process, with a clear reply."""

    def __init__(self, limits: Optional[Limits] = None) -> None:
        self.limits = limits or Limits()
        self.rate = RateLimiter(self.limits.messages_per_minute)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Limits.from_credentials(credentials))

    def parse_request(self, body: bytes) -> Tuple[Text, Text, Optional[Dict[Text, Any]], Optional[Text]]:
        """(sender, text, metadata, input_channel) of a request body, or BadRequest."""
        try:
            payload = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            raise BadRequest("the body is not valid JSON")
        if not isinstance(payload, dict):
            raise BadRequest("the body is JSON, but not an object")
        sender = payload.get("sender", DEFAULT_SENDER)
        sender_id = clean_conversation_id(sender)
        if sender_id is None:
            raise BadRequest(f"`sender` must be text or a number of 1 to 255 printable characters")
        text = payload.get("message")
        if not isinstance(text, str):
            raise BadRequest("`message` must be text")
        metadata = payload.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRequest("`metadata` must be an object")
        channel = payload.get("input_channel")
        if channel is not None and not isinstance(channel, str):
            raise BadRequest("`input_channel` must be text")
        return sender_id, clean_text(text), metadata, channel

    @staticmethod
    def refuse(status: int, sender_id: Text, text: Text) -> HTTPResponse:
        """A refusal in the channel's reply format, so a chat window shows it as the bot's answer."""
        return response.json([{"recipient_id": sender_id, "text": text}], status=status)

    async def respond(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[None]],
        message: UserMessage,
    ) -> HTTPResponse:
        """Process a message that passed every limit; the replies as Rasa's channel gives them."""
        try:
            await on_new_message(message)
        except CancelledError:  # as Rasa's channel: the client went away or the turn timed out
            logger.error("REST message of conversation %s timed out.", message.sender_id)
        except Exception:  # as Rasa's channel: logged, and the client gets what was said so far
            logger.exception("REST message of conversation %s failed.", message.sender_id)
        return response.json(message.output_channel.messages)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.listener("before_server_start")
        async def limit_the_api(app: Sanic, _loop: Any) -> None:
            # The HTTP API's parsing routes get the same length limit (channels/api_limits.py).
            app.register_middleware(refuse_long_text(self.limits.max_message_chars), "request")

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            body = request.body or b""
            if len(body) > self.limits.max_body_bytes:
                return self.refuse(
                    413, DEFAULT_SENDER,
                    f"That request is too large ({len(body)} bytes); the limit is "
                    f"{self.limits.max_body_bytes} bytes.",
                )
            try:
                sender_id, text, metadata, channel = self.parse_request(body)
            except BadRequest as problem:
                return self.refuse(400, DEFAULT_SENDER, BAD_REQUEST.format(problem=problem))
            too_long = self.limits.too_long(text)
            if too_long:
                return self.refuse(413, sender_id, too_long)
            if not self.rate.allow(sender_id):
                logger.info("Conversation %s is over %d messages a minute.", sender_id,
                            self.limits.messages_per_minute)
                refusal = self.refuse(429, sender_id, TOO_MANY)
                refusal.headers["Retry-After"] = "60"
                return refusal
            input_channel = channel or self.name()
            if bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(on_new_message, text, sender_id, input_channel, metadata),
                    content_type="text/event-stream",
                )
            return await self.respond(request, on_new_message, UserMessage(
                text, CollectingOutputChannel(), sender_id, input_channel=input_channel,
                metadata=metadata,
            ))

        return webhook
