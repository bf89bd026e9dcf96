"""Synthetic shop conversations as Rasa event dicts, for the replay tests and the throughput
bench: a calm stream (a few angry customers, at random) with planted anger spikes.

Each user message yields what Rasa emits for a turn: the ``user`` event (parse_data with intent,
emotion and emotion_ranking, as EmotionClassifier fills it), the action, its ``bot`` message and
``action_listen``. Texts carry a marker so tests can prove no text reaches the aggregates.
"""
import math
import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Text

from components.shared.contracts import EMOTION_LABELS, emotion_outputs

EMOTIONS = EMOTION_LABELS
TEXT_MARKER = "SECRET-TEXT"
# Messages per minute about each intent on a calm day.
RATES = {"order_status": 10, "cancel_order": 4, "shipping_info": 6, "greet": 3}
CALM = {"neutral": 0.72, "joy": 0.12, "sadness": 0.05, "surprise": 0.04, "fear": 0.03,
        "anger": 0.03, "disgust": 0.01}


@dataclass(frozen=True)
class PlantedSpike:
    """From ``start`` (minute offset) for ``minutes`` minutes, ``rate`` messages a minute about
    ``intent``, ``angry_share`` of them angry (exactly: the spike is planted, not sampled)."""

    intent: Text
    start: int
    minutes: int = 10
    rate: int = 16
    angry_share: float = 0.85


def user_event(sender: Text, timestamp: float, intent: Text, emotion: Text,
               text: Text = "") -> Dict:
    outputs = emotion_outputs([0.8 if e == emotion else 0.2 / 6 for e in EMOTIONS])
    return {
        "sender_id": sender, "event": "user", "timestamp": timestamp,
        "text": text or f"{TEXT_MARKER} about {intent}",
        "parse_data": {
            "text": text or f"{TEXT_MARKER} about {intent}",
            "intent": {"name": intent, "confidence": 0.93},
            "intent_ranking": [{"name": intent, "confidence": 0.93}],
            "entities": [], **outputs,
        },
        "input_channel": "rest", "message_id": f"{sender}-{timestamp}", "metadata": {},
    }


def turn_events(sender: Text, timestamp: float, intent: Text, emotion: Text,
                action: Text = "") -> List[Dict]:
    """One turn: the user's message, the action, the reply, then listening again."""
    action = action or f"utter_{intent}"
    return [
        user_event(sender, timestamp, intent, emotion),
        {"sender_id": sender, "event": "action", "timestamp": timestamp + 0.1, "name": action,
         "policy": "RulePolicy", "confidence": 1.0},
        {"sender_id": sender, "event": "bot", "timestamp": timestamp + 0.2,
         "text": f"{TEXT_MARKER} reply", "data": {}, "metadata": {}},
        {"sender_id": sender, "event": "action", "timestamp": timestamp + 0.3,
         "name": "action_listen", "policy": "RulePolicy", "confidence": 1.0},
    ]


def stream(start_minute: int, minutes: int, spikes: Sequence[PlantedSpike] = (),
           seed: int = 0) -> List[Dict]:
    """Events of ``minutes`` minutes from Unix minute ``start_minute``, in time order."""
    rng = random.Random(seed)
    labels, weights = zip(*CALM.items())
    events: List[Dict] = []
    for offset in range(minutes):
        base = (start_minute + offset) * 60
        for intent, rate in RATES.items():
            spike = next((s for s in spikes if s.intent == intent
                          and s.start <= offset < s.start + s.minutes), None)
            count = spike.rate if spike else rate
            angry = math.ceil(spike.angry_share * count) if spike else 0
            for n in range(count):
                emotion = "anger" if n < angry else rng.choices(labels, weights)[0]
                sender = f"c{rng.randrange(10 ** 9)}"
                events.extend(turn_events(sender, base + rng.uniform(0, 59.5), intent, emotion))
    events.sort(key=lambda e: e["timestamp"])
    return events
