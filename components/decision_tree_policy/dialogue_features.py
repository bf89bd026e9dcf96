"""Turn Rasa's tracker states into named features a decision tree can split on.

Rasa describes a conversation as a list of states (intent, entities, slots, previous action,
active loop per turn). A tree needs a flat vector, and a person reading the tree needs to
know what each column means, so every column gets a readable name ("t-1 intent = greet",
"t-0 slot order_id is set") plus the wording of its negation for the "no" branch. The
vocabulary is built from the training states and saved as JSON next to the tree.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import numpy as np
from rasa.shared.core.constants import (
    ACTION_LISTEN_NAME,
    ACTIVE_LOOP,
    LOOP_NAME,
    PREVIOUS_ACTION,
    SHOULD_NOT_BE_SET,
    SLOTS,
    USER,
)
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.slots import (
    BooleanSlot,
    CategoricalSlot,
    FloatSlot,
    ListSlot,
    TextSlot,
)
from rasa.shared.nlu.constants import ACTION_NAME, ACTION_TEXT, ENTITIES, INTENT


@dataclass(frozen=True)
class Feature:
    """One column: its name, how its "no" branch reads, and whether it is a 0/1 flag."""

    name: Text
    negation: Text
    binary: bool = True


def _turn(offset: int) -> Text:
    return f"t-{offset}"


def _slot_features(
    turn: Text, slot_name: Text, values: Any, domain: Domain
) -> Iterable[Tuple[Feature, float]]:
    """Name a slot's featurisation the way its slot type means it."""
    if values == SHOULD_NOT_BE_SET:
        yield Feature(
            f"{turn} slot {slot_name} must not be set",
            f"{turn} slot {slot_name} may be set",
        ), 1.0
        return
    slot = next((s for s in domain.slots if s.name == slot_name), None)
    for index, value in enumerate(values):
        if isinstance(slot, CategoricalSlot) and index < len(slot.values):
            category = slot.values[index]
            feature = Feature(
                f"{turn} slot {slot_name} = {category}",
                f"{turn} slot {slot_name} != {category}",
            )
        elif isinstance(slot, BooleanSlot):
            feature = (
                Feature(f"{turn} slot {slot_name} is set", f"{turn} slot {slot_name} is not set")
                if index == 0
                else Feature(
                    f"{turn} slot {slot_name} is true", f"{turn} slot {slot_name} is not true"
                )
            )
        elif isinstance(slot, (TextSlot, ListSlot)):
            feature = Feature(
                f"{turn} slot {slot_name} is set", f"{turn} slot {slot_name} is not set"
            )
        elif isinstance(slot, FloatSlot):
            feature = Feature(f"{turn} slot {slot_name} (scaled)", "", binary=False)
        else:
            feature = Feature(f"{turn} slot {slot_name}[{index}]", "", binary=False)
        if value:
            yield feature, float(value)


def state_features(
    state: State, offset: int, domain: Domain
) -> Iterable[Tuple[Feature, float]]:
    """The features (with their values) that one turn's state switches on."""
    turn = _turn(offset)
    user = state.get(USER, {})
    if user.get(INTENT):
        intent = user[INTENT]
        yield Feature(f"{turn} intent = {intent}", f"{turn} intent != {intent}"), 1.0
    for entity in user.get(ENTITIES, ()):
        yield Feature(
            f"{turn} entity {entity} given", f"{turn} entity {entity} not given"
        ), 1.0
    for slot_name, values in state.get(SLOTS, {}).items():
        yield from _slot_features(turn, slot_name, values, domain)
    previous = state.get(PREVIOUS_ACTION, {})
    action = previous.get(ACTION_NAME) or previous.get(ACTION_TEXT)
    if action:
        yield Feature(
            f"{turn} prev_action = {action}", f"{turn} prev_action != {action}"
        ), 1.0
    loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    if loop:
        yield Feature(
            f"{turn} active_loop = {loop}", f"{turn} active_loop != {loop}"
        ), 1.0


def history_features(
    states: List[State], domain: Domain
) -> Dict[Feature, float]:
    """All features of a state window; the last state is t-0, the one before t-1, ..."""
    features: Dict[Feature, float] = {}
    for offset, state in enumerate(reversed(states)):
        for feature, value in state_features(state, offset, domain):
            features[feature] = value
    return features


def latest_intent_feature(states: List[State]) -> Optional[Text]:
    """The name of the t-0 intent feature if the window ends with a user message."""
    if not states:
        return None
    intent = states[-1].get(USER, {}).get(INTENT)
    previous = states[-1].get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
    if intent and previous == ACTION_LISTEN_NAME:
        return f"{_turn(0)} intent = {intent}"
    return None


class FeatureVocabulary:
    """The columns the tree was trained on, in a fixed order; unknown features are reported."""

    def __init__(self, features: List[Feature]) -> None:
        self.features = features
        self._index = {feature.name: i for i, feature in enumerate(features)}

    @classmethod
    def build(cls, examples: List[Dict[Feature, float]]) -> "FeatureVocabulary":
        seen = {feature for example in examples for feature in example}
        return cls(sorted(seen, key=lambda feature: feature.name))

    def __len__(self) -> int:
        return len(self.features)

    def __contains__(self, name: Text) -> bool:
        return name in self._index

    @property
    def names(self) -> List[Text]:
        return [feature.name for feature in self.features]

    def vectorize(
        self, example: Dict[Feature, float]
    ) -> Tuple[np.ndarray, List[Text]]:
        """One row for the tree and the names of the features the tree has never seen."""
        row = np.zeros(len(self.features), dtype=np.float32)
        unseen = []
        for feature, value in example.items():
            index = self._index.get(feature.name)
            if index is None:
                unseen.append(feature.name)
            else:
                row[index] = value
        return row, sorted(unseen)

    def to_json(self) -> List[Dict[Text, Any]]:
        return [asdict(feature) for feature in self.features]

    @classmethod
    def from_json(cls, data: List[Dict[Text, Any]]) -> "FeatureVocabulary":
        return cls([Feature(**item) for item in data])
