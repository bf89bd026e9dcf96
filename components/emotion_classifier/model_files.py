"""Save and load the emotion network as Keras h5 weights plus a JSON description (no pickle).

The same two files are the shipped default model (components/emotion_classifier/emotion_model/) and what the
component writes into Rasa's ModelStorage after training.
"""
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional, Text, Tuple

import tensorflow as tf

from components.shared.contracts import EMOTION_LABELS
from components.emotion_classifier.network import build_network

WEIGHTS_FILE = "emotion_lstm.weights.h5"
DESCRIPTION_FILE = "emotion_model.json"
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "emotion_model"


def save_model(
    model: tf.keras.Model,
    network: Dict[Text, Any],
    directory: Path,
    provenance: Optional[Dict[Text, Any]] = None,
) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(directory / WEIGHTS_FILE))
    description = {"labels": list(EMOTION_LABELS), "network": network, "provenance": provenance or {}}
    (directory / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2) + "\n")


def load_model(directory: Path) -> Tuple[tf.keras.Model, Dict[Text, Any]]:
    """Rebuild the layers from the JSON description, then load the h5 weights into them."""
    directory = Path(directory)
    description = json.loads((directory / DESCRIPTION_FILE).read_text())
    if tuple(description["labels"]) != EMOTION_LABELS:
        raise ValueError(
            f"The emotion model in '{directory}' predicts {description['labels']}, "
            f"but this version of EmotionClassifier expects {list(EMOTION_LABELS)}."
        )
    weights = directory / WEIGHTS_FILE
    if not weights.exists():
        raise ValueError(
            f"'{directory}' has no '{WEIGHTS_FILE}' (saved by an older EmotionClassifier, whose "
            f"BiLSTM weights do not fit this LSTM?); retrain with `rasa train`."
        )
    network = description["network"]
    model = build_network(network)
    model.load_weights(str(weights))
    return model, network


def model_fingerprint(directory: Path) -> Text:
    """Changes whenever the weights change, so that Rasa retrains instead of reusing its cache."""
    digest = hashlib.sha256()
    for name in (DESCRIPTION_FILE, WEIGHTS_FILE):
        path = Path(directory) / name
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()
