"""NoiseFilter: clean what people really type before the tokenizer sees it.

- `component.py`: the graph component (registered as a featurizer so it also cleans training data)
- `restorer.py`: NoiseFilterRestorer, puts the user's own text and entity offsets back after the
  extractors
- `alignment.py`: maps offsets between the cleaned and the original text
- `augmentation.py`: noise injection (typos, elongations, ...) to train and test robustness

Replica-safe: everything it keeps between messages is loaded from the model (vocabulary,
dictionaries) and never changes while serving.
"""
from components.noise_filter.component import NoiseFilter
from components.noise_filter.restorer import NoiseFilterRestorer

__all__ = ["NoiseFilter", "NoiseFilterRestorer"]
