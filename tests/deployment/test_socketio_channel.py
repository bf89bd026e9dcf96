"""channels.socketio.PersistentSocketIOInput: with session persistence, the assistant's replies
reach the socket that asked for the session (they did not with Rasa 3.6's own channel on
python-socketio 5.18: RasaHQ/rasa#13027)."""
import asyncio
from typing import Any, List, Optional, Text, Tuple, Type

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from socketio.packet import Packet

from channels.limits import clean_conversation_id
from channels.socketio import PersistentSocketIOInput

EIO_SID = "engineio-client-1"


async def conversation(
    channel_class: Type[SocketIOInput], session_id: Optional[Any]
) -> Tuple[List[Tuple[Text, Any]], List[UserMessage]]:
    """Connect one socket, ask for a session, send a message; the assistant answers "hello".

    Returns what was sent to that socket (event, data) and the messages Rasa received.
    """
    channel = channel_class.from_credentials(
        {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
         "session_persistence": True}
    )
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "hello")

    channel.blueprint(on_new_message)
    sio = channel.sio
    sent: List[Tuple[Text, Any]] = []

    def record(eio_sid: Text, encoded: Any) -> None:
        if eio_sid == EIO_SID:
            event = Packet(encoded_packet=encoded).data
            sent.append((event[0], event[1] if len(event) > 1 else None))

    # What goes over the wire to the browser, caught at the Engine.IO server.
    async def send(eio_sid: Text, data: Any) -> None:
        record(eio_sid, data)

    async def send_packet(eio_sid: Text, eio_packet: Any) -> None:
        record(eio_sid, eio_packet.data)

    sio.eio.send, sio.eio.send_packet = send, send_packet
    sid = await sio.manager.connect(EIO_SID, "/")
    await sio.handlers["/"]["session_request"](sid, {"session_id": session_id})
    confirmed = [data for event, data in sent if event == "session_confirm"]
    assert len(confirmed) == 1
    await sio.handlers["/"]["user_uttered"](sid, {"message": "hi", "session_id": confirmed[0]})
    return sent, received


def test_reply_reaches_the_socket_of_the_session_rasa_13027() -> None:
    sent, received = asyncio.run(conversation(PersistentSocketIOInput, "conversation-42"))
    assert ("session_confirm", "conversation-42") in sent
    assert [m.sender_id for m in received] == ["conversation-42"]
    assert ("bot_uttered", {"text": "hello"}) in sent


def test_the_bug_is_real_with_rasas_own_channel() -> None:
    """Why the subclass exists; if this starts failing, Rasa or python-socketio fixed it."""
    with pytest.warns(RuntimeWarning, match="never awaited"):
        sent, received = asyncio.run(conversation(SocketIOInput, "conversation-42"))
        import gc

        gc.collect()
    assert [m.sender_id for m in received] == ["conversation-42"]
    assert ("bot_uttered", {"text": "hello"}) not in sent


@pytest.mark.parametrize("requested", [None, "", 12345, "ü😀/..\x00"])
def test_any_session_request_gets_a_usable_session(requested: Any) -> None:
    sent, received = asyncio.run(conversation(PersistentSocketIOInput, requested))
    session_id = next(data for event, data in sent if event == "session_confirm")
    assert isinstance(session_id, str) and session_id
    if requested:
        # NUL and other control characters are dropped: PostgreSQL cannot store them.
        assert session_id == clean_conversation_id(requested) == str(requested).replace("\x00", "")
    assert [m.sender_id for m in received] == [session_id]
    assert ("bot_uttered", {"text": "hello"}) in sent
