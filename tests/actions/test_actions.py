"""Every custom action, run as the action server runs it, against a real SQLite database."""
import logging
from typing import Any, Dict, List, Text

import pytest
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, text

from actions import actions, db
from tests.actions.conftest import make_tracker, run, user_event


def texts(dispatcher: CollectingDispatcher) -> str:
    return " ".join(message.get("text") or message.get("response") for message in dispatcher.messages)


def call(action: Any, tracker: Any, domain: Dict[Text, Any]) -> tuple:
    dispatcher = CollectingDispatcher()
    events = run(action.run(dispatcher, tracker, domain))
    return texts(dispatcher), events


# --- order status and tracking -------------------------------------------------------------


def test_status_comes_from_the_database(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("where is my order A1001?", entity="A1001", order_id="A1001")
    reply, events = call(actions.ActionOrderStatus(), tracker, domain)
    assert "A1001" in reply and "shipped" in reply and "DHL" in reply
    assert "JD014600006281230" in reply
    assert SlotSet("order_id", "A1001") in events


def test_status_follows_changes_in_the_database(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("status of A1002", entity="A1002", order_id="A1002")
    assert "processing" in call(actions.ActionOrderStatus(), tracker, domain)[0]
    db.cancel_order("A1002")
    assert "cancelled" in call(actions.ActionOrderStatus(), tracker, domain)[0]


def test_lowercase_id_is_normalised(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("where is a1003", entity="a1003", order_id="a1003")
    reply, events = call(actions.ActionOrderStatus(), tracker, domain)
    assert "Order A1003 was delivered" in reply
    assert SlotSet("order_id", "A1003") in events


def test_id_in_the_text_is_used_when_nlu_missed_the_entity(
    database: db.Database, domain: Dict
) -> None:
    tracker = make_tracker("what about b2001", order_id=None)
    assert "B2001 was delivered" in call(actions.ActionOrderStatus(), tracker, domain)[0]


def test_the_id_from_an_earlier_turn_is_reused(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("has it shipped?", order_id="A1005")
    assert "Order A1005 is still processing" in call(actions.ActionOrderStatus(), tracker, domain)[0]


def test_without_an_id_the_user_is_asked_for_one(database: db.Database, domain: Dict) -> None:
    dispatcher = CollectingDispatcher()
    events = run(actions.ActionOrderStatus().run(dispatcher, make_tracker("where is my order"), domain))
    assert dispatcher.messages[0]["response"] == "utter_ask_order_id"
    assert events == [SlotSet("order_id", None)]


@pytest.mark.parametrize(
    "action",
    [actions.ActionOrderStatus(), actions.ActionTrackDelivery(), actions.ActionOrderDetails(),
     actions.ActionCancelOrder(), actions.ActionRequestRefund(), actions.ActionRefundStatus()],
    ids=lambda action: action.name(),
)
def test_unknown_order_is_explained_logged_and_forgotten(
    database: db.Database, domain: Dict, action: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker("order Z9999", entity="Z9999", order_id="Z9999")
    with caplog.at_level(logging.WARNING, logger="actions.actions"):
        reply, events = call(action, tracker, domain)
    assert "couldn't find an order with the number Z9999" in reply
    assert events == [SlotSet("order_id", None)]
    assert "unknown order id Z9999" in caplog.text


@pytest.mark.parametrize(
    "action",
    [actions.ActionOrderStatus(), actions.ActionTrackDelivery(), actions.ActionOrderDetails(),
     actions.ActionCancelOrder(), actions.ActionRequestRefund(), actions.ActionRefundStatus()],
    ids=lambda action: action.name(),
)
def test_database_error_is_explained_and_logged(
    broken_database: db.Database, domain: Dict, action: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker("order A1001", entity="A1001", order_id="A1001")
    with caplog.at_level(logging.ERROR, logger="actions.actions"):
        reply, events = call(action, tracker, domain)
    assert "can't reach our order system" in reply
    assert SlotSet("order_id", "A1001") in events  # kept, so a retry needs no retyping
    assert "database error for order A1001" in caplog.text


def test_dropped_table_is_a_database_error_too(database: db.Database, domain: Dict) -> None:
    with database.session() as session:
        session.execute(text("DROP TABLE order_items"))
    tracker = make_tracker("order A1001", entity="A1001", order_id="A1001")
    assert "can't reach our order system" in call(actions.ActionOrderStatus(), tracker, domain)[0]


@pytest.mark.parametrize(
    "order_id, expected",
    [("A1001", "Tracking number: JD014600006281230"),
     ("A1003", "delivered by UPS"),
     ("A1002", "hasn't shipped yet, so there's no tracking number"),
     ("A1004", "was cancelled, so there's nothing to track")],
)
def test_tracking_depends_on_the_status(
    database: db.Database, domain: Dict, order_id: str, expected: str
) -> None:
    tracker = make_tracker(f"track {order_id}", intent="track_delivery", order_id=order_id)
    assert expected in call(actions.ActionTrackDelivery(), tracker, domain)[0]


def test_order_details_list_items_and_total(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("what's in A1001", intent="ask_order_details", order_id="A1001")
    reply = call(actions.ActionOrderDetails(), tracker, domain)[0]
    assert "2 x Ceramic mug, blue ($12.50 each)" in reply
    assert "Total: $43.00" in reply


# --- cancelling ------------------------------------------------------------------------------


def test_cancel_a_processing_order(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("yes", intent="affirm", order_id="A1002")
    reply, _ = call(actions.ActionCancelOrder(), tracker, domain)
    assert "order A1002 is cancelled" in reply
    assert db.get_order("A1002").status == db.CANCELLED


@pytest.mark.parametrize(
    "order_id, reason",
    [("A1001", "already shipped with DHL"),
     ("A1003", "already delivered on"),
     ("A1004", "already cancelled")],
)
def test_cancel_is_refused_with_a_reason(
    database: db.Database, domain: Dict, order_id: str, reason: str
) -> None:
    before = db.get_order(order_id)
    tracker = make_tracker("yes", intent="affirm", order_id=order_id)
    reply, _ = call(actions.ActionCancelOrder(), tracker, domain)
    assert reason in reply and order_id in reply
    assert db.get_order(order_id) == before


# --- refunds ----------------------------------------------------------------------------------


def test_refund_request_is_stored_with_the_users_words(database: db.Database, domain: Dict) -> None:
    history = [user_event("my mug arrived broken", "report_item_problem")]
    tracker = make_tracker("yes", intent="affirm", order_id="A1003", history=history,
                           sender_id="refund-user")
    reply, _ = call(actions.ActionRequestRefund(), tracker, domain)
    assert "refund request R00001 for order A1003" in reply
    with database.session() as session:
        stored = session.execute(select(db.RefundRequest)).scalars().all()
    assert [(r.order_id, r.sender_id, r.reason) for r in stored] == [
        ("A1003", "refund-user", "my mug arrived broken")]
    again = call(actions.ActionRequestRefund(), tracker, domain)[0]
    assert "already an open refund request (R00001)" in again


@pytest.mark.parametrize(
    "order_id, expected",
    [("A1002", "hasn't shipped yet"), ("A1004", "refunded automatically")],
)
def test_refund_for_unshipped_orders_is_redirected(
    database: db.Database, domain: Dict, order_id: str, expected: str
) -> None:
    tracker = make_tracker("refund please", intent="request_refund", order_id=order_id)
    assert expected in call(actions.ActionRequestRefund(), tracker, domain)[0]
    assert db.latest_refund(order_id) is None


def test_refund_status(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("where is my refund", intent="ask_refund_status", order_id="A1007")
    assert "can't find a refund request for order A1007" in call(
        actions.ActionRefundStatus(), tracker, domain)[0]
    db.request_refund("A1007", "someone", "knife is blunt")
    assert "R00001 for order A1007 is pending" in call(
        actions.ActionRefundStatus(), tracker, domain)[0]


# --- handoff ------------------------------------------------------------------------------------


def test_handoff_is_stored_with_order_and_reason(database: db.Database, domain: Dict) -> None:
    history = [user_event("this is terrible service", "complain")]
    tracker = make_tracker("yes", intent="affirm", order_id="a1001", history=history,
                           sender_id="angry-user")
    reply, _ = call(actions.ActionHandoff(), tracker, domain)
    assert "ticket H00001" in reply
    with database.session() as session:
        stored = session.execute(select(db.HandoffRequest)).scalars().one()
    assert (stored.sender_id, stored.order_id, stored.reason) == (
        "angry-user", "A1001", "this is terrible service")


def test_handoff_without_database_gives_a_way_out(
    broken_database: db.Database, domain: Dict, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker("human please", intent="request_human")
    with caplog.at_level(logging.ERROR, logger="actions.actions"):
        reply, _ = call(actions.ActionHandoff(), tracker, domain)
    assert "support@example-shop.com" in reply
    assert "Could not store the handoff request" in caplog.text


# --- the address form --------------------------------------------------------------------------


def validate(slot: Text, value: Any) -> tuple:
    dispatcher = CollectingDispatcher()
    form = actions.ValidateChangeAddressForm()
    result = getattr(form, f"validate_{slot}")(value, dispatcher, make_tracker(), {})
    return result, texts(dispatcher)


@pytest.mark.parametrize("value, expected", [("sw1a 2aa", "SW1A 2AA"), ("62704", "62704"),
                                              ("the postcode is LS1 4AP", "LS1 4AP")])
def test_good_postcodes_are_normalised(value: str, expected: str) -> None:
    assert validate("postcode", value) == ({"postcode": expected}, "")


@pytest.mark.parametrize("value", ["1234", "ABCDE", "SW1A", "12 Elm Street", "627041"])
def test_bad_postcodes_are_rejected_with_a_hint(value: str) -> None:
    result, reply = validate("postcode", value)
    assert result == {"postcode": None}
    assert "postcode doesn't look right" in reply


def test_street_needs_a_house_number() -> None:
    assert validate("street", "Baker Street")[0] == {"street": None}
    assert validate("street", "221B Baker Street") == ({"street": "221B Baker Street"}, "")


def test_city_rejects_numbers() -> None:
    assert validate("city", "12345")[0] == {"city": None}
    assert validate("city", "new york")[0] == {"city": "New York"}


@pytest.mark.parametrize(
    "order_id, accepted, message",
    [("a1002", "A1002", ""),
     ("A1001", None, "already shipped"),
     ("A1004", None, "already cancelled"),
     ("Z9999", None, "couldn't find an order"),
     ("hello", None, "doesn't look like an order number")],
)
def test_only_processing_orders_can_be_readdressed(
    database: db.Database, order_id: str, accepted: Any, message: str
) -> None:
    result, reply = validate("order_id", order_id)
    assert result == {"order_id": accepted}
    assert message in reply


def test_form_validation_run_extracts_a_bare_lowercase_id(
    database: db.Database, domain: Dict
) -> None:
    """NLU found no entity in 'a1005', but the form still gets the order id."""
    tracker = make_tracker("a1005", intent="inform_order_id",
                           slots={"requested_slot": "order_id"},
                           active_loop="change_address_form")
    reply, events = call(actions.ValidateChangeAddressForm(), tracker, domain)
    assert SlotSet("order_id", "A1005") in events
    assert reply == ""


def test_fault_run_an_address_given_for_the_order_number_gets_a_reply(
    database: db.Database, domain: Dict
) -> None:
    """Regression (the cluster fault run): after "order A1002 is already cancelled, give me
    another order number", the street typed next made the form reject and the bot say nothing."""
    tracker = make_tracker("14 Queen Street", intent="inform_address",
                           slots={"requested_slot": "order_id"},
                           active_loop="change_address_form")
    reply, events = call(actions.ValidateChangeAddressForm(), tracker, domain)
    assert SlotSet("order_id", None) in events
    assert "doesn't look like an order number" in reply


def test_postcode_read_as_an_order_id_keeps_the_validated_order(
    database: db.Database, domain: Dict
) -> None:
    """Regression (ci4): one trained model tagged "L1" in the postcode "L1 8JQ" as an order id;
    the form rejected it, cleared the order and asked for the order number again."""
    tracker = make_tracker(
        "L1 8JQ", intent="inform_address",
        slots={"order_id": "L1", "street": "14 Queen Street", "city": "Liverpool",
               "requested_slot": "postcode"},
        history=[{"event": "slot", "name": "order_id", "value": "A1008"}],
        extra_events=[{"event": "slot", "name": "order_id", "value": "L1"},
                      {"event": "slot", "name": "postcode", "value": "L1 8JQ"}],
        active_loop="change_address_form")
    reply, events = call(actions.ValidateChangeAddressForm(), tracker, domain)
    assert SlotSet("order_id", "A1008") in events
    assert SlotSet("postcode", "L1 8JQ") in events
    assert "order number" not in reply


def test_form_validation_run_leaves_other_topics_to_the_rules(
    database: db.Database, domain: Dict
) -> None:
    """"stop" while the order number is asked for: no slot, so the form rejects and the rule
    that leaves the form runs."""
    tracker = make_tracker("stop", intent="stop", slots={"requested_slot": "order_id"},
                           active_loop="change_address_form")
    reply, events = call(actions.ValidateChangeAddressForm(), tracker, domain)
    assert not [e for e in events if e.get("name") == "order_id"]
    assert reply == ""


def test_form_validation_run_rejects_a_bad_postcode(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker(
        "99", intent="inform_address",
        slots={"order_id": "A1002", "street": "5 Park Lane", "city": "Leeds",
               "requested_slot": "postcode", "postcode": "99"},
        extra_events=[{"event": "slot", "name": "postcode", "value": "99"}],
        active_loop="change_address_form")
    reply, events = call(actions.ValidateChangeAddressForm(), tracker, domain)
    assert SlotSet("postcode", None) in events
    assert "postcode doesn't look right" in reply


def test_ask_actions_name_the_order(domain: Dict) -> None:
    tracker = make_tracker(order_id="A1002")
    assert "order A1002" in call(actions.ActionAskStreet(), tracker, domain)[0]
    assert call(actions.ActionAskCity(), tracker, domain)[0]
    assert call(actions.ActionAskPostcode(), tracker, domain)[0]


def address_tracker(order_id: str) -> Any:
    return make_tracker("LS1 4AP", intent="inform_address", sender_id="mover", slots={
        "order_id": order_id, "street": "5 Park Lane", "city": "Leeds", "postcode": "LS1 4AP"})


CLEARED = [SlotSet("street", None), SlotSet("city", None), SlotSet("postcode", None)]


def test_submit_changes_the_address_and_records_it(database: db.Database, domain: Dict) -> None:
    reply, events = call(actions.ActionSubmitAddressChange(), address_tracker("A1002"), domain)
    assert "Order A1002 will now be delivered to 5 Park Lane, Leeds LS1 4AP" in reply
    assert events == CLEARED
    assert db.get_order("A1002").address == "5 Park Lane, Leeds LS1 4AP"
    with database.session() as session:
        change = session.execute(select(db.AddressChange)).scalars().one()
    assert (change.order_id, change.sender_id) == ("A1002", "mover")


def test_submit_refuses_an_order_that_shipped_meanwhile(database: db.Database, domain: Dict) -> None:
    reply, events = call(actions.ActionSubmitAddressChange(), address_tracker("A1001"), domain)
    assert "order A1001 is shipped now" in reply
    assert events == CLEARED
    assert db.get_order("A1001").address == "12 Elm Street, Springfield 62704"


def test_submit_reports_a_database_error(
    broken_database: db.Database, domain: Dict, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="actions.actions"):
        reply, events = call(actions.ActionSubmitAddressChange(), address_tracker("A1002"), domain)
    assert "can't reach our order system" in reply
    assert events == CLEARED
    assert "Address change: database error" in caplog.text


def test_submit_with_missing_slots_changes_nothing(database: db.Database, domain: Dict) -> None:
    tracker = make_tracker("LS1 4AP", slots={"order_id": "A1002", "street": None})
    reply, _ = call(actions.ActionSubmitAddressChange(), tracker, domain)
    assert "nothing was changed" in reply
    assert db.get_order("A1002").address == "4 Harbour Road, Brighton BN1 1AA"


# --- fallback ---------------------------------------------------------------------------------


def test_core_fallback_asks_to_rephrase_and_forgets_the_message(domain: Dict) -> None:
    dispatcher = CollectingDispatcher()
    events = run(actions.ActionDefaultFallback().run(dispatcher, make_tracker("blorp"), domain))
    assert dispatcher.messages[0]["response"] == "utter_please_rephrase"
    assert events == [UserUtteranceReverted()]


def test_every_action_in_the_domain_is_implemented(domain: Dict) -> None:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    custom = [name for name in domain["actions"]]
    assert sorted(set(custom) - set(executor.actions)) == []
