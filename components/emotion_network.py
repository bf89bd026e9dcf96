"""The EmotionClassifier's network: a BiLSTM over token features plus the sentence vector.

Shared by the component (fine-tuning, inference) and `scripts/train_emotion_model.py`
(pretraining), so both build exactly the same layers and the saved weights fit either.
"""
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
import tensorflow as tf

from components.emotion_features import LABELS, pad_sequences

# What defines the layers; saved next to the weights as JSON.
NETWORK_DEFAULTS: Dict[Text, Any] = {"input_dim": 384, "lstm_units": 64, "dropout": 0.3}


def build_network(network: Dict[Text, Any]) -> tf.keras.Model:
    """BiLSTM over the (masked) token vectors, concatenated with the sentence vector, softmax."""
    dim = int(network["input_dim"])
    sequence = tf.keras.Input((None, dim), name="sequence")
    sentence = tf.keras.Input((dim,), name="sentence")
    tokens = tf.keras.layers.Masking(0.0)(sequence)
    tokens = tf.keras.layers.Dropout(float(network["dropout"]) / 2)(tokens)
    encoded = tf.keras.layers.Bidirectional(
        tf.keras.layers.LSTM(int(network["lstm_units"])), name="bilstm"
    )(tokens)
    joined = tf.keras.layers.Concatenate()([encoded, sentence])
    joined = tf.keras.layers.Dropout(float(network["dropout"]))(joined)
    probabilities = tf.keras.layers.Dense(len(LABELS), activation="softmax", name="emotion")(
        joined
    )
    return tf.keras.Model([sequence, sentence], probabilities, name="emotion_bilstm")


def soft_targets(label_sets: Sequence[Sequence[int]]) -> np.ndarray:
    """One row per example; a multi-label row spreads its mass evenly over its gold labels."""
    targets = np.zeros((len(label_sets), len(LABELS)), dtype=np.float32)
    for row, labels in enumerate(label_sets):
        targets[row, list(labels)] = 1.0 / len(labels)
    return targets


def class_weights(targets: np.ndarray) -> np.ndarray:
    """Inverse square-root label frequency, mean 1: rare emotions count, neutral does not drown them."""
    frequency = targets.sum(axis=0) + 1.0
    weights = 1.0 / np.sqrt(frequency)
    return (weights / weights.mean()).astype(np.float32)


class LengthBuckets(tf.keras.utils.Sequence):
    """Batches of similar length (padded per batch), reshuffled every epoch."""

    def __init__(
        self,
        sequences: List[np.ndarray],
        sentences: np.ndarray,
        targets: np.ndarray,
        sample_weights: np.ndarray,
        batch_size: int,
        seed: int,
    ) -> None:
        self.sequences, self.sentences = sequences, sentences
        self.targets, self.sample_weights = targets, sample_weights
        self.batch_size = batch_size
        self.rng = random.Random(seed)
        self.batches: List[List[int]] = []
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        order = list(range(len(self.sequences)))
        self.rng.shuffle(order)
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            block = sorted(order[start : start + chunk], key=lambda i: len(self.sequences[i]))
            batches += [block[i : i + self.batch_size] for i in range(0, len(block), self.batch_size)]
        self.rng.shuffle(batches)
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> Tuple[Tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        rows = self.batches[index]
        dim = self.sentences.shape[1]
        inputs = (pad_sequences([self.sequences[i] for i in rows], dim), self.sentences[rows])
        return inputs, self.targets[rows], self.sample_weights[rows]


def fit(
    model: tf.keras.Model,
    sequences: List[np.ndarray],
    sentences: np.ndarray,
    label_sets: Sequence[Sequence[int]],
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    verbose: int = 0,
    callbacks: Sequence[tf.keras.callbacks.Callback] = (),
) -> None:
    """Train with class-weighted soft cross-entropy (e.g. with BestMacroF1 for early stopping)."""
    tf.keras.utils.set_random_seed(seed)
    targets = soft_targets(label_sets)
    weights = class_weights(targets)
    sample_weights = (targets * weights).sum(axis=1) / targets.sum(axis=1)
    batches = LengthBuckets(sequences, sentences, targets, sample_weights, batch_size, seed)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy"
    )
    model.fit(batches, epochs=epochs, verbose=verbose, callbacks=list(callbacks), shuffle=False)


def predict(model: tf.keras.Model, sequences: List[np.ndarray], sentences: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities for many examples, batched by length (for training and benchmarks)."""
    order = np.argsort([len(s) for s in sequences])
    out = np.zeros((len(sequences), len(LABELS)), dtype=np.float32)
    dim = sentences.shape[1]
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = (pad_sequences([sequences[i] for i in rows], dim), sentences[rows])
        out[rows] = model.predict_on_batch(batch)
    return out


def macro_f1(probabilities: np.ndarray, label_sets: Sequence[Sequence[int]]) -> float:
    """Macro-F1 of the top label; a multi-label row counts as right if the top label is gold."""
    from sklearn.metrics import f1_score

    predicted = probabilities.argmax(axis=1)
    gold = [p if p in labels else labels[0] for p, labels in zip(predicted, label_sets)]
    return float(f1_score(gold, predicted, labels=range(len(LABELS)), average="macro"))


class BestMacroF1(tf.keras.callbacks.Callback):
    """Early stopping on the dev set's macro-F1: keep the weights of the best epoch."""

    def __init__(
        self,
        sequences: List[np.ndarray],
        sentences: np.ndarray,
        label_sets: Sequence[Sequence[int]],
        on_best: Optional[Callable[[], None]] = None,
    ) -> None:
        super().__init__()
        self.data = (sequences, sentences, label_sets)
        self.on_best = on_best
        self.scores: List[float] = []
        self.best_weights: Optional[List[np.ndarray]] = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[Text, Any]] = None) -> None:
        sequences, sentences, label_sets = self.data
        score = macro_f1(predict(self.model, sequences, sentences), label_sets)
        improved = not self.scores or score > max(self.scores)
        self.scores.append(score)
        if improved:
            self.best_weights = self.model.get_weights()
            if self.on_best:  # e.g. save now: a long run stopped early still leaves its best
                self.on_best()
        print(f"epoch {epoch + 1}: dev macro-F1 {score:.4f}", flush=True)

    def on_train_end(self, logs: Optional[Dict[Text, Any]] = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
