"""Save and load a fine-tuned classifier without pickle: the encoder as Hugging Face TF h5 plus
its tokenizer files, the intent head as safetensors, labels and settings as JSON."""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from safetensors.numpy import load_file, save_file

ENCODER_DIR = "encoder"
HEAD_FILE = "intent_head.safetensors"
DESCRIPTION_FILE = "transformer_classifier.json"


def save(
    directory: Path,
    encoder: Any,
    tokenizer: Any,
    head: Tuple[np.ndarray, np.ndarray],
    labels: List[Text],
    report: Dict[Text, Any],
) -> None:
    encoder_dir = Path(directory) / ENCODER_DIR
    encoder.save_pretrained(str(encoder_dir))  # tf_model.h5 + config.json
    tokenizer.save_pretrained(str(encoder_dir))
    kernel, bias = head
    save_file({"kernel": np.ascontiguousarray(kernel, np.float32),
               "bias": np.ascontiguousarray(bias, np.float32)}, str(Path(directory) / HEAD_FILE))
    description = {"labels": list(labels), "training": report}
    (Path(directory) / DESCRIPTION_FILE).write_text(json.dumps(description, indent=2), encoding="utf-8")


def load_head(directory: Path) -> Tuple[Tuple[np.ndarray, np.ndarray], List[Text], Dict[Text, Any]]:
    """(kernel, bias), labels, training report; ValueError if the files are missing."""
    head_path = Path(directory) / HEAD_FILE
    description_path = Path(directory) / DESCRIPTION_FILE
    if not head_path.is_file() or not description_path.is_file():
        raise ValueError(f"no fine-tuned transformer classifier in '{directory}'")
    tensors = load_file(str(head_path))
    description = json.loads(description_path.read_text(encoding="utf-8"))
    return (tensors["kernel"], tensors["bias"]), description["labels"], description["training"]


def encoder_dir(directory: Path) -> Optional[Text]:
    path = Path(directory) / ENCODER_DIR
    return str(path) if (path / "config.json").is_file() else None
