"""EmotionClassifier: the customer's emotion on every message, from the MiniLM features.

- `component.py`: the graph component (fine-tunes on examples labelled with an emotion)
- `network.py`: the LSTM network and its training loop
- `features.py`: turns the pipeline's dense token features into the network's input
- `model_files.py`: saves and loads the network as JSON + h5 (no pickle)
- `emotion_model/`: the shipped network, pretrained on GoEmotions (scripts/train_emotion_model.py)

Replica-safe: it reads one message and keeps nothing between messages; a conversation's emotion
history lives in the tracker (the `emotion` slot and each message's parse data).
"""
from components.emotion_classifier.component import EmotionClassifier

__all__ = ["EmotionClassifier"]
