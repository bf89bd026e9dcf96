"""Actions that read the customer's emotion, as EmotionClassifier left it in the tracker.

Every user message's parse data carries `emotion` and `emotion_ranking`
(components/shared/contracts.py). `action_track_emotion` is the custom slot mapping of `emotion`
and `anger_repeated` (domain.yml): Rasa runs it after every user message; it copies the
message's emotion into the `emotion` slot (the classifier adds no entity, so end-to-end `rasa test`
scores only the entities a story can annotate), and sets `anger_repeated` to true when the
customer was angry in this message and the one before, which makes the assistant offer a
colleague (data/emotion.yml).
"""
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from components.shared.contracts import emotion_of

ANGER_REPEATED_SLOT = "anger_repeated"
EMOTION_SLOT = "emotion"
# Angry-looking messages the model is unsure about do not count: better no offer than a wrong one.
MIN_CONFIDENCE = 0.5


def message_emotion(parse_data: Dict[Text, Any]) -> Optional[Text]:
    """The emotion of one user message, if EmotionClassifier was confident enough."""
    return emotion_of(parse_data, MIN_CONFIDENCE)


def user_emotions(tracker: Tracker) -> List[Optional[Text]]:
    """Emotions of the user's messages in this session, oldest first."""
    return [
        message_emotion(event.get("parse_data") or {})
        for event in tracker.events_after_latest_restart()
        if event.get("event") == "user"
    ]


def anger_streak(emotions: List[Optional[Text]]) -> int:
    """How many of the latest messages in a row were angry."""
    streak = 0
    for emotion in reversed(emotions):
        if emotion != "anger":
            break
        streak += 1
    return streak


def emotion_slot_events(tracker: Tracker) -> List[EventType]:
    """The latest message's emotion (whatever its confidence) into the `emotion` slot."""
    name = emotion_of(tracker.latest_message or {})
    if name and name != tracker.get_slot(EMOTION_SLOT):
        return [SlotSet(EMOTION_SLOT, name)]
    return []


class ActionTrackEmotion(Action):
    """Slot mapping: `emotion` holds the latest message's emotion; `anger_repeated` is true
    exactly on the second angry message in a row."""

    def name(self) -> Text:
        return "action_track_emotion"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = emotion_slot_events(tracker)
        repeated = anger_streak(user_emotions(tracker)) == 2
        if repeated:
            return events + [SlotSet(ANGER_REPEATED_SLOT, True)]
        # Reset only if set, so that calm conversations keep the slot unset (as in the stories).
        if tracker.get_slot(ANGER_REPEATED_SLOT):
            return events + [SlotSet(ANGER_REPEATED_SLOT, None)]
        return events
