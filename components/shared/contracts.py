"""What Rapport's components put into a message, written and read through one module.

Rasa passes data between components as keys on a `Message`; keys set with `add_to_output=True`
reach `parse_data`, the `UserUttered` event, the tracker store and rasa_sdk's
`tracker.latest_message`. Each key below has one producer and a reader function that every
consumer (components, policies, actions, scripts) uses, so the format is defined once:

| key | producer | value |
|---|---|---|
| `emotion` | EmotionClassifier | `{"name": label, "confidence": float}` (the top of the ranking) |
| `emotion_ranking` | EmotionClassifier | every label as `{"name", "confidence"}`, most likely first |
| `noise_filter` | NoiseFilter | `{"text": typed, "clean_text": cleaned, "corrections": [...], "emoji": [...], "alignment": [...]}` |

`text` is what the user typed once NoiseFilterRestorer has run (the shipped config), and the
cleaned text before it: read the cleaned text with `clean_text`, never from `text` directly.
This module imports nothing heavy: actions and scripts read it without loading TensorFlow.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Text, Tuple

EMOTION = "emotion"
EMOTION_RANKING = "emotion_ranking"
NOISE_FILTER = "noise_filter"

# GoEmotions' Ekman grouping plus neutral, in the order of its labels.txt (label ids 0..6).
EMOTION_LABELS: Tuple[Text, ...] = (
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
)


# ------------------------------------------------------------------ emotion
def emotion_outputs(scores: Sequence[float]) -> Dict[Text, Any]:
    """`emotion` and `emotion_ranking` for one message, from one probability per label."""
    if len(scores) != len(EMOTION_LABELS):
        raise ValueError(f"expected {len(EMOTION_LABELS)} emotion scores, got {len(scores)}")
    ranking = sorted(
        ({"name": label, "confidence": float(score)} for label, score in zip(EMOTION_LABELS, scores)),
        key=lambda item: -item["confidence"],
    )
    return {EMOTION: dict(ranking[0]), EMOTION_RANKING: ranking}


def emotion_of(parse_data: Mapping[Text, Any], min_confidence: float = 0.0) -> Optional[Text]:
    """The message's emotion label, if EmotionClassifier set one with at least `min_confidence`."""
    emotion = parse_data.get(EMOTION)
    if not isinstance(emotion, Mapping) or emotion.get("name") not in EMOTION_LABELS:
        return None
    confidence = emotion.get("confidence")
    if not isinstance(confidence, (int, float)) or confidence < min_confidence:
        return None
    return emotion["name"]


def emotion_scores(parse_data: Mapping[Text, Any]) -> Dict[Text, float]:
    """Label -> confidence from `emotion_ranking` (empty when the message has none)."""
    ranking = parse_data.get(EMOTION_RANKING)
    if not isinstance(ranking, list):
        return {}
    return {
        item["name"]: float(item["confidence"])
        for item in ranking
        if isinstance(item, Mapping) and item.get("name") in EMOTION_LABELS
        and isinstance(item.get("confidence"), (int, float))
    }


# ------------------------------------------------------------------ noise filter
def noise_filter_record(
    typed: Text,
    clean: Text,
    corrections: List[Dict[Text, Any]],
    emoji: List[Dict[Text, Any]],
    alignment: List[Any],
) -> Dict[Text, Any]:
    """The `noise_filter` value NoiseFilter puts on a message."""
    return {
        "text": typed,
        "clean_text": clean,
        "corrections": corrections,
        "emoji": emoji,
        "alignment": alignment,
    }


def noise_filter_of(parse_data: Mapping[Text, Any]) -> Optional[Dict[Text, Any]]:
    """The NoiseFilter's record of a message, or None when no NoiseFilter ran."""
    record = parse_data.get(NOISE_FILTER)
    if isinstance(record, dict) and isinstance(record.get("text"), str):
        return record
    return None


def clean_text(parse_data: Mapping[Text, Any]) -> Optional[Text]:
    """The text the NLU pipeline read: NoiseFilter's cleaned text, else the message's text."""
    record = noise_filter_of(parse_data)
    text = record.get("clean_text") if record else parse_data.get("text")
    return text if isinstance(text, str) else None
