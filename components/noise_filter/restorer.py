"""NoiseFilterRestorer: put the user's own text back after the extractors have run.

NoiseFilter rewrites `text` before tokenization, so extracted entity spans point into the
cleaned text. Placed after the entity extractors (and EntitySynonymMapper), this component
maps every entity's start/end back to what the user typed and restores `text`, so
parse_data, `rasa test` (which compares entity offsets with the story text) and anything
that highlights entities in the user's message see original offsets. Entity values stay as
extracted. Without a NoiseFilter before it, it changes nothing.
"""
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.noise_filter.component import restore_original_offsets
from components.shared.contracts import NOISE_FILTER, noise_filter_of


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class NoiseFilterRestorer(GraphComponent):
    """Maps entity offsets back to the original text at inference (training is unaffected)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "NoiseFilterRestorer":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            info = noise_filter_of({NOISE_FILTER: message.get(NOISE_FILTER)})
            if info is None:
                continue
            restored = restore_original_offsets(
                {TEXT: message.get(TEXT), ENTITIES: message.get(ENTITIES), NOISE_FILTER: info}
            )
            message.set(TEXT, restored[TEXT])
            if message.get(ENTITIES):
                message.set(ENTITIES, restored[ENTITIES], add_to_output=True)
        return messages
