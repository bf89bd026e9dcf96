"""EmotionClassifier: the customer's emotion on every message, for responses, slots and policies.

An LSTM reads the dense token features that the pipeline's LanguageModelFeaturizer (MiniLM) has
already computed, so recognising emotion costs no second encoder pass. It ships pretrained on
GoEmotions (components/emotion_classifier/emotion_model/, see scripts/train_emotion_model.py) and fine-tunes on
NLU examples labelled `metadata: {emotion: ...}`. Per message it adds `emotion` and
`emotion_ranking` to the parse data, and with `emit_entity: true` an `emotion` entity (off by
default: end-to-end `rasa test` would count it as a wrong entity on every story turn).
See docs/components/emotion_classifier.md.
"""
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import tensorflow as tf
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.emotion_classifier.features import dense_inputs, rasa_featurizers
from components.emotion_classifier.model_files import SHIPPED_MODEL_DIR, load_model, model_fingerprint, save_model
from components.emotion_classifier.network import NETWORK_DEFAULTS, MessageForward, build_network, fit
from components.shared.contracts import EMOTION, EMOTION_LABELS, EMOTION_RANKING, emotion_outputs
from components.shared.encoder import resolve_configured_model
from components.shared.pipeline_order import needs_earlier

logger = logging.getLogger(__name__)

FINETUNE, REPLACE = "finetune", "replace"
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class EmotionClassifier(GraphComponent, EntityExtractorMixin):
    """Recognises anger, disgust, fear, joy, neutral, sadness and surprise in every user message.

    So that the assistant can meet "this is the third time my parcel is late!!" differently from
    "thanks, that helped". An LSTM reads the MiniLM token features that the pipeline's
    `CompiledLanguageModelFeaturizer` (or Rasa's `LanguageModelFeaturizer`) already computed for
    DIET, so recognising emotion costs no second encoder pass. It ships pretrained on GoEmotions
    and fine-tunes on the bot's NLU examples labelled `metadata: {emotion: ...}`. Per message it
    sets `emotion` (`{"name", "confidence"}`) and `emotion_ranking` (all seven, most likely
    first); a custom slot mapping (the demo's `action_track_emotion`) copies it into a slot.
    Text it cannot judge (empty, too long, not Latin-script words) gets a
    low-confidence neutral, never an exception. Put it after the language-model featurizer:
    `rasa train` stops with an error that says so otherwise.

    **Settings**

    - `featurizers` (default `[]`): aliases of the dense featurizers to read; `[]` reads every
      dense feature (set the MiniLM featurizer's alias when there are several).
    - `pretrained_model` (default `null`): a directory with other h5 + JSON weights to start
      from; `null` = the shipped GoEmotions model.
    - `bot_labels` (default `finetune`): `finetune` continues from the pretrained model on the
      labelled examples; `replace` trains a fresh network on them alone.
    - `epochs` (default `15`): training epochs on the labelled examples.
    - `learning_rate` (default `0.0005`): Adam learning rate on the labelled examples.
    - `batch_size` (default `16`): batch size on the labelled examples.
    - `random_seed` (default `42`): seeds training: the same data gives the same model.
    - `lstm_units` (default `64`): LSTM size of a fresh network (`replace` only; fine-tuning
      keeps the pretrained size).
    - `model_weights` (default `null`): encoder it runs itself when the pipeline has no
      matching 384-d features (one warning, then a second encoder pass); `null` = the offline
      all-MiniLM-L6-v2 (`model_name_or_path` is read too).
    - `max_characters` (default `2000`): longer messages get the low-confidence neutral.
    - `fallback_confidence` (default `0.4`): neutral's confidence for text it cannot judge (the
      other six share the rest).
    - `emit_entity` (default `false`): also add an `emotion` entity spanning the message, so a
      `from_entity` slot fills without an action server (`rasa test --e2e` then counts it as a
      wrong entity on every turn).

    **Configuration**

    ```yaml
    pipeline:
      - name: WhitespaceTokenizer
      - name: components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer
        model_name: bert          # no model_weights: the bundled all-MiniLM-L6-v2
      # emotion from the MiniLM features above: no second encoder pass
      - name: components.emotion_classifier.EmotionClassifier
      - name: DIETClassifier
    ```
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Dense featurizers (their `alias`) whose features to read; [] = every dense one.
            "featurizers": [],
            # The pretrained model: a directory with the h5 weights and their JSON; None = shipped.
            "pretrained_model": None,
            # NLU examples labelled `metadata: {emotion: ...}` either fine-tune the pretrained
            # model ("finetune") or train a fresh one from scratch ("replace").
            "bot_labels": FINETUNE,
            "epochs": 15,
            "learning_rate": 0.0005,
            "batch_size": 16,
            "random_seed": 42,
            # Size of a fresh network ("replace" only; fine-tuning keeps the pretrained one's).
            "lstm_units": NETWORK_DEFAULTS["lstm_units"],
            # Encoder used only if the pipeline did not compute matching features itself;
            # None = the bundled all-MiniLM-L6-v2 (`model_name_or_path` is read too).
            "model_weights": None,
            # Messages the model cannot judge (empty, longer than this, not Latin-script text)
            # get neutral with this low confidence, the rest spread evenly.
            "max_characters": 2000,
            "fallback_confidence": 0.4,
            # Also add an `emotion` entity spanning the message, so a from_entity slot fills on
            # every turn without an action server. Off by default: test stories cannot annotate
            # it, so end-to-end `rasa test` would fail every story on it.
            "emit_entity": False,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        return model_fingerprint(Path(config.get("pretrained_model") or SHIPPED_MODEL_DIR))

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: tf.keras.Model,
        network: Dict[Text, Any],
        finetuning: bool = False,
    ) -> None:
        self._config = config
        # `rasa train --finetune`: training continues from the loaded weights, even in "replace".
        self._finetuning = finetuning
        self._model_storage = model_storage
        self._resource = resource
        self._set_model(model, network)
        self._own_featurizers: Optional[Tuple[Any, Any]] = None
        self._warned_about_features = False

    def _set_model(self, model: tf.keras.Model, network: Dict[Text, Any]) -> None:
        self._model, self._network = model, network
        # Served messages run through a NumPy copy of the weights (well under 1 ms per message).
        self._predict = MessageForward(model)

    @classmethod
    def _pretrained(cls, config: Dict[Text, Any]) -> Tuple[tf.keras.Model, Dict[Text, Any]]:
        return load_model(Path(config.get("pretrained_model") or SHIPPED_MODEL_DIR))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EmotionClassifier":
        cls.check_position(execution_context)
        return cls(config, model_storage, resource, *cls._pretrained(config))

    @classmethod
    def check_position(cls, execution_context: ExecutionContext) -> None:
        """The LSTM reads the dense token features of a language-model featurizer before it."""
        needs_earlier(
            execution_context, cls, DenseFeaturizer,
            "it reads the dense token features of a language-model featurizer, and none comes "
            "before it. Add `components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer` "
            "(or Rasa's LanguageModelFeaturizer, model_name: bert) after the tokenizer and "
            "above the EmotionClassifier in config.yml.",
        )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EmotionClassifier":
        cls.check_position(execution_context)
        try:
            with model_storage.read_from(resource) as directory:
                return cls(
                    config, model_storage, resource, *load_model(directory),
                    finetuning=execution_context.is_finetuning,
                )
        except ValueError as error:
            logger.warning(
                f"{cls.__name__}: no usable trained model in '{resource.name}' ({error}); "
                f"using the pretrained one."
            )
            return cls.create(config, model_storage, resource, execution_context)

    # --- training ---------------------------------------------------------------------------

    @staticmethod
    def _label_of(example: Message) -> Optional[Text]:
        """`metadata: {emotion: ...}` on the example, or else on its intent."""
        metadata = example.get(METADATA) or {}
        for level in (METADATA_EXAMPLE, METADATA_INTENT):
            labels = metadata.get(level)
            if isinstance(labels, dict) and labels.get(EMOTION):
                return str(labels[EMOTION]).strip().lower()
        return None

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tune on (or replace by) the bot's labelled examples; always persist a model."""
        sequences, sentences, label_sets = [], [], []
        for example in training_data.training_examples:
            label = self._label_of(example)
            if label is None or not example.get(TEXT):
                continue
            if label not in EMOTION_LABELS:
                logger.warning(
                    f"{self.__class__.__name__}: ignoring emotion '{label}' on "
                    f"'{example.get(TEXT)[:40]}'; known emotions are {list(EMOTION_LABELS)}."
                )
                continue
            inputs = self._inputs(example)
            if inputs is None:
                continue
            sequence, sentence = inputs
            sequences.append(sequence)
            sentences.append(sentence)
            label_sets.append([EMOTION_LABELS.index(label)])

        if label_sets:
            if self._config["bot_labels"] == REPLACE and not self._finetuning:
                network = {**self._network, "lstm_units": int(self._config["lstm_units"])}
                self._set_model(build_network(network), network)
            logger.info(
                f"{self.__class__.__name__}: {self._config['bot_labels']} on "
                f"{len(label_sets)} labelled examples"
                f"{', continuing from the previous model' if self._finetuning else ''}."
            )
            fit(
                self._model, sequences, np.stack(sentences), label_sets,
                epochs=int(self._config["epochs"]),
                learning_rate=float(self._config["learning_rate"]),
                batch_size=int(self._config["batch_size"]),
                seed=int(self._config["random_seed"]),
            )
            self._set_model(self._model, self._network)  # serve the fine-tuned weights
        else:
            logger.debug(f"{self.__class__.__name__}: no emotion labels; keeping the pretrained model.")

        with self._model_storage.write_to(self._resource) as directory:
            save_model(self._model, self._network, directory)
        return self._resource

    # --- inference --------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            probabilities = self._probabilities(message)
            self._set_outputs(message, probabilities)
        return messages

    def rank(self, message: Message) -> List[Dict[Text, Any]]:
        """The ranking this component would add to `message` (without changing it)."""
        return emotion_outputs(self._probabilities(message))[EMOTION_RANKING]

    def _probabilities(self, message: Message) -> np.ndarray:
        text = message.get(TEXT) or ""
        if not self._can_judge(text):
            return self._unsure()
        inputs = self._inputs(message)
        if inputs is None or len(inputs[0]) == 0:
            return self._unsure()
        probabilities = self._predict(*inputs)
        if not np.all(np.isfinite(probabilities)) or probabilities.sum() <= 0:
            return self._unsure()
        return probabilities / probabilities.sum()

    def _can_judge(self, text: Text) -> bool:
        """English-like text of sensible length: the model knows nothing else."""
        if len(text) > int(self._config["max_characters"]):
            logger.debug(f"{self.__class__.__name__}: {len(text)} characters; answering neutral.")
            return False
        visible = [c for c in text if not c.isspace()]
        latin_letters = sum(1 for c in visible if c.isascii() and c.isalpha())
        return bool(_LATIN_WORD.search(text)) and latin_letters >= 0.5 * len(visible)

    def _unsure(self) -> np.ndarray:
        confidence = float(self._config["fallback_confidence"])
        probabilities = np.full(len(EMOTION_LABELS), (1.0 - confidence) / (len(EMOTION_LABELS) - 1))
        probabilities[EMOTION_LABELS.index("neutral")] = confidence
        return probabilities

    def _inputs(self, message: Message) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """The pipeline's dense features if they fit the network, else the same ones computed here."""
        dim = int(self._network["input_dim"])
        inputs = dense_inputs(message, self._config["featurizers"])
        if inputs is not None and inputs[0].shape[-1] == dim:
            return inputs
        if not self._warned_about_features:
            found = "no dense features" if inputs is None else f"dense features of size {inputs[0].shape[-1]}"
            logger.warning(
                f"{self.__class__.__name__} expects the {dim}-dimensional features of "
                f"LanguageModelFeaturizer (model_name: bert, MiniLM) but found {found}. It now "
                f"runs the encoder itself (a second encoder pass per message). Put "
                f"LanguageModelFeaturizer before it, or set `featurizers` to its alias."
            )
            self._warned_about_features = True
        if self._own_featurizers is None:
            self._own_featurizers = rasa_featurizers(resolve_configured_model(self._config))
        tokenizer, featurizer = self._own_featurizers
        copy = Message(data={TEXT: message.get(TEXT)})
        tokenizer.process([copy])
        featurizer.process([copy])
        own = dense_inputs(copy)
        if own is not None and own[0].shape[-1] != dim:
            raise ValueError(
                f"{self.__class__.__name__}: the encoder '{resolve_configured_model(self._config)}' gives "
                f"features that do not fit this {dim}-dimensional emotion model."
            )
        return own

    def _set_outputs(self, message: Message, probabilities: np.ndarray) -> None:
        outputs = emotion_outputs(probabilities)
        for key, value in outputs.items():
            message.set(key, value, add_to_output=True)
        if self._config["emit_entity"]:
            top = outputs[EMOTION]
            entity = {
                ENTITY_ATTRIBUTE_TYPE: EMOTION,
                ENTITY_ATTRIBUTE_VALUE: top["name"],
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: len(message.get(TEXT) or ""),
                ENTITY_ATTRIBUTE_CONFIDENCE: top["confidence"],
                EXTRACTOR: self.__class__.__name__,
            }
            message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
