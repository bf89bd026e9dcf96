"""BertContextPolicy: the next action from the last turns, read by a BERT-family encoder.

- `policy.py`: the Rasa policy (one-hot state features + encoded user words -> action)
- `turn_encoder.py`: embeds a turn's words with mean pooling, with a per-process LRU cache

Replica-safe: the LRU cache is only a cache (same text, same vector on every replica); everything
a prediction needs comes from the tracker.
"""
from components.bert_context_policy.policy import BertContextPolicy

__all__ = ["BertContextPolicy"]
