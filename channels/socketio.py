"""Rasa's socket.io channel with working session persistence.

Rasa 3.6's `SocketIOInput` calls `sio.enter_room(...)` without `await`. Recent python-socketio 5
releases (we run 5.18) made `AsyncServer.enter_room` a coroutine, so the call does nothing but warn
"coroutine 'AsyncServer.enter_room' was never awaited": the browser never joins the room of its
conversation, and with `session_persistence: true` no reply ever reaches it
(RasaHQ/rasa#13027, open). This subclass re-registers the `session_request` handler with the
room entered properly, and is otherwise Rasa's channel: same events, same settings, same name
(`socketio`, so its health URL stays /webhooks/socketio/).

It also enforces channels/limits.py (credentials.yml: `max_message_chars`, `max_body_kb`,
`messages_per_minute`): packets over the size limit are dropped by Engine.IO itself, and a
message that is not an object, has no text, is too long or comes too fast is answered on the
bot's event with a reply that says so, instead of raising inside the handler (Rasa's handler
calls `data.get` on whatever arrives and `json.loads` on string metadata).
"""
import inspect
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from channels.limits import TOO_MANY, Limits, RateLimiter, clean_conversation_id, clean_text

logger = logging.getLogger(__name__)


class PersistentSocketIOInput(SocketIOInput):
    """`SocketIOInput` whose `session_request` puts the socket into its conversation's room."""

    limits = Limits()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        channel = super().from_credentials(credentials)
        channel.limits = Limits.from_credentials(credentials)
        return channel

    def _metadata(self, data: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
        """The message's metadata object (Rasa also accepts it as a JSON string), else None."""
        metadata = data.get(self.metadata_key)
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                return None
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by SocketIOInput.blueprint
        sio.eio.max_http_buffer_size = self.limits.max_body_bytes
        rate = RateLimiter(self.limits.messages_per_minute)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            # An id that cannot be stored (NUL, over 255 characters, not text) gets a fresh one.
            session_id = clean_conversation_id(requested) or uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine in recent python-socketio
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug(f"Socket {sid} joined conversation {session_id}.")

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            output = SocketIOOutput(sio, self.bot_message_evt)
            data = data if isinstance(data, dict) else {}
            if self.session_persistence:
                sender_id = clean_conversation_id(data.get("session_id"))
                if sender_id is None:
                    logger.warning(f"Socket {sid} sent a message without a usable session_id; ignored.")
                    return
            else:
                sender_id = sid
            text = data.get("message")
            if not isinstance(text, str):
                await output.send_text_message(sid, "I can only read text messages.")
                return
            text = clean_text(text)
            refusal = self.limits.too_long(text)
            if refusal is None and not rate.allow(sender_id):
                refusal = TOO_MANY
            if refusal:
                await output.send_text_message(sid, refusal)
                return
            await on_new_message(
                UserMessage(text, output, sender_id, input_channel=self.name(),
                            metadata=self._metadata(data))
            )

        return socketio_webhook
