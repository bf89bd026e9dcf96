"""Sentence embeddings of dialogue turns, computed once per distinct text.

A policy is asked for a prediction several times per user message (once per bot action), and
the same user message stays in the history for several turns. Embedding a text is a pure
function of the text, so a bounded per-process LRU cache keyed by the text makes every message
cost one encoder pass in total, while keeping no per-conversation state: any server can answer
for any conversation from a shared tracker store.
"""
import collections
import functools
import logging
from typing import Any, List, Optional, Sequence, Text

import numpy as np
import tensorflow as tf

from components.shared.tracing import prediction_function

logger = logging.getLogger(__name__)

SHORT_TOKENS = 16  # padding for short messages; longer ones use `max_tokens`


@functools.lru_cache(maxsize=8)
def _compiled_single_text_encoder(model: Any, max_tokens: int) -> Any:
    """One compiled graph per (encoder, padding) per process: tracing BERT costs seconds, and
    every policy instance on the same cached encoder (trained and loaded ones) can share it."""
    signature = [tf.TensorSpec([1, max_tokens], tf.int32)] * 2

    def embed(input_ids: tf.Tensor, attention_mask: tf.Tensor) -> tf.Tensor:
        hidden = model(
            input_ids=input_ids, attention_mask=attention_mask, training=False
        ).last_hidden_state
        return mean_pool(hidden, attention_mask)

    return prediction_function(embed, signature)


def mean_pool(hidden: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Average the token vectors that the attention mask keeps (all-MiniLM-L6-v2's pooling)."""
    mask = tf.cast(mask, hidden.dtype)[..., None]
    total = tf.reduce_sum(hidden * mask, axis=-2)
    count = tf.maximum(tf.reduce_sum(mask, axis=-2), tf.cast(1.0, hidden.dtype))
    return total / count


class TurnEncoder:
    """Embed short texts with a BERT-family TF model, padded to a fixed length, LRU-cached."""

    def __init__(
        self, tokenizer: Any, model: Any, max_tokens: int, cache_size: int
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.max_tokens = max_tokens
        self.cache_size = cache_size
        self.encoder_calls = 0  # texts actually run through the model (tests count them)
        self._cache: "collections.OrderedDict[Text, np.ndarray]" = collections.OrderedDict()

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: Sequence[Text], length: Optional[int] = None) -> Any:
        """Token ids and attention masks, truncated/padded to `length` (or `max_tokens`)."""
        return self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=length or self.max_tokens,
            return_tensors="np",
        )

    def _padding_for(self, text: Text) -> int:
        """The shortest fixed length that holds the text: most chat messages fit in
        SHORT_TOKENS, and a shorter sequence makes every layer cheaper."""
        tokens = len(self.tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"])
        return SHORT_TOKENS if tokens <= SHORT_TOKENS < self.max_tokens else self.max_tokens

    def _run(self, texts: Sequence[Text]) -> np.ndarray:
        """Single texts (inference) through a compiled graph per padding length, batches
        (training) eagerly: a batch is encoded once per training run, not worth a trace."""
        length = self._padding_for(texts[0]) if len(texts) == 1 else self.max_tokens
        tokens = self.tokenize(texts, length)
        self.encoder_calls += len(texts)
        input_ids = tf.constant(tokens["input_ids"], tf.int32)
        attention_mask = tf.constant(tokens["attention_mask"], tf.int32)
        if len(texts) == 1:
            embed = _compiled_single_text_encoder(self.model, length)
            return embed(input_ids, attention_mask).numpy()
        hidden = self.model(
            input_ids=input_ids, attention_mask=attention_mask, training=False
        ).last_hidden_state
        return mean_pool(hidden, attention_mask).numpy()

    def warm_up(self) -> None:
        """Trace the compiled graphs now (at model load), not on a user's first message."""
        for words in ("hi", "a " * self.max_tokens):
            self._run([words])
        self.encoder_calls = 0

    def embed_one(self, text: Text) -> np.ndarray:
        """The embedding of one text; each distinct text runs the model once per process."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector = self._run([text])[0]
        self._cache[text] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector

    def embed_many(self, texts: Sequence[Text], batch_size: int = 64) -> np.ndarray:
        """Embeddings for training data, in batches; bypasses the cache (batch padding
        differs from single-text padding by rounding, and predictions must not depend on
        which texts happened to be seen during training)."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        parts: List[np.ndarray] = [
            self._run(texts[start : start + batch_size])
            for start in range(0, len(texts), batch_size)
        ]
        return np.concatenate(parts).astype(np.float32)
