"""Replace personal data by typed placeholders in text and in Rasa events.

An event is masked as its JSON form (`Event.as_dict()`): every string in it, however deep
(the user's text, `parse_data` with NoiseFilter's copy of the original text and its corrections,
entity values, slot values, bot replies, metadata), except the keys that name things (event type,
intent, action, slot and entity names, ids, timestamps). A value found in one string is also
removed from every other string of the same batch of events: an entity or a correction may hold
a piece of a card number ("4111") that no detector would recognise on its own.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text, Tuple

from rasa.shared.core.events import Event

from privacy.detectors import KINDS, find_personal_data

DEFAULT_PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in KINDS}
# Keys whose values name things rather than carry what the user said; never rewritten.
STRUCTURAL_KEYS = frozenset(
    {
        "event", "timestamp", "message_id", "sender_id", "input_channel", "policy", "name",
        "intent", "intent_ranking", "entity", "extractor", "role", "group", "action_name",
        "confidence", "start", "end", "model_id", "assistant_id", "kind", "type",
    }
)
# Pieces of a found value that are removed from the other strings of the batch too.
_DIGIT_GROUP = re.compile(r"\d{3,}")


@dataclass
class MaskingConfig:
    """Which kinds to mask and the placeholder of each (endpoints.yml: `mask`, `placeholders`)."""

    kinds: Sequence[Text] = KINDS
    placeholders: Dict[Text, Text] = field(default_factory=lambda: dict(DEFAULT_PLACEHOLDERS))

    @classmethod
    def from_settings(
        cls, mask: Optional[Iterable[Text]] = None, placeholders: Optional[Dict[Text, Text]] = None
    ) -> "MaskingConfig":
        kinds = tuple(KINDS if mask is None else mask)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"Unknown kinds of personal data {sorted(unknown)}; known: {list(KINDS)}.")
        names = {**DEFAULT_PLACEHOLDERS, **(placeholders or {})}
        unknown = set(names) - set(KINDS)
        if unknown:
            raise ValueError(f"Placeholders for unknown kinds {sorted(unknown)}; known: {list(KINDS)}.")
        return cls(kinds, names)


def mask_text(text: Text, config: MaskingConfig, found: Optional[Dict[Text, Text]] = None) -> Text:
    """`text` with each finding replaced by its placeholder; `found` collects value -> kind."""
    findings = find_personal_data(text, config.kinds)
    if not findings:
        return text
    pieces, position = [], 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(config.placeholders[finding.kind])
        position = finding.end
        if found is not None:
            found[finding.value] = finding.kind
    pieces.append(text[position:])
    return "".join(pieces)


def _fragments(found: Dict[Text, Text]) -> List[Tuple[Text, Text]]:
    """(piece, kind) to remove everywhere: each value, its digits without separators, its digit
    groups; longest first."""
    fragments: Dict[Text, Text] = {}
    for value, kind in found.items():
        pieces = [value, re.sub(r"\D", "", value)] + _DIGIT_GROUP.findall(value)
        for piece in pieces:
            if len(piece) >= 3:
                fragments.setdefault(piece, kind)
    return sorted(fragments.items(), key=lambda item: len(item[0]), reverse=True)


def _scrub(text: Text, fragments: List[Tuple[Text, Text]], config: MaskingConfig) -> Text:
    for fragment, kind in fragments:
        if fragment in text:
            pattern = rf"(?<![0-9A-Za-z]){re.escape(fragment)}(?![0-9A-Za-z])"
            placeholder = config.placeholders[kind]
            text = re.sub(pattern, lambda _: placeholder, text)
    return text


def _walk(value: Any, rewrite: Any, key: Optional[Text] = None) -> Any:
    if key in STRUCTURAL_KEYS:
        return value
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, dict):
        return {k: _walk(v, rewrite, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(item, rewrite) for item in value]
    return value


def mask_event_dicts(events: List[Dict[Text, Any]], config: MaskingConfig) -> List[Dict[Text, Any]]:
    """Masked copies of event dicts (the batch shares what was found, see the module docstring)."""
    found: Dict[Text, Text] = {}
    masked = [_walk(event, lambda text: mask_text(text, config, found)) for event in events]
    if not found:
        return masked
    fragments = _fragments(found)
    return [_walk(event, lambda text: _scrub(text, fragments, config)) for event in masked]


def mask_events(events: List[Event], config: MaskingConfig) -> List[Event]:
    """Masked copies of Rasa events; an event with nothing to mask is returned as it is."""
    dicts = [event.as_dict() for event in events]
    masked = mask_event_dicts(dicts, config)
    return [
        event if original == changed else Event.from_parameters(changed)
        for event, original, changed in zip(events, dicts, masked)
    ]
