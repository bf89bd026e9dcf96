"""Rasa's socket.io channel with working session persistence.

Rasa 3.6's `SocketIOInput` calls `sio.enter_room(...)` without `await`. Recent python-socketio 5
releases (we run 5.18) made `AsyncServer.enter_room` a coroutine, so the call does nothing but warn
"coroutine 'AsyncServer.enter_room' was never awaited": the browser never joins the room of its
conversation, and with `session_persistence: true` no reply ever reaches it
(RasaHQ/rasa#13027, open). This subclass re-registers the `session_request` handler with the
room entered properly, and is otherwise Rasa's channel: same events, same settings, same name
(`socketio`, so its health URL stays /webhooks/socketio/).
"""
import inspect
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

logger = logging.getLogger(__name__)


class PersistentSocketIOInput(SocketIOInput):
    """`SocketIOInput` whose `session_request` puts the socket into its conversation's room."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by SocketIOInput.blueprint

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = str(requested) if requested else uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine in recent python-socketio
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug(f"Socket {sid} joined conversation {session_id}.")

        return socketio_webhook
