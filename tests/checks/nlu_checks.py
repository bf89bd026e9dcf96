"""Checks every Rapport NLU component must pass, whatever it does.

Subclass `NLUComponentChecks` in the component's test module (as Rasa's own test collections
work) and set:

- `component_class`, and `config` for tiny, fast settings;
- `prepare`, a fixture: what runs before the component in a pipeline (tokenizer, features),
  applied to training data and to messages alike (default: nothing);
- `check_output(message)`: assert what the component must have added to a processed message.

The suite builds the component as Rasa's graph does (`create`, `train` when it is trainable,
`load` from the same model storage), so a component that returns nothing, drops messages or
forgets its outputs fails every check (tests/checks/test_checks_can_fail.py shows it).
"""
import json
import random
from typing import Any, Callable, Dict, List, Optional, Text, Type

import pytest
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


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
    "thirty_emoji": "😡" * 30,
    "right_to_left": "أين طلبي A1001؟ شكرا",
    "cjk": "我的订单A1001在哪里？谢谢",
    "order_id_only": "A1001",
    "symbols": "¯\\_(ツ)_/¯ ★彡 ©®™",
}

SHOP_NLU = """
version: "3.1"
nlu:
- intent: check_order_status
  examples: |
    - where is my order [A1001](order_id)?
    - wheres my ordr [B2002](order_id)
    - has my parcel shipped yet
    - track order [C3003](order_id) please
- intent: cancel_order
  examples: |
    - please cancel my order [A1002](order_id)
    - cancel it, I don't want it anymore
    - I want to cancel order [D4004](order_id)
- intent: complain
  examples:
  - text: this is the third time my parcel is late!!
    metadata:
      emotion: anger
  - text: I am furious, where is my refund
    metadata:
      emotion: anger
  - text: my parcel arrived broken, I am so sad
    metadata:
      emotion: sadness
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
"""

ProcessFn = Callable[[List[Message]], List[Message]]


def shop_training_data() -> TrainingData:
    """A few shop intents with entities and one emotion label: enough for any component to train."""
    return RasaYAMLReader().reads(SHOP_NLU)


def outputs(message: Message) -> Dict[Text, Any]:
    """What the message would put into parse_data, as the tracker store would store it."""
    return json.loads(json.dumps(message.as_dict(only_output_properties=True)))


class NLUComponentChecks:
    """Contract for NLU components; see the module docstring for what a subclass sets."""

    component_class: Type[GraphComponent]
    config: Dict[Text, Any] = {}

    @pytest.fixture(scope="class")
    def prepare(self) -> ProcessFn:
        return lambda messages: messages

    def check_output(self, message: Message) -> None:
        raise NotImplementedError("Say what the component adds to a message.")

    # ---------------------------------------------------------------- building
    def _build(self, storage_dir, method: Text, prepare: Optional[ProcessFn]) -> GraphComponent:
        cls = self.component_class
        storage = LocalModelStorage(storage_dir)
        resource = Resource(cls.__name__)
        context = ExecutionContext(GraphSchema({}), model_id="checks")
        config = {**cls.get_default_config(), **self.config}
        if method == "load":
            return cls.load(config, storage, resource, context)
        component = cls.create(config, storage, resource, context)
        if prepare is not None and hasattr(component, "train"):
            data = shop_training_data()
            prepare(data.training_examples)
            component.train(data)
        return component

    @pytest.fixture(scope="class")
    def trained_dir(self, tmp_path_factory: pytest.TempPathFactory):
        return tmp_path_factory.mktemp(f"checks_{self.component_class.__name__}")

    @pytest.fixture(scope="class")
    def trained(self, trained_dir, prepare: ProcessFn) -> GraphComponent:
        return self._build(trained_dir, "create", prepare)

    @pytest.fixture(scope="class")
    def process(self, trained: GraphComponent, prepare: ProcessFn) -> ProcessFn:
        return lambda messages: trained.process(prepare(messages))

    # ---------------------------------------------------------------- checks
    @pytest.mark.parametrize("case", sorted(BAD_INPUTS))
    def test_bad_input_is_processed_without_error(self, process: ProcessFn, case: Text) -> None:
        messages = process([Message(data={TEXT: BAD_INPUTS[case]})])
        assert len(messages) == 1
        self.check_output(messages[0])
        # Whatever it added reaches the tracker store as JSON: no `default=` escape here.
        json.dumps(messages[0].as_dict(only_output_properties=True))

    def test_batch_keeps_every_message_in_order(self, process: ProcessFn) -> None:
        texts = list(BAD_INPUTS.values()) + ["where is my order A1001?", "thanks!"]
        messages = process([Message(data={TEXT: text, "position": i}) for i, text in enumerate(texts)])
        assert [m.get("position") for m in messages] == list(range(len(texts)))
        for message in messages:
            self.check_output(message)

    def test_persist_then_load_gives_the_same_outputs(
        self, trained: GraphComponent, trained_dir, prepare: ProcessFn
    ) -> None:
        loaded = self._build(trained_dir, "load", None)
        texts = ["where is my ordr A1001??", "I am furious, where is my refund", "hello"]
        before = trained.process(prepare([Message(data={TEXT: t}) for t in texts]))
        after = loaded.process(prepare([Message(data={TEXT: t}) for t in texts]))
        assert len(before) == len(after) == len(texts)
        for original, reloaded in zip(before, after):
            self.check_output(reloaded)
            assert outputs(reloaded) == outputs(original)

    def test_load_without_training_processes_messages(
        self, tmp_path_factory: pytest.TempPathFactory, prepare: ProcessFn
    ) -> None:
        """Rasa loads a component whose training was skipped or failed; it must still serve."""
        untrained = self._build(tmp_path_factory.mktemp("untrained"), "load", None)
        messages = untrained.process(prepare([Message(data={TEXT: "where is my order A1001?"})]))
        assert len(messages) == 1
        self.check_untrained_output(messages[0])

    def check_untrained_output(self, message: Message) -> None:
        """What an untrained component still adds; by default the same as a trained one."""
        self.check_output(message)
