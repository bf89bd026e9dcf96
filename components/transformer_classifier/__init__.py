"""Fine-tuned transformer intent classifier (and the pipeline's one encoder pass)."""
from components.transformer_classifier.component import TransformerIntentClassifier

__all__ = ["TransformerIntentClassifier"]
