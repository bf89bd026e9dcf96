"""The trainable part: a BERT-family encoder with an intent head on its [CLS] state, and its fit.

The head reads the [CLS] hidden state because that is exactly the sentence feature Rasa's
LanguageModelFeaturizer emits for `bert`: at inference the classifier takes the intent from the
features the same encoder pass already computed, so classifying costs one matrix product.
"""
import logging
import time
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU (or logical CPU device, as in the tests) when there are
    several, else the default single-device strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in cpus])
    return tf.distribute.get_strategy()


def _main_layer(encoder: tf.keras.Model) -> Any:
    """The architecture's main layer (TFBertMainLayer and its relatives)."""
    return encoder.layers[0]


def transformer_blocks(encoder: tf.keras.Model) -> List[Any]:
    """The encoder's transformer layers, bottom first (BERT/RoBERTa/ELECTRA or DistilBERT layout)."""
    main = _main_layer(encoder)
    stack = getattr(main, "encoder", None) or getattr(main, "transformer", None)
    blocks = getattr(stack, "layer", None)
    if blocks is None:
        raise ValueError(
            f"{type(encoder).__name__} is not a BERT-family model: no transformer layer stack found."
        )
    return list(blocks)


def freeze_below_top(encoder: tf.keras.Model, trainable_layers: int) -> None:
    """Train only the top `trainable_layers` blocks (-1 = all, embeddings included)."""
    main = _main_layer(encoder)
    pooler = getattr(main, "pooler", None)
    if pooler is not None:
        pooler.trainable = False  # unused: the head reads [CLS] directly
    blocks = transformer_blocks(encoder)
    if trainable_layers < 0 or trainable_layers >= len(blocks):
        return
    main.embeddings.trainable = False
    for block in blocks[: len(blocks) - trainable_layers]:
        block.trainable = False


class IntentNetwork(tf.keras.Model):
    """Encoder -> [CLS] -> dropout -> dense logits (float32 even under mixed precision)."""

    def __init__(self, encoder: tf.keras.Model, n_labels: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.head = tf.keras.layers.Dense(n_labels, dtype="float32", name="intent_head")

    def call(self, inputs: Dict[Text, tf.Tensor], training: bool = False) -> tf.Tensor:
        hidden = self.encoder(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], training=training
        )[0]
        return self.head(self.dropout(hidden[:, 0], training=training))


def _weight_key(variable: tf.Variable) -> Text:
    """A variable's name without the model's own (numbered) prefix."""
    return variable.name.split("/", 1)[-1]


def copy_weights(source: tf.keras.Model, target: tf.keras.Model) -> None:
    """Copy weights by name: Keras orders `get_weights()` trainable-first, so two copies of one
    architecture with different layers frozen list them in different orders."""
    values = {_weight_key(v): v for v in source.weights}
    for variable in target.weights:
        variable.assign(values[_weight_key(variable)])


def build_network(
    encoder_class: Any,
    encoder_config: Any,
    source: tf.keras.Model,
    n_labels: int,
    settings: Dict[Text, Any],
    head_weights: Optional[Tuple[np.ndarray, np.ndarray]] = None,
) -> IntentNetwork:
    """A fresh network (call inside the strategy's scope) holding a copy of the given weights."""
    encoder = encoder_class(encoder_config)
    encoder(encoder.dummy_inputs)
    copy_weights(source, encoder)
    freeze_below_top(encoder, int(settings["trainable_layers"]))
    network = IntentNetwork(encoder, n_labels, float(settings["dropout"]))
    network({"input_ids": tf.ones([1, 3], tf.int32), "attention_mask": tf.ones([1, 3], tf.int32)})
    if head_weights is not None:
        network.head.set_weights(list(head_weights))
    return network


def to_dataset(
    token_ids: Sequence[Sequence[int]], labels: np.ndarray, batch_size: int, pad_id: int,
    shuffle_seed: Optional[int],
) -> tf.data.Dataset:
    """Batches padded to their own longest example (short chat messages stay cheap)."""

    def examples() -> Any:
        for ids, label in zip(token_ids, labels):
            yield np.asarray(ids, np.int32), np.ones(len(ids), np.int32), np.int32(label)

    spec = (
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([], tf.int32),
    )
    data = tf.data.Dataset.from_generator(examples, output_signature=spec).cache()
    if shuffle_seed is not None:
        data = data.shuffle(len(token_ids), seed=shuffle_seed, reshuffle_each_iteration=True)
    data = data.padded_batch(batch_size, padding_values=(pad_id, 0, 0))
    return data.map(lambda ids, mask, y: ({"input_ids": ids, "attention_mask": mask}, y)).prefetch(2)


class TimeBudget(tf.keras.callbacks.Callback):
    """Stops training once `minutes` have passed (checked after every batch); records that it did."""

    def __init__(self, minutes: Optional[float]) -> None:
        super().__init__()
        self.seconds = None if minutes is None else float(minutes) * 60.0
        self.cut_short = False
        self.elapsed = 0.0
        self._started = time.perf_counter()

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        self._started = time.perf_counter()

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        self.elapsed = time.perf_counter() - self._started

    def on_train_batch_end(self, batch: int, logs: Optional[Dict] = None) -> None:
        if self.seconds is not None and time.perf_counter() - self._started > self.seconds:
            self.cut_short = True
            self.model.stop_training = True


def split_holdout(
    n_examples: int, labels: np.ndarray, fraction: float, seed: int, minimum: int = 100
) -> Tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices): `fraction` of each label's examples, never a label's
    last one; nothing held out for small data sets (below `minimum` examples)."""
    order = np.random.RandomState(seed).permutation(n_examples)
    if fraction <= 0 or n_examples < minimum:
        return np.sort(order), np.array([], dtype=int)
    held = []
    for label in np.unique(labels):
        members = [i for i in order if labels[i] == label]
        held += members[: min(len(members) - 1, int(round(fraction * len(members))))]
    held_set = set(held)
    return np.array(sorted(i for i in order if i not in held_set)), np.array(sorted(held))


def fit(
    network: IntentNetwork,
    strategy: tf.distribute.Strategy,
    train: tf.data.Dataset,
    validation: Optional[tf.data.Dataset],
    steps_per_epoch: int,
    settings: Dict[Text, Any],
) -> Dict[Text, Any]:
    """Adam with linear decay, early stopping on the held-out slice, tqdm progress, time budget."""
    from tqdm.keras import TqdmCallback

    epochs = int(settings["epochs"])
    with strategy.scope():
        schedule = tf.keras.optimizers.schedules.PolynomialDecay(
            float(settings["learning_rate"]), max(1, epochs * steps_per_epoch), 0.0
        )
        network.compile(
            optimizer=tf.keras.optimizers.Adam(schedule),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    budget = TimeBudget(settings.get("max_training_minutes"))
    callbacks: List[tf.keras.callbacks.Callback] = [budget, TqdmCallback(verbose=1)]
    if validation is not None:
        callbacks.append(
            tf.keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                patience=int(settings["early_stopping_patience"]),
                restore_best_weights=True,
            )
        )
    started = time.perf_counter()
    history = network.fit(
        train, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=0
    )
    return {
        "epochs_run": len(history.history.get("loss", [])),
        "train_seconds": round(time.perf_counter() - started, 1),
        "cut_short_by_time_budget": budget.cut_short,
        "val_accuracy_per_epoch": [round(float(v), 4) for v in history.history.get("val_accuracy", [])],
        "replicas": strategy.num_replicas_in_sync,
    }
