"""The retry-safe REST channel's pieces: where a message id comes from, and which replies a
retry gets back (the whole channel runs against the real stack in tests/integration/cluster/)."""
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.idempotent_rest import message_id_of, stored_replies, turn_events


def test_message_id_comes_from_the_body_or_its_metadata() -> None:
    assert message_id_of({"message_id": "m1", "metadata": {"message_id": "m2"}}) == "m1"
    assert message_id_of({"metadata": {"message_id": 42}}) == "42"
    assert message_id_of({"message_id": ""}) is None
    assert message_id_of({"metadata": "not a dict"}) is None
    assert message_id_of({}) is None


def tracker_with_two_turns() -> DialogueStateTracker:
    return DialogueStateTracker.from_events("alice", [
        UserUttered("where is my order A1001?", message_id="m1"),
        SlotSet("order_id", "A1001"),
        BotUttered("Order A1001 shipped with DHL."),
        BotUttered("Anything else?", data={"buttons": [{"title": "no", "payload": "/deny"}]}),
        ActionExecuted("action_listen"),
        UserUttered("thanks", message_id="m2"),
        BotUttered("You're welcome!"),
        ActionExecuted("action_listen"),
    ])


def test_a_retried_message_gets_exactly_its_own_replies() -> None:
    tracker = tracker_with_two_turns()
    assert stored_replies(tracker, "m1") == [
        {"recipient_id": "alice", "text": "Order A1001 shipped with DHL."},
        {"recipient_id": "alice", "text": "Anything else?",
         "buttons": [{"title": "no", "payload": "/deny"}]},
    ]
    assert stored_replies(tracker, "m2") == [{"recipient_id": "alice", "text": "You're welcome!"}]


def test_a_message_not_in_the_tracker_is_processed() -> None:
    assert stored_replies(tracker_with_two_turns(), "m3") is None
    assert stored_replies(DialogueStateTracker.from_events("bob", []), "m1") is None


def test_a_processed_message_without_replies_is_not_processed_again() -> None:
    tracker = DialogueStateTracker.from_events("carol", [
        UserUttered("hm", message_id="m1"), ActionExecuted("action_listen"),
    ])
    assert stored_replies(tracker, "m1") == []


def test_a_replayed_turn_is_its_user_message_and_what_followed() -> None:
    tracker = tracker_with_two_turns()
    first = turn_events(tracker, "m1")
    assert [type(e).__name__ for e in first] == [
        "UserUttered", "SlotSet", "BotUttered", "BotUttered", "ActionExecuted"]
    assert [type(e).__name__ for e in turn_events(tracker, "m2")] == [
        "UserUttered", "BotUttered", "ActionExecuted"]
    assert turn_events(tracker, "m3") == []
