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
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.noise_filter.component import restore_original_offsets
from components.shared.contracts import NOISE_FILTER, noise_filter_of
from components.shared.pipeline_order import must_follow


# Registered as trainable although it learns nothing: `rasa train` only builds trainable
# components (and tokenizers/featurizers), and building it is what checks its position.
@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True
)
class NoiseFilterRestorer(GraphComponent):
    """Puts the user's own text back after the entity extractors, with entity offsets into it.

    NoiseFilter rewrites `text` before tokenization, so extracted entities point into the
    cleaned text. At inference this component maps every entity's `start`/`end` back to what the
    user typed and restores `parse_data["text"]` (the cleaned text stays in
    `noise_filter.clean_text`); entity values stay as extracted. That is what `rasa test` needs,
    since it compares entity offsets with the test story's typed text, and what anything that
    highlights entities in the user's message needs. Training is unaffected, and without a
    NoiseFilter before it, it changes nothing. Put it after every entity extractor (and
    EntitySynonymMapper): `rasa train` stops with an error that says so otherwise.

    **Settings**

    None: it has nothing to configure.

    **Configuration**

    ```yaml
    pipeline:
      - name: components.noise_filter.NoiseFilter
      # ... tokenizer, featurizers ...
      - name: DIETClassifier
      - name: EntitySynonymMapper
      - name: components.noise_filter.NoiseFilterRestorer
    ```
    """

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "NoiseFilterRestorer":
        must_follow(
            execution_context, cls, EntityExtractorMixin,
            "Entities found after it would keep offsets into the cleaned text.",
            unless=ResponseSelector,  # a DIET subclass that extracts no entities
        )
        return cls(resource)

    def __init__(self, resource: Resource) -> None:
        self._resource = resource

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing to learn (see the registration above)."""
        return self._resource

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
