"""Custom actions of the order-support assistant (served by `rasa run actions`).

Every action that touches the database follows the same contract: an unknown order
id, an order whose status forbids the request, or a database error is answered with a
clear message and logged; nothing is raised to the action server.
"""

import datetime as dt
import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import db
from actions.validation import (
    normalise_city,
    normalise_order_id,
    normalise_postcode,
    normalise_street,
)

logger = logging.getLogger(__name__)

ORDER_ID_SLOT = "order_id"
# Answers to a question of ours; the user's actual request is the message before them.
_ANSWER_INTENTS = {"affirm", "deny", "inform_order_id", "inform_address"}

DATABASE_ERROR = (
    "Sorry, I can't reach our order system right now, so I couldn't {what}. "
    "Please try again in a few minutes, or contact support@example-shop.com."
)
NOT_FOUND = (
    "I couldn't find an order with the number {order_id}. Please check the number in "
    "your confirmation email: it's a letter followed by four digits, like A1001."
)


def format_date(day: Optional[dt.date]) -> Text:
    return f"{day:%A}, {day.day} {day:%B}" if day else "an unknown date"


def format_money(amount: Any) -> Text:
    return f"${amount:,.2f}"


def order_id_from(tracker: Tracker) -> Optional[Text]:
    """The order id the user means: from this message if it has one, else the slot."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == ORDER_ID_SLOT:
            order_id = normalise_order_id(entity.get("value"))
            if order_id:
                return order_id
    return normalise_order_id(tracker.latest_message.get("text")) or normalise_order_id(
        tracker.get_slot(ORDER_ID_SLOT)
    )


def slot_before_latest_message(tracker: Tracker, slot: Text) -> Any:
    """The slot's value before the latest user message filled it (slot events up to it)."""
    users = [i for i, event in enumerate(tracker.events) if event.get("event") == "user"]
    value = None
    for event in tracker.events[: users[-1] if users else None]:
        if event.get("event") == "restart":
            value = None
        elif event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def request_text(tracker: Tracker) -> Optional[Text]:
    """The user's own words for the request, skipping short answers like 'yes'."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in _ANSWER_INTENTS:
            return event.get("text")
    return tracker.latest_message.get("text")


class OrderAction(Action, ABC):
    """An action about one order: find the id, act on it, and explain any failure.

    Subclasses implement ``handle``, which may raise ``db.OrderNotFound`` or a
    ``SQLAlchemyError``; both are answered and logged here, in one place.
    """

    #: what the action does, for the database-error message ("couldn't {what}")
    what = "look up your order"

    @abstractmethod
    def handle(
        self, order_id: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> List[EventType]:
        """Act on an order id; raise ``db.OrderNotFound`` if there is no such order."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        order_id = order_id_from(tracker)
        if order_id is None:
            dispatcher.utter_message(response="utter_ask_order_id")
            return [SlotSet(ORDER_ID_SLOT, None)]
        try:
            events = self.handle(order_id, dispatcher, tracker)
        except db.OrderNotFound:
            logger.warning("%s: unknown order id %s", self.name(), order_id)
            dispatcher.utter_message(text=NOT_FOUND.format(order_id=order_id))
            return [SlotSet(ORDER_ID_SLOT, None)]
        except SQLAlchemyError:
            logger.exception("%s: database error for order %s", self.name(), order_id)
            dispatcher.utter_message(text=DATABASE_ERROR.format(what=self.what))
            return [SlotSet(ORDER_ID_SLOT, order_id)]
        return [SlotSet(ORDER_ID_SLOT, order_id), *events]


class OrderLookupAction(OrderAction, ABC):
    """A read-only answer about an existing order."""

    def handle(
        self, order_id: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> List[EventType]:
        order = db.get_order(order_id)
        if order is None:
            raise db.OrderNotFound(order_id)
        dispatcher.utter_message(text=self.describe(order))
        return []

    @abstractmethod
    def describe(self, order: db.OrderInfo) -> Text:
        """The answer for this order."""


class ActionOrderStatus(OrderLookupAction):
    def name(self) -> Text:
        return "action_order_status"

    def describe(self, order: db.OrderInfo) -> Text:
        if order.status == db.PROCESSING:
            return (
                f"Order {order.id} is still processing in our warehouse. "
                f"Estimated delivery: {format_date(order.estimated_delivery)}."
            )
        if order.status == db.SHIPPED:
            return (
                f"Order {order.id} has shipped with {order.carrier} "
                f"(tracking number {order.tracking_number}). "
                f"It should arrive by {format_date(order.estimated_delivery)}."
            )
        if order.status == db.DELIVERED:
            return f"Order {order.id} was delivered on {format_date(order.delivered_on)}."
        return (
            f"Order {order.id} was cancelled, so it won't be delivered. Any payment "
            f"goes back to your original payment method within 5 working days."
        )


class ActionTrackDelivery(OrderLookupAction):
    def name(self) -> Text:
        return "action_track_delivery"

    def describe(self, order: db.OrderInfo) -> Text:
        if order.status == db.SHIPPED:
            return (
                f"Order {order.id} is on its way with {order.carrier}. Tracking number: "
                f"{order.tracking_number}. Expected delivery: "
                f"{format_date(order.estimated_delivery)}."
            )
        if order.status == db.DELIVERED:
            return (
                f"Order {order.id} was delivered by {order.carrier} on "
                f"{format_date(order.delivered_on)} (tracking number {order.tracking_number})."
            )
        if order.status == db.PROCESSING:
            return (
                f"Order {order.id} hasn't shipped yet, so there's no tracking number. "
                f"We'll email it to you as soon as the parcel leaves our warehouse; "
                f"estimated delivery is {format_date(order.estimated_delivery)}."
            )
        return f"Order {order.id} was cancelled, so there's nothing to track."


class ActionOrderDetails(OrderLookupAction):
    def name(self) -> Text:
        return "action_order_details"

    def describe(self, order: db.OrderInfo) -> Text:
        lines = [
            f"- {quantity} x {product} ({format_money(price)} each)"
            for product, quantity, price in order.items
        ]
        return (
            f"Order {order.id} ({order.status}) contains:\n"
            + "\n".join(lines)
            + f"\nTotal: {format_money(order.total)}. Shipping to {order.address}."
        )


def refusal_to_cancel(order: db.OrderInfo) -> Text:
    if order.status == db.CANCELLED:
        return f"Order {order.id} was already cancelled, so there's nothing more to do."
    if order.status == db.SHIPPED:
        return (
            f"I can't cancel order {order.id} because it has already shipped with "
            f"{order.carrier}. Once it arrives you can return it for free within 30 days."
        )
    return (
        f"I can't cancel order {order.id} because it was already delivered on "
        f"{format_date(order.delivered_on)}. You can return it within 30 days of "
        f"delivery, or ask me for a refund."
    )


class ActionCancelOrder(OrderAction):
    """Runs only after the user confirmed; orders that already left are refused."""

    what = "cancel your order"

    def name(self) -> Text:
        return "action_cancel_order"

    def handle(
        self, order_id: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> List[EventType]:
        try:
            order = db.cancel_order(order_id)
        except db.OrderStateError as refused:
            logger.info("Refused to cancel order %s: it is %s", order_id, refused.status)
            order = db.get_order(order_id)
            if order is None:  # deleted in between
                raise db.OrderNotFound(order_id) from refused
            dispatcher.utter_message(text=refusal_to_cancel(order))
            return []
        logger.info("Cancelled order %s for %s", order.id, tracker.sender_id)
        dispatcher.utter_message(
            text=f"Done: order {order.id} is cancelled. You'll get a confirmation email, "
            f"and the payment goes back to your original payment method within "
            f"5 working days."
        )
        return []


class ActionRequestRefund(OrderAction):
    what = "open your refund request"

    def name(self) -> Text:
        return "action_request_refund"

    def handle(
        self, order_id: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> List[EventType]:
        try:
            refund = db.request_refund(order_id, tracker.sender_id, request_text(tracker))
        except db.OrderStateError as refused:
            logger.info("No refund request for order %s: it is %s", order_id, refused.status)
            if refused.status == db.CANCELLED:
                text = (
                    f"Order {order_id} was cancelled, so its payment is refunded "
                    f"automatically within 5 working days; there's no need for a request."
                )
            else:
                text = (
                    f"Order {order_id} hasn't shipped yet, so instead of a refund I can "
                    f"cancel it for you. Just say \"cancel my order\"."
                )
            dispatcher.utter_message(text=text)
            return []
        if refund.created:
            logger.info("Refund request %s stored for order %s", refund.reference, order_id)
            text = (
                f"I've opened refund request {refund.reference} for order {order_id}. Our "
                f"team reviews it within 2 working days, and the money goes back to your "
                f"original payment method."
            )
        else:
            text = (
                f"There's already an open refund request ({refund.reference}) for order "
                f"{order_id}; our team is working on it."
            )
        dispatcher.utter_message(text=text)
        return []


class ActionRefundStatus(OrderAction):
    what = "check your refund"

    def name(self) -> Text:
        return "action_refund_status"

    def handle(
        self, order_id: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> List[EventType]:
        if db.get_order(order_id) is None:
            raise db.OrderNotFound(order_id)
        refund = db.latest_refund(order_id)
        if refund is None:
            text = (
                f"I can't find a refund request for order {order_id}. If you'd like one, "
                f"just say \"I want a refund\"."
            )
        elif refund.status == "pending":
            text = (
                f"Refund request {refund.reference} for order {order_id} is pending: our "
                f"team reviews refunds within 2 working days."
            )
        else:
            text = f"Refund request {refund.reference} for order {order_id} is {refund.status}."
        dispatcher.utter_message(text=text)
        return []


class ActionHandoff(Action):
    """Record the request for a person, so that nobody is left waiting unseen."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        order_id = normalise_order_id(tracker.get_slot(ORDER_ID_SLOT))
        try:
            ticket = db.request_handoff(tracker.sender_id, order_id, request_text(tracker))
        except SQLAlchemyError:
            logger.exception("Could not store the handoff request of %s", tracker.sender_id)
            dispatcher.utter_message(
                text="Sorry, I couldn't pass your request on because our system is down. "
                "Please email support@example-shop.com or call 0800 123 4567, and a "
                "colleague will help you."
            )
            return []
        logger.info("Handoff request H%05d stored for %s", ticket, tracker.sender_id)
        dispatcher.utter_message(
            text=f"I've passed your conversation to our support team (ticket H{ticket:05d}). "
            f"A colleague will get back to you within one working day."
        )
        return []


class ValidateChangeAddressForm(FormValidationAction):
    """Checks each answer of change_address_form and says what is wrong with it."""

    def name(self) -> Text:
        return "validate_change_address_form"

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Accept an id typed on its own ('a1002') even if NLU found no entity. An address
        typed while the form asks for the order number is a wrong answer, not a change of topic:
        validating it (as no id) says what is wanted, where the form's rejection left the
        customer without any reply."""
        if tracker.get_slot("requested_slot") != ORDER_ID_SLOT:
            return {}
        order_id = normalise_order_id(tracker.latest_message.get("text"))
        if order_id:
            return {ORDER_ID_SLOT: order_id}
        if (tracker.latest_message.get("intent") or {}).get("name") == "inform_address":
            return {ORDER_ID_SLOT: None}
        return {}

    def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        order_id = normalise_order_id(slot_value)
        if order_id is None and tracker.get_slot("requested_slot") not in (None, ORDER_ID_SLOT):
            # An entity NLU found by mistake in the answer to another question ("L1" in the
            # postcode "L1 8JQ"): the order being changed stays the one already validated.
            return {ORDER_ID_SLOT: slot_before_latest_message(tracker, ORDER_ID_SLOT)}
        if order_id is None:
            dispatcher.utter_message(
                text="That doesn't look like an order number: it's a letter followed by "
                "four digits, like A1001."
            )
            return {ORDER_ID_SLOT: None}
        try:
            order = db.get_order(order_id)
        except SQLAlchemyError:
            logger.exception("validate_order_id: database error for order %s", order_id)
            dispatcher.utter_message(
                text=DATABASE_ERROR.format(what="check that order") + ' Say "stop" to leave.'
            )
            return {ORDER_ID_SLOT: None}
        if order is None:
            logger.warning("validate_order_id: unknown order id %s", order_id)
            dispatcher.utter_message(text=NOT_FOUND.format(order_id=order_id))
            return {ORDER_ID_SLOT: None}
        if order.status != db.PROCESSING:
            dispatcher.utter_message(
                text=f"Order {order_id} is already {order.status}, so its delivery address "
                f"can't be changed any more. Give me another order number, or say "
                f"\"stop\"."
            )
            return {ORDER_ID_SLOT: None}
        return {ORDER_ID_SLOT: order_id}

    def validate_street(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        street = normalise_street(slot_value)
        if street is None:
            dispatcher.utter_message(
                text="Please give the street with its house number, for example "
                "\"12 Elm Street\"."
            )
        return {"street": street}

    def validate_city(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        city = normalise_city(slot_value)
        if city is None:
            dispatcher.utter_message(
                text="That doesn't look like a town or city name. Which city should it go to?"
            )
        return {"city": city}

    def validate_postcode(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        postcode = normalise_postcode(slot_value)
        if postcode is None:
            dispatcher.utter_message(
                text="That postcode doesn't look right. Please use a US ZIP code like "
                "62704 or a UK postcode like SW1A 2AA."
            )
        return {"postcode": postcode}


class AskForAddressPart(Action, ABC):
    """The form's questions (action_ask_<slot>); they can name the order."""

    slot: Text

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    @abstractmethod
    def question(self, order_id: Text) -> Text:
        """What to ask for this slot."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(text=self.question(tracker.get_slot(ORDER_ID_SLOT) or "?"))
        return []


class ActionAskStreet(AskForAddressPart):
    slot = "street"

    def question(self, order_id: Text) -> Text:
        return f"What's the new street address for order {order_id}, with the house number?"


class ActionAskCity(AskForAddressPart):
    slot = "city"

    def question(self, order_id: Text) -> Text:
        return "Which town or city?"


class ActionAskPostcode(AskForAddressPart):
    slot = "postcode"

    def question(self, order_id: Text) -> Text:
        return "And the postcode (or ZIP code)?"


class ActionSubmitAddressChange(Action):
    """Writes the validated address; the order may have shipped since the form began."""

    def name(self) -> Text:
        return "action_submit_address_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        order_id = normalise_order_id(tracker.get_slot(ORDER_ID_SLOT))
        street, city, postcode = (tracker.get_slot(s) for s in ("street", "city", "postcode"))
        clear_address = [SlotSet("street", None), SlotSet("city", None), SlotSet("postcode", None)]
        if not (order_id and street and city and postcode):
            logger.error("Address change submitted without all slots: %s", tracker.slots)
            dispatcher.utter_message(
                text="Sorry, I'm missing part of the new address, so nothing was changed. "
                "Please start again by saying \"change my address\"."
            )
            return clear_address
        try:
            change = db.change_shipping_address(
                order_id, street, city, postcode, sender_id=tracker.sender_id
            )
        except db.OrderNotFound:
            logger.warning("Address change: unknown order id %s", order_id)
            dispatcher.utter_message(text=NOT_FOUND.format(order_id=order_id))
            return [*clear_address, SlotSet(ORDER_ID_SLOT, None)]
        except db.OrderStateError as refused:
            logger.info("Address change refused for %s: it is %s", order_id, refused.status)
            dispatcher.utter_message(
                text=f"Sorry, order {order_id} is {refused.status} now, so I couldn't "
                f"change its delivery address."
            )
            return clear_address
        except SQLAlchemyError:
            logger.exception("Address change: database error for order %s", order_id)
            dispatcher.utter_message(text=DATABASE_ERROR.format(what="change the address"))
            return clear_address
        logger.info("Order %s re-addressed (change %s)", order_id, change.id)
        dispatcher.utter_message(
            text=f"Done! Order {order_id} will now be delivered to {change.new_address}."
        )
        return clear_address


class ActionDefaultFallback(Action):
    """Core fallback: ask to rephrase and forget the message, so the dialogue resumes."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_please_rephrase")
        return [UserUtteranceReverted()]
