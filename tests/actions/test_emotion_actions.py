"""action_track_emotion: the second angry message in a row sets `anger_repeated`, nothing else does;
the `emotion` slot follows the latest message."""
from typing import Any, Dict, List, Optional, Text

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.emotion import ActionTrackEmotion, anger_streak
from tests.actions.conftest import run


def user(text: Text, emotion: Text, confidence: float = 0.9) -> Dict[Text, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": "complain", "confidence": 1.0},
                       "entities": [], "emotion": {"name": emotion, "confidence": confidence}},
    }


def track_all(
    messages: List[Dict[Text, Any]], anger_repeated: Optional[bool] = None,
    emotion: Optional[Text] = None,
) -> List[Any]:
    events = []
    for message in messages:
        events += [message, {"event": "action", "name": "utter_apologize"}]
    tracker = Tracker("angry-user", {"anger_repeated": anger_repeated, "emotion": emotion},
                      messages[-1]["parse_data"], events, False, None, {}, "action_listen")
    return run(ActionTrackEmotion().run(CollectingDispatcher(), tracker, {}))


def track(messages: List[Dict[Text, Any]], anger_repeated: Optional[bool] = None) -> List[Any]:
    """The events for `anger_repeated` only."""
    return [e for e in track_all(messages, anger_repeated) if e["name"] == "anger_repeated"]


def test_the_emotion_slot_follows_the_latest_message_whatever_its_confidence() -> None:
    messages = [user("late AGAIN", "anger"), user("hmm ok", "joy", confidence=0.3)]
    assert track_all(messages, emotion="anger") == [SlotSet("emotion", "joy")]


def test_an_unchanged_emotion_sets_nothing() -> None:
    assert track_all([user("hi", "neutral"), user("ok", "neutral")], emotion="neutral") == []


def test_second_angry_message_in_a_row_sets_the_slot() -> None:
    assert track([user("where is it", "neutral"), user("late AGAIN", "anger"),
                  user("unbelievable", "anger")]) == [SlotSet("anger_repeated", True)]


def test_one_angry_message_does_not() -> None:
    assert track([user("hi", "joy"), user("late AGAIN", "anger")]) == []


def test_anger_with_a_calm_message_between_does_not() -> None:
    assert track([user("late AGAIN", "anger"), user("ok", "neutral"), user("grr", "anger")]) == []


def test_unsure_anger_does_not_count() -> None:
    assert track([user("late AGAIN", "anger"), user("hmm", "anger", confidence=0.3)]) == []


def test_the_slot_is_reset_after_the_streak() -> None:
    messages = [user("late", "anger"), user("late!", "anger"), user("yes please", "neutral")]
    assert track(messages, anger_repeated=True) == [SlotSet("anger_repeated", None)]
    # a third angry message in a row does not offer again
    messages[-1] = user("still waiting!!", "anger")
    assert track(messages, anger_repeated=True) == [SlotSet("anger_repeated", None)]


@pytest.mark.parametrize("emotions,streak", [([], 0), (["anger"], 1), (["joy", "anger", "anger"], 2),
                                             (["anger", None], 0)])
def test_anger_streak(emotions: List[Optional[Text]], streak: int) -> None:
    assert anger_streak(emotions) == streak
