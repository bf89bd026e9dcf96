"""Noise injection (components/noise_filter/augmentation.py) and the `scripts.augment_nlu` command."""
import difflib
from pathlib import Path

import pytest

from rasa.shared.nlu.training_data.loading import load_data

from components.noise_filter.augmentation import example_rng, inject_noise, noisy_copies
from scripts.augment_nlu import main as augment_main

SENTENCE = "please cancel my order A1001 before it ships to London tomorrow"
ENTITIES = [
    {"entity": "order_id", "value": "A1001", "start": 23, "end": 28},
    {"entity": "city", "value": "London", "start": 48, "end": 54},
]


def test_same_seed_same_noise_other_seed_other_noise() -> None:
    first = noisy_copies(SENTENCE, ENTITIES, copies=3, level=0.3, seed=1)
    assert first == noisy_copies(SENTENCE, ENTITIES, copies=3, level=0.3, seed=1)
    assert first != noisy_copies(SENTENCE, ENTITIES, copies=3, level=0.3, seed=2)


def test_entities_are_untouched_and_their_offsets_follow_the_noise() -> None:
    for copy in range(50):
        text, entities = inject_noise(SENTENCE, 0.5, example_rng(7, copy, SENTENCE), ENTITIES)
        assert [text[e["start"] : e["end"]] for e in entities] == ["A1001", "London"]
    assert ENTITIES[0]["start"] == 23  # the caller's annotations are not modified


def words_changed(original: str, noisy: str) -> float:
    """Share of the original's words that are not in the noisy text, in order (difflib)."""
    words = original.split()
    matcher = difflib.SequenceMatcher(None, words, noisy.split(), autojunk=False)
    return 1 - sum(block.size for block in matcher.get_matching_blocks()) / len(words)


@pytest.mark.parametrize("level", [0.1, 0.2, 0.3])
def test_level_is_the_fraction_of_words_hit(level: float) -> None:
    shares = [
        words_changed(SENTENCE, inject_noise(SENTENCE, level, example_rng(3, copy, SENTENCE))[0])
        for copy in range(300)
    ]
    assert abs(sum(shares) / len(shares) - level) < 0.03


def test_level_zero_changes_nothing() -> None:
    assert inject_noise(SENTENCE, 0.0, example_rng(3, 0, SENTENCE))[0] == SENTENCE


def test_augment_command_writes_a_loadable_nlu_file(tmp_path: Path) -> None:
    source = tmp_path / "nlu.yml"
    source.write_text(
        'version: "3.1"\nnlu:\n- intent: cancel\n  examples: |\n'
        "    - please cancel my order [A1001](order_id) right now\n"
        "    - I want to cancel order [B2002](order_id) today please\n"
        "- synonym: cancel\n  examples: |\n    - cancle\n"
    )
    out = tmp_path / "augmented.yml"
    augment_main([str(source), "-o", str(out), "--copies", "2", "--level", "0.3", "--seed", "1"])
    data = load_data(str(out))
    assert len(data.training_examples) == 6
    assert data.entity_synonyms == {"cancle": "cancel"}
    for example in data.training_examples:
        entity = example.get("entities")[0]
        assert example.get("text")[entity["start"] : entity["end"]] == entity["value"]
    again = tmp_path / "again.yml"
    augment_main([str(source), "-o", str(again), "--copies", "2", "--level", "0.3", "--seed", "1"])
    assert again.read_text() == out.read_text()
