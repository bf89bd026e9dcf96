"""What the EmotionClassifier reads: the dense features the pipeline's MiniLM featurizer computes.

One module decides how text becomes the network's input, and the pretraining script, the
benchmark and the component's fallback all use it. That is what makes the shipped weights match
the pipeline: GoEmotions is featurized by Rasa's own `WhitespaceTokenizer` and Rapport's
`CompiledLanguageModelFeaturizer` (Rasa's LanguageModelFeaturizer with the model call compiled;
model_name `bert`, weights all-MiniLM-L6-v2), the same classes and settings as in config.yml, so
training features and inference features cannot drift apart.
"""
import logging
from typing import Iterable, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.compiled_lm_featurizer import CompiledLanguageModelFeaturizer
from components.shared.encoder import resolve_model_path

logger = logging.getLogger(__name__)


# The network reads at most this many tokens: a chat message longer than that is rare, and a
# fixed bound keeps the LSTM's cost per message bounded.
MAX_TOKENS = 32


def rasa_featurizers(
    model_weights: Optional[Text] = None,
) -> Tuple[WhitespaceTokenizer, LanguageModelFeaturizer]:
    """The tokenizer and BERT featurizer configured as in config.yml (MiniLM by default)."""
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer_config = {
        **LanguageModelFeaturizer.get_default_config(),
        "model_name": "bert",
        "model_weights": resolve_model_path(model_weights, "model_weights"),
    }
    context = ExecutionContext(GraphSchema({}), node_name="CompiledLanguageModelFeaturizer")
    return tokenizer, CompiledLanguageModelFeaturizer(featurizer_config, context)


def featurize_texts(
    texts: Sequence[Text],
    featurizers: Tuple[WhitespaceTokenizer, LanguageModelFeaturizer],
) -> List[Message]:
    """Tokenize and featurize texts exactly as `rasa train` featurizes NLU examples.

    Returns one message per text, in order (TrainingData drops duplicates; they share one).
    """
    tokenizer, featurizer = featurizers
    unique = {text: Message(data={TEXT: text}) for text in texts}
    data = TrainingData(list(unique.values()))
    tokenizer.process_training_data(data)
    featurizer.process_training_data(data)
    return [unique[text] for text in texts]


def dense_inputs(
    message: Message, featurizers: Optional[List[Text]] = None
) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(sequence [tokens, dim], sentence [dim]) dense text features, or None if there are none."""
    sequence, sentence = message.get_dense_features(TEXT, featurizers or [])
    if sequence is None or sentence is None:
        return None
    return (
        np.asarray(sequence.features, dtype=np.float32),
        np.asarray(sentence.features, dtype=np.float32).reshape(-1),
    )


# Batches are padded to one of these lengths: a compiled training step is traced once per
# length instead of once per batch.
PADDING_BUCKETS = (8, 16, MAX_TOKENS)


def pad_sequences(sequences: Iterable[np.ndarray], dim: int) -> np.ndarray:
    """Zero-pad (and cut at MAX_TOKENS) to one batch; zeros are what the network masks out."""
    sequences = [s[:MAX_TOKENS] for s in sequences]
    longest = max([len(s) for s in sequences] + [1])
    length = next(bucket for bucket in PADDING_BUCKETS if bucket >= longest)
    batch = np.zeros((len(sequences), length, dim), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    return batch
