"""Checks every Rapport NLU component must pass, whatever it does.

Use it the way Rasa's own test collections work: subclass `NLUComponentChecks` in the
component's test module and provide a `process` fixture, a function that runs a list of
messages through the component (and whatever it needs before it, e.g. a tokenizer) and
returns them.
"""
import json
import random
from typing import Callable, Dict, List, Text

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


def _random_junk(length: int, seed: int = 7) -> Text:
    """Random bytes decoded as text the way a careless client would send them."""
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(length)).decode("utf-8", errors="replace")


BAD_INPUTS: Dict[Text, Text] = {
    "empty": "",
    "whitespace_only": " \t\n  ",
    "huge": ("where is my order A1001 " * 5000)[:100_000],
    "binary_junk": _random_junk(2_000),
    "control_characters": "\x00\x01\x1b[31mhello\x7f\u200b\ufeff",
    "emoji_only": "📦😡😡🙏",
    "right_to_left": "أين طلبي A1001؟ شكرا",
    "cjk": "我的订单A1001在哪里？谢谢",
    "order_id_only": "A1001",
    "lone_surrogate_free_symbols": "¯\\_(ツ)_/¯ ★彡 ©®™",
}

ProcessFn = Callable[[List[Message]], List[Message]]


class NLUComponentChecks:
    """Contract for NLU components. Subclasses provide the `process` fixture."""

    @pytest.fixture
    def process(self) -> ProcessFn:
        raise NotImplementedError("Provide a `process` fixture in the subclass.")

    @pytest.mark.parametrize("case", sorted(BAD_INPUTS))
    def test_bad_input_is_processed_without_error(self, process: ProcessFn, case: Text) -> None:
        messages = process([Message(data={TEXT: BAD_INPUTS[case]})])
        assert len(messages) == 1
        # Whatever the component added must survive the trip to the tracker store (JSON).
        json.dumps(messages[0].as_dict_nlu(), default=str)

    def test_batch_keeps_every_message(self, process: ProcessFn) -> None:
        texts = list(BAD_INPUTS.values()) + ["where is my order A1001?", "thanks!"]
        messages = process([Message(data={TEXT: text}) for text in texts])
        assert len(messages) == len(texts)
