"""TransformerIntentClassifier: fine-tune a BERT-family encoder for the bot's intents, and serve
intents and dense features from ONE encoder pass per message.

It is Rapport's CompiledLanguageModelFeaturizer (Rasa's LanguageModelFeaturizer, compiled) whose
encoder is fine-tuned on the NLU examples before it featurizes them: it takes that featurizer's
place in the pipeline, emits the same kind of token and sentence features for the components after
it (EmotionClassifier, DIET for entities), and sets `intent` / `intent_ranking` from the sentence
feature (the [CLS] state) with a dense head trained together with the encoder.
See docs/components/transformer_classifier.md.
"""
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import tensorflow as tf
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SENTENCE_FEATURES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer
from components.shared.encoder import (
    MODEL_SETTING_ALIAS,
    EncoderNotFoundError,
    resolve_configured_model,
)
from components.transformer_classifier import model_files
from components.transformer_classifier.network import (
    build_network,
    copy_weights,
    distribution_strategy,
    fit,
    split_holdout,
    to_dataset,
)

logger = logging.getLogger(__name__)


@dataclass
class TrainedHead:
    kernel: np.ndarray
    bias: np.ndarray
    labels: List[Text]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
    is_trainable=True,
)
class TransformerIntentClassifier(CompiledLanguageModelFeaturizer):
    """Fine-tunes a BERT-family encoder (all-MiniLM-L6-v2 by default) end to end for intents.

    Trains the encoder together with a dense intent head on the `[CLS]` state of your NLU
    examples, and predicts `intent` and `intent_ranking`. It is also the pipeline's BERT
    featurizer (a `CompiledLanguageModelFeaturizer`): the components after it (DIET for
    entities, ResponseSelector, EmotionClassifier) read the token and sentence features of the
    fine-tuned encoder, so a served message still makes one encoder pass and the intent costs
    one matrix product on top. Training uses MirroredStrategy when more than one GPU (or logical
    CPU device) is visible; `rasa train --finetune` continues from the previous model's encoder
    and head. Saved as Hugging Face TF weights, safetensors and JSON, no pickle.

    **Settings**

    Rasa's `LanguageModelFeaturizer` settings apply too: see
    [Rasa's documentation](https://rasa.com/docs/rasa/3.x/components#languagemodelfeaturizer).

    - `model_weights` (default `null`): BERT-family TF checkpoint, a local directory or a
      Hugging Face name in the local cache; `null` = the bundled all-MiniLM-L6-v2
      (`model_name_or_path`, its first name, is read too).
    - `model_name` (default `bert`): Rasa's architecture key for tokenisation (Rasa's BERT code
      assumes `[CLS]`=101, `[SEP]`=102).
    - `epochs` (default `5`): passes over the training data (early stopping may end sooner).
    - `learning_rate` (default `0.0001`): Adam, decaying linearly to 0 over all epochs.
    - `batch_size` (default `32`): global batch, split across replicas.
    - `trainable_layers` (default `-1`): `-1` fine-tunes every layer and the embeddings; `k` only
      the top `k` transformer layers.
    - `dropout` (default `0.1`): on the `[CLS]` state, before the intent head.
    - `max_tokens` (default `64`): longer training examples are cut (inference reads the whole
      message, up to the model's limit).
    - `validation_fraction` (default `0.1`): held out per intent for early stopping (data sets
      of 100+ examples only).
    - `early_stopping_patience` (default `2`): epochs without a better held-out accuracy before
      stopping (the best weights are restored).
    - `max_training_minutes` (default `null`): stop training after this much wall time; the
      training report says it was cut short.
    - `mixed_precision` (default `false`): train in `mixed_float16` (worth it on a GPU, slower on
      a CPU).
    - `random_seed` (default `42`): seeds training: the same data gives the same model.
    - `ranking_length` (default `10`): intents listed in `intent_ranking`.

    **Configuration**

    ```yaml
    pipeline:
      - name: WhitespaceTokenizer
      # instead of the frozen featurizer: one BERT pass, fine-tuned
      - name: components.transformer_classifier.TransformerIntentClassifier
        epochs: 5
      - name: DIETClassifier            # entities only
        intent_classification: false
    ```
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **LanguageModelFeaturizer.get_default_config(),
            "model_name": "bert",
            "model_weights": None,
            "epochs": 5,
            "learning_rate": 0.0001,
            "batch_size": 32,
            "trainable_layers": -1,
            "dropout": 0.1,
            "max_tokens": 64,
            "validation_fraction": 0.1,
            "early_stopping_patience": 2,
            "max_training_minutes": None,
            "mixed_precision": False,
            "random_seed": 42,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        execution_context: ExecutionContext,
        model_storage: ModelStorage,
        resource: Resource,
        weights_path: Optional[Text] = None,
        head: Optional[TrainedHead] = None,
    ) -> None:
        config = {
            **config,
            # The encoder to run: the fine-tuned copy once trained, else the configured one
            # (`model_weights` or its alias `model_name_or_path`), resolved for this instance only.
            "model_weights": weights_path or resolve_configured_model(config),
            MODEL_SETTING_ALIAS: None,
        }
        super().__init__(config, execution_context)
        self._model_storage = model_storage
        self._resource = resource
        self._execution_context = execution_context
        self._head = head
        self._classifying = False
        self.training_report: Dict[Text, Any] = {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TransformerIntentClassifier":
        return cls(config, execution_context, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TransformerIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                (kernel, bias), labels, _ = model_files.load_head(Path(directory))
                return cls(
                    config, execution_context, model_storage, resource,
                    weights_path=model_files.encoder_dir(Path(directory)),
                    head=TrainedHead(kernel, bias, labels),
                )
        except EncoderNotFoundError:
            raise
        except ValueError as error:
            logger.debug(f"{cls.__name__}: nothing trained in '{resource.name}' ({error}).")
            return cls.create(config, model_storage, resource, execution_context)

    def _load_model_instance(self) -> None:
        # A private copy: fine-tuning must never touch the per-process cached encoder that
        # other components (BertContextPolicy, the frozen featurizer) read.
        LanguageModelFeaturizer._load_model_instance(self)

    # --- training ---------------------------------------------------------------------------

    def _token_ids(self, message: Message) -> List[int]:
        """The ids the featurizer feeds the encoder for this message, cut to `max_tokens`."""
        _, ids = self._tokenize_example(message, TEXT)
        ids = self._add_lm_specific_special_tokens([ids])[0]
        limit = int(self._config["max_tokens"])
        return ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:]

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tune encoder and head on the intent examples, then persist both."""
        examples = [
            e for e in training_data.intent_examples
            if e.get(TEXT) and e.get(TOKENS_NAMES[TEXT]) is not None
        ]
        labels = sorted({e.get(INTENT) for e in examples})
        if len(labels) < 2:
            logger.warning(
                f"{self.__class__.__name__}: {len(labels)} intent(s) in the training data; "
                f"nothing to fine-tune, the encoder stays as it is."
            )
            self._head = TrainedHead(np.zeros((self.model.config.hidden_size, 0), np.float32),
                                     np.zeros(0, np.float32), [])
            self._persist()
            return self._resource

        y = np.array([labels.index(e.get(INTENT)) for e in examples], np.int32)
        token_ids = [self._token_ids(e) for e in examples]
        settings = self._config
        seed = int(settings["random_seed"])
        tf.random.set_seed(seed)
        train_idx, held_idx = split_holdout(
            len(examples), y, float(settings["validation_fraction"]), seed
        )
        batch_size = int(settings["batch_size"])
        train_set = to_dataset([token_ids[i] for i in train_idx], y[train_idx], batch_size,
                               self.pad_token_id, seed)
        held_set = (
            to_dataset([token_ids[i] for i in held_idx], y[held_idx], batch_size,
                       self.pad_token_id, None)
            if len(held_idx) else None
        )

        previous_head = None
        if self._head is not None and self._head.labels == labels:
            previous_head = (self._head.kernel, self._head.bias)
            logger.info(f"{self.__class__.__name__}: fine-tuning the previous model further.")
        elif self._execution_context.is_finetuning:
            logger.warning(
                f"{self.__class__.__name__}: the intents changed since the previous model; "
                f"its encoder is kept and the intent head starts afresh."
            )

        strategy = distribution_strategy()
        global_policy = tf.keras.mixed_precision.global_policy()
        try:
            if settings["mixed_precision"]:
                tf.keras.mixed_precision.set_global_policy("mixed_float16")
            with strategy.scope():
                network = build_network(
                    type(self.model), self.model.config, self.model,
                    len(labels), settings, previous_head,
                )
        finally:
            tf.keras.mixed_precision.set_global_policy(global_policy)

        steps = int(np.ceil(len(train_idx) / batch_size))
        logger.info(
            f"{self.__class__.__name__}: fine-tuning on {len(train_idx)} examples "
            f"({len(held_idx)} held out) of {len(labels)} intents, "
            f"{strategy.num_replicas_in_sync} replica(s)."
        )
        self.training_report = fit(network, strategy, train_set, held_set, steps, settings)
        self.training_report.update(examples=len(train_idx), held_out=len(held_idx))
        copy_weights(network.encoder, self.model)
        kernel, bias = network.head.get_weights()
        self._head = TrainedHead(np.asarray(kernel, np.float32), np.asarray(bias, np.float32), labels)
        self._persist()
        return self._resource

    def _persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            model_files.save(
                Path(directory), self.model, self.tokenizer,
                (self._head.kernel, self._head.bias), self._head.labels, self.training_report,
            )

    # --- inference --------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        """Dense features (as the featurizer it replaces) plus intent and intent ranking."""
        self._classifying = True
        try:
            super().process(messages)
        finally:
            self._classifying = False
        return messages

    def _set_lm_features(self, doc: Dict[Text, Any], message: Message, attribute: Text = TEXT) -> None:
        super()._set_lm_features(doc, message, attribute)
        if (
            self._classifying and attribute == TEXT and self._head is not None
            and self._head.labels and (message.get(TEXT) or "").strip()
        ):
            self._set_intent(message, np.asarray(doc[SENTENCE_FEATURES], np.float32).reshape(-1))

    def intent_probabilities(self, sentence_feature: np.ndarray) -> np.ndarray:
        logits = sentence_feature @ self._head.kernel + self._head.bias
        logits = logits - logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()

    def _set_intent(self, message: Message, sentence_feature: np.ndarray) -> None:
        probabilities = self.intent_probabilities(sentence_feature)
        if not np.all(np.isfinite(probabilities)):
            return
        order = np.argsort(-probabilities, kind="stable")[: max(1, int(self._config["ranking_length"]))]
        ranking = [
            {"name": self._head.labels[i], "confidence": float(probabilities[i])} for i in order
        ]
        message.set(INTENT, dict(ranking[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
