"""Seeded noise injection: make clean NLU examples look like what people really type.

Used three ways, so they all mean the same thing by "20% noise": NoiseFilter's
`augmentation_copies` option, the `python -m scripts.augment_nlu` command, and the benchmark's
noisy test sets (bench/noise_filter.py).

`level` is the fraction of words hit (stochastically rounded per sentence, so the average over a
data set is `level`). Words inside annotated entities are never touched, so the entity value
stays right; only their offsets move, and they are recomputed.
Randomness is derived from (seed, copy number, text), so a given example gets the same noise
whatever the order or size of the data set it sits in.
"""
import random
import re
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

NOISE_KINDS: Tuple[Text, ...] = (
    "typo",
    "deletion",
    "transposition",
    "elongation",
    "merge",
    "casing",
    "filler",
)
# Relative frequency of each kind; letter-level errors dominate real chat noise.
_KIND_WEIGHTS: Tuple[float, ...] = (0.30, 0.20, 0.20, 0.05, 0.10, 0.10, 0.05)
_FILLERS: Tuple[Text, ...] = ("um", "uh", "umm", "like", "erm")
_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_WORD = re.compile(r"\S+")


def _keyboard_neighbours() -> Dict[Text, Text]:
    """Letters next to each letter on a QWERTY keyboard (same row and the rows around it)."""
    position = {ch: (r, c) for r, row in enumerate(_QWERTY_ROWS) for c, ch in enumerate(row)}
    return {
        ch: "".join(
            other
            for other, (r2, c2) in position.items()
            if other != ch and abs(r - r2) <= 1 and abs(c - c2) <= 1
        )
        for ch, (r, c) in position.items()
    }


_NEIGHBOURS = _keyboard_neighbours()

Span = Tuple[int, int]


def _letter_positions(word: Text) -> List[int]:
    return [i for i, ch in enumerate(word) if ch.isalpha()]


def _corrupt_word(word: Text, kind: Text, rng: random.Random) -> Optional[Text]:
    """One kind of noise applied to one word, or None if the kind cannot apply to it."""
    letters = _letter_positions(word)
    if kind == "typo" and letters:
        i = rng.choice(letters)
        near = _NEIGHBOURS.get(word[i].lower())
        if not near:
            return None
        return word[:i] + rng.choice(near) + word[i + 1 :]
    if kind == "deletion" and len(letters) >= 3:
        i = rng.choice(letters[1:])
        return word[:i] + word[i + 1 :]
    if kind == "transposition" and len(word) >= 3:
        pairs = [i for i in letters[:-1] if i + 1 in letters and word[i] != word[i + 1]]
        if not pairs:
            return None
        i = rng.choice(pairs)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "elongation" and letters:
        i = rng.choice(letters)
        return word[: i + 1] + word[i] * rng.randint(2, 4) + word[i + 1 :]
    if kind == "casing" and letters:
        return word.upper() if rng.random() < 0.5 else word.swapcase()
    return None


def inject_noise(
    text: Text,
    level: float,
    rng: random.Random,
    entities: Optional[List[Dict[Text, Any]]] = None,
) -> Tuple[Text, List[Dict[Text, Any]]]:
    """Return `text` with about `level` of its words corrupted, and the entities moved to match.

    Entities are dicts with `start`/`end` (Rasa's format); their text is left as it is.
    """
    entities = [dict(e) for e in (entities or [])]
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words or level <= 0:
        return text, entities
    protected = [(e["start"], e["end"]) for e in entities if "start" in e and "end" in e]

    def free(span: Span) -> bool:
        return all(span[1] <= s or span[0] >= e for s, e in protected)

    candidates = [i for i, span in enumerate(words) if free(span)]
    n_hit = min(len(candidates), int(level * len(words) + rng.random()))
    hit = sorted(rng.sample(candidates, n_hit))

    # Edits are (start, end, replacement) on the original text, applied right to left.
    edits: List[Tuple[int, int, Text]] = []
    merged_into_previous = set()
    for i in hit:
        if i in merged_into_previous:
            continue
        start, end = words[i]
        word = text[start:end]
        for kind in rng.choices(NOISE_KINDS, weights=_KIND_WEIGHTS, k=3):
            if kind == "filler":
                edits.append((start, start, rng.choice(_FILLERS) + " "))
                break
            if kind == "merge":
                nxt = i + 1
                if nxt < len(words) and free((end, words[nxt][0])) and free(words[nxt]):
                    edits.append((end, words[nxt][0], ""))
                    merged_into_previous.add(nxt)
                    break
                continue
            noisy = _corrupt_word(word, kind, rng)
            if noisy is not None and noisy != word:
                edits.append((start, end, noisy))
                break

    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
        delta = len(replacement) - (end - start)
        for entity in entities:
            if "start" in entity and entity["start"] >= end:
                entity["start"] += delta
                entity["end"] += delta
    return text, entities


def example_rng(seed: int, copy: int, text: Text) -> random.Random:
    """A generator that depends only on (seed, copy, text): reproducible in any data order."""
    return random.Random(f"{seed}:{copy}:{text}")


def noisy_copies(
    text: Text,
    entities: Optional[List[Dict[Text, Any]]],
    copies: int,
    level: float,
    seed: int,
) -> List[Tuple[Text, List[Dict[Text, Any]]]]:
    """`copies` noisy versions of one example; identical versions are dropped."""
    out = []
    seen = {text}
    for copy in range(copies):
        noisy, moved = inject_noise(text, level, example_rng(seed, copy, text), entities)
        if noisy not in seen:
            seen.add(noisy)
            out.append((noisy, moved))
    return out


def noisy_messages(
    messages: Iterable[Message], copies: int, level: float, seed: int
) -> List[Message]:
    """Noisy copies of the intent examples among `messages` (same intent, entities moved)."""
    extra: List[Message] = []
    for message in messages:
        if not isinstance(message.get(TEXT), str) or not message.get(INTENT):
            continue
        for text, entities in noisy_copies(
            message.get(TEXT), message.get(ENTITIES), copies, level, seed
        ):
            data = {k: v for k, v in message.data.items() if k not in (TEXT, ENTITIES)}
            data[TEXT] = text
            if entities:
                data[ENTITIES] = entities
            extra.append(Message(data=data))
    return extra
