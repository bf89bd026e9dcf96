"""The EmotionClassifier's network: an LSTM over token features, their mean and the sentence vector.

Shared by the component (fine-tuning, inference) and `scripts/train_emotion_model.py`
(pretraining), so both build exactly the same layers and the saved weights fit either.
"""
import functools
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
import tensorflow as tf
from threadpoolctl import ThreadpoolController

from components.emotion_classifier.features import MAX_TOKENS, pad_sequences
from components.shared.contracts import EMOTION_LABELS

# What defines the layers; saved next to the weights as JSON.
NETWORK_DEFAULTS: Dict[Text, Any] = {"input_dim": 384, "lstm_units": 64, "dropout": 0.3}


def build_network(network: Dict[Text, Any]) -> tf.keras.Model:
    """LSTM over the (masked) token vectors, plus their masked mean and the sentence vector.

    One direction only: a BiLSTM costs twice the time per message. The mean of the token
    vectors is how all-MiniLM-L6-v2 was trained to be read (Rasa's sentence feature is its CLS
    vector instead), so the LSTM only has to add what word order says.
    """
    dim = int(network["input_dim"])
    sequence = tf.keras.Input((None, dim), name="sequence")
    sentence = tf.keras.Input((dim,), name="sentence")
    tokens = tf.keras.layers.Masking(0.0)(sequence)
    token_mean = tf.keras.layers.GlobalAveragePooling1D(name="token_mean")(tokens)
    tokens = tf.keras.layers.Dropout(float(network["dropout"]) / 2)(tokens)
    encoded = tf.keras.layers.LSTM(int(network["lstm_units"]), name="lstm")(tokens)
    joined = tf.keras.layers.Concatenate()([encoded, token_mean, sentence])
    joined = tf.keras.layers.Dropout(float(network["dropout"]))(joined)
    probabilities = tf.keras.layers.Dense(len(EMOTION_LABELS), activation="softmax", name="emotion")(
        joined
    )
    return tf.keras.Model([sequence, sentence], probabilities, name="emotion_lstm")


class MessageForward:
    """The network's forward pass for one message, in NumPy, from a snapshot of its weights.

    Keras trains the network; a served message runs through these few NumPy lines instead,
    because one TensorFlow call of the same LSTM costs several milliseconds of dispatch and
    thread hand-offs on a small shared CPU, this well under one (see BENCHMARKS.md). Same
    arithmetic as Keras' LSTM (gates i, f, c, o; sigmoid and tanh), checked equal in the tests.
    Take a new snapshot after training changes the weights.

    BLAS runs single-threaded for the pass: matrices this small gain nothing from a second
    thread, and on a busy CPU waiting for one made a message 40 times slower (63 ms instead of
    1.5 ms median, measured with bench/emotion.py).
    """

    def __init__(self, model: tf.keras.Model) -> None:
        self.kernel, self.recurrent, self.bias = model.get_layer("lstm").get_weights()
        self.output_kernel, self.output_bias = model.get_layer("emotion").get_weights()

    def __call__(self, sequence: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        """Probabilities for one message: token vectors [tokens, dim] (cut at MAX_TOKENS), sentence [dim]."""
        with _blas().limit(limits=1, user_api="blas"):
            return self._forward(sequence[:MAX_TOKENS], sentence)

    def _forward(self, sequence: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        units = self.recurrent.shape[0]
        inputs = sequence @ self.kernel + self.bias  # all time steps' input terms at once
        hidden = np.zeros(units, dtype=np.float32)
        cell = np.zeros(units, dtype=np.float32)
        for step in inputs:
            gates = step + hidden @ self.recurrent
            input_gate, forget_gate, output_gate = (
                _sigmoid(gates[: units]), _sigmoid(gates[units : 2 * units]), _sigmoid(gates[3 * units :])
            )
            cell = forget_gate * cell + input_gate * np.tanh(gates[2 * units : 3 * units])
            hidden = output_gate * np.tanh(cell)
        joined = np.concatenate([hidden, sequence.mean(axis=0), sentence])
        logits = (joined @ self.output_kernel + self.output_bias).astype(np.float64)
        exponentials = np.exp(logits - logits.max())
        return exponentials / exponentials.sum()


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries (found once: the search costs milliseconds)."""
    return ThreadpoolController()


def soft_targets(label_sets: Sequence[Sequence[int]]) -> np.ndarray:
    """One row per example; a multi-label row spreads its mass evenly over its gold labels."""
    targets = np.zeros((len(label_sets), len(EMOTION_LABELS)), dtype=np.float32)
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
    out = np.zeros((len(sequences), len(EMOTION_LABELS)), dtype=np.float32)
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
    return float(f1_score(gold, predicted, labels=range(len(EMOTION_LABELS)), average="macro"))


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
