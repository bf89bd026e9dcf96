"""An apology instead of silence when the action server cannot be reached.

Rasa 3.6 logs a failed call to the action server ("Couldn't connect", a 5xx from the load
balancer) and carries on with no events: the user's question gets no answer at all, and a
server that hangs holds the turn for Rasa's 5-minute request timeout. `install()` wraps
`RemoteAction.run` once per process so that such a failure, or no answer within
`RAPPORT_ACTION_TIMEOUT` seconds (default 10), becomes one bot message (`APOLOGY`, or the
domain's `utter_action_unavailable` response if it has one). The action's other events are lost,
as in stock Rasa; the conversation goes on, and the next message reaches the action server
again once it is back. A rejection by the action server (a form's validation) is not an outage
and is left to Rasa.

A form's validation action that cannot be reached also leaves the slot the form asked for unset:
without a slot event Rasa's form rejects the turn when the message filled no slot itself (an
answer to "what's your order number?" with no order id in it), and the apology would be dropped
with the rejection, leaving the user with silence. With the slot unset the form goes on: the
apology, then the question again.

Installed by the channels that serve users (channels/idempotent_rest.py) when Rasa builds them.
"""
import asyncio
import functools
import logging
import os
from typing import Any, List

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import BotUttered, Event, SlotSet, UserUttered
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)

TIMEOUT_ENV = "RAPPORT_ACTION_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
RESPONSE_NAME = "utter_action_unavailable"
APOLOGY = ("Sorry, I can't look that up right now: part of our system is down. "
           "Please try again in a minute.")
MARKER = "rapport_action_unavailable"


def action_timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def apologised_this_turn(tracker: Any) -> bool:
    """Whether an earlier action of this turn already apologised (say it once per message)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and MARKER in (event.metadata or {}):
            return True
    return False


async def apology(action: RemoteAction, nlg: Any, tracker: Any, domain: Any, output_channel: Any) -> List[Event]:
    """The bot message that stands in for the failed action (none if this turn has one already)."""
    if apologised_this_turn(tracker):
        return []
    text = APOLOGY
    if RESPONSE_NAME in domain.responses:
        generated = await nlg.generate(RESPONSE_NAME, tracker, output_channel.name())
        text = (generated or {}).get("text") or APOLOGY
    return [BotUttered(text, metadata={MARKER: action.name()})]


def unvalidated_slot(action: RemoteAction, tracker: Any) -> List[Event]:
    """For a form's validation action (`validate_<form>`): the requested slot, left unset."""
    requested = tracker.get_slot(REQUESTED_SLOT)
    if action.name().startswith("validate_") and requested:
        return [SlotSet(requested, None)]
    return []


def install() -> None:
    """Wrap `RemoteAction.run` (idempotent: a second call changes nothing)."""
    run = RemoteAction.run
    if getattr(run, "_rapport_outage", False):
        return

    @functools.wraps(run)
    async def run_or_apologise(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        try:
            return await asyncio.wait_for(run(self, output_channel, nlg, tracker, domain), action_timeout())
        except ActionExecutionRejection:
            raise
        except (RasaException, asyncio.TimeoutError) as error:
            logger.error("Action server unavailable for '%s' (%s): apologising to %s.",
                         self.name(), error or type(error).__name__, tracker.sender_id)
            return await apology(self, nlg, tracker, domain, output_channel) + unvalidated_slot(self, tracker)

    run_or_apologise._rapport_outage = True  # type: ignore[attr-defined]
    RemoteAction.run = run_or_apologise  # type: ignore[assignment]
