"""Rasa's REST channel, made safe to retry: a message sent twice with the same id runs once.

Behind a load balancer a client (or the balancer) retries a request whose replica died or
timed out. Rasa 3.6's `RestInput` takes no message id and answers 200 even when processing
failed, so a retry either runs the user's message a second time or is never made. This channel
(same name `rest`, same URL `/webhooks/rest/webhook`, same request and reply, and the limits of
channels/rest.py) adds:

- an optional message id, `"message_id"` in the request body or `metadata.message_id`: stored on
  the `UserUttered` event. Under the conversation's lock (RedisLockStore with several replicas),
  the tracker is read first; if that id was already processed, the replies stored after it are
  returned and nothing runs again;
- an honest status: 503 (with `{"error": ...}`) when the message could not be processed and
  saved, so the client knows to retry; 200 only once the turn is in the tracker store;
- no silent fallback to memory: Rasa wraps every tracker store in `FailSafeTrackerStore`, which
  on a database error reads an empty conversation and saves the turn in the replica's memory
  (the user gets an answer from a blank history, and the turn is lost). The channel uses the
  wrapped store directly, so a database outage is a 503 and the retry, once the database is
  back, continues the real conversation.

- events in the broker before the reply: Rasa's Pika broker publishes in background tasks, so a
  replica killed right after a turn loses that turn's events from the broker (they are in the
  tracker store). With a broker that offers `flushed()` (`brokers.pika.FlushingPikaEventBroker`,
  as in endpoints.production.yml, also inside `privacy.MaskingEventBroker`), the channel answers
  only once the broker has published (RabbitMQ confirmed) what the replica handed it, and a
  replayed retry publishes its turn's events again: the broker gets every stored event at least
  once (consumers deduplicate by sender, type and timestamp).
  When the broker is down, Rasa keeps the events in memory and the turn still succeeds.

Without a message id the channel behaves as Rasa's, except for the status codes above.
"""
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import action_outage
from channels.rest import LimitedRestInput

logger = logging.getLogger(__name__)

MESSAGE_ID_KEY = "message_id"
REPLY_KEYS = ("image", "buttons", "attachment", "custom")


def message_id_of(body: Dict[Text, Any]) -> Optional[Text]:
    """The client's id for this message: `message_id` in the body, else in its metadata."""
    metadata = body.get("metadata")
    given = body.get(MESSAGE_ID_KEY) or (
        metadata.get(MESSAGE_ID_KEY) if isinstance(metadata, dict) else None
    )
    return str(given) if given not in (None, "") else None


def stored_replies(tracker: DialogueStateTracker, message_id: Text) -> Optional[List[Dict]]:
    """The bot's replies to the user message `message_id`, as the REST channel returned them;
    None when that message is not in the tracker (it was never processed and saved)."""
    replies: Optional[List[Dict]] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            reply: Dict[Text, Any] = {"recipient_id": tracker.sender_id}
            if event.text is not None:
                reply["text"] = event.text
            reply.update({k: event.data[k] for k in REPLY_KEYS if event.data.get(k) is not None})
            replies.append(reply)
    return replies


def turn_events(tracker: DialogueStateTracker, message_id: Text) -> List[Event]:
    """The user message `message_id` and every event after it, up to the next user message."""
    turn: List[Event] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if turn:
                break
            if event.message_id == message_id:
                turn.append(event)
        elif turn:
            turn.append(event)
    return turn


async def published(store: TrackerStore) -> None:
    """Wait until the broker has sent what this replica handed it so far, through the broker's
    public `flushed()` (brokers.pika.FlushingPikaEventBroker, and privacy.MaskingEventBroker
    around it; a publish that fails is kept in memory by the broker itself). A broker without
    `flushed()` (Rasa's own `pika`) cannot say, and the reply does not wait."""
    flushed = getattr(store.event_broker, "flushed", None)
    if flushed is not None:
        await flushed()


async def publish_again(store: TrackerStore, tracker: DialogueStateTracker, message_id: Text) -> None:
    """Hand a replayed turn's events to the broker again, as Rasa's tracker store does after a save."""
    if store.event_broker is None:
        return
    for event in turn_events(tracker, message_id):
        body = {"sender_id": tracker.sender_id}
        body.update(event.as_dict())
        store.event_broker.publish(body)
    await published(store)


def without_memory_fallback(agent: Agent) -> TrackerStore:
    """Make the agent's processor use the real tracker store, not Rasa's in-memory fallback."""
    store = agent.tracker_store
    if isinstance(store, FailSafeTrackerStore):
        store = store._tracker_store  # the configured store (no public accessor in Rasa 3.6)
        agent.tracker_store = store
        agent.processor.tracker_store = store
    return store


async def handle_once(agent: Agent, message: UserMessage, message_id: Optional[Text]) -> List[Dict]:
    """Process `message` under its conversation's lock unless `message_id` was processed already."""
    store = without_memory_fallback(agent)
    async with agent.lock_store.lock(message.sender_id):
        if message_id is not None:
            tracker = await store.retrieve(message.sender_id)
            previous = stored_replies(tracker, message_id) if tracker else None
            if previous is not None:
                logger.info("Message %s of %s was already processed: replaying its replies.",
                            message_id, message.sender_id)
                await publish_again(store, tracker, message_id)
                return previous
        await agent.processor.handle_message(message)
        await published(store)
    return message.output_channel.messages


class IdempotentRestInput(LimitedRestInput):
    """The limited REST channel (channels/rest.py) with message ids, retry-safe processing and
    503 on failure (module doc)."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        action_outage.install()
        return super().blueprint(on_new_message)

    async def respond(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
    ) -> HTTPResponse:
        agent: Optional[Agent] = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            return response.json({"error": "the assistant is not ready"}, 503)
        message_id = message_id_of(request.json)  # the limits have checked it is an object
        if message_id is not None:
            message.message_id = message_id
        try:
            return response.json(await handle_once(agent, message, message_id))
        except Exception as error:  # noqa: BLE001 - any failure means "not processed, retry"
            logger.exception("Message %s of %s failed; the client may retry it.",
                             message_id, message.sender_id)
            return response.json({"error": f"not processed: {type(error).__name__}"}, 503)
