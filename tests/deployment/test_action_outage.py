"""With the action server down or hanging, the user gets an apology quickly, not silence
(channels/action_outage.py), against real sockets: a closed port and a server that never answers."""
import asyncio
import socket
from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from channels import action_outage
from scripts.servers import free_port

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


@pytest.fixture(autouse=True)
def outage_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the wrapper for this test only (monkeypatch restores Rasa's method)."""
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)
    action_outage.install()
    action_outage.install()  # a second install must not wrap twice


async def run_action(url: str) -> list:
    tracker = DialogueStateTracker.from_events("dave", [UserUttered("where is my order A1001?")])
    action = RemoteAction("action_order_status", EndpointConfig(url=url))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    return await action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)


def assert_apology(events: list) -> None:
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert events[0].text == action_outage.APOLOGY
    assert events[0].metadata == {action_outage.MARKER: "action_order_status"}


def test_a_refused_connection_becomes_an_apology_at_once() -> None:
    assert_apology(asyncio.run(run_action(f"http://127.0.0.1:{free_port()}/webhook")))


def test_an_action_server_that_never_answers_times_out_into_an_apology(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(action_outage.TIMEOUT_ENV, "0.5")
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        # without the wrapper's timeout this would wait for Rasa's 5 minutes
        events = asyncio.run(run_action(f"http://127.0.0.1:{port}/webhook"))
    assert_apology(events)


def test_wrapper_is_installed_once() -> None:
    assert getattr(RemoteAction.run, "_rapport_outage", False)
    assert not getattr(RemoteAction.run.__wrapped__, "_rapport_outage", False)


def test_the_domain_can_word_the_apology_itself() -> None:
    domain = DOMAIN.merge(Domain.from_dict({"responses": {
        action_outage.RESPONSE_NAME: [{"text": "Our order system is taking a break, back soon."}]}}))
    tracker = DialogueStateTracker.from_events("erin", [UserUttered("where is my order A1001?")])
    action = RemoteAction("action_order_status", EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"))
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, domain))
    assert [e.text for e in events] == ["Our order system is taking a break, back soon."]


def test_a_turn_with_two_failed_actions_apologises_once() -> None:
    first = asyncio.run(run_action(f"http://127.0.0.1:{free_port()}/webhook"))
    tracker = DialogueStateTracker.from_events("dave", [UserUttered("where is my order A1001?")] + first)
    action = RemoteAction("action_track_emotion", EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    assert asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)) == []
    tracker.update(UserUttered("and A1002?"))
    again = asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN))
    assert [e.text for e in again] == [action_outage.APOLOGY]  # a new message gets its own apology


def test_fault_run_a_form_whose_validation_is_down_apologises_and_asks_again() -> None:
    """Regression (cluster fault run, ci3 and session 6): the form asked for an order number, the
    customer typed a street while the action server was down; the validation call failed, Rasa's
    form rejected the turn (no slot filled) and dropped the apology with it: no reply at all."""
    tracker = DialogueStateTracker.from_events("fay", [
        ActionExecuted("change_address_form"), ActiveLoop("change_address_form"),
        SlotSet("requested_slot", "order_id"), ActionExecuted("action_listen"),
        UserUttered("14 Queen Street", intent={"name": "inform_address", "confidence": 1.0}),
    ], slots=DOMAIN.slots)
    form = FormAction("change_address_form", EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    events = asyncio.run(form.run(CollectingOutputChannel(), nlg, tracker, DOMAIN))
    said = [e.text for e in events if isinstance(e, BotUttered)]
    assert said[0] == action_outage.APOLOGY
    assert said[1:] == [DOMAIN.responses["utter_ask_order_id"][0]["text"]]
    assert SlotSet("order_id", None) in events
