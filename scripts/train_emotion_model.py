"""Pretrain the EmotionClassifier's default model on GoEmotions (Ekman grouping plus neutral).

    .venv/bin/python -m scripts.train_emotion_model \
        [--data ../shared/data/goemotions/data/ekman] [--seed 42] [--epochs 12]

Featurizes the train/dev/test splits with Rasa's own WhitespaceTokenizer and
LanguageModelFeaturizer (all-MiniLM-L6-v2), exactly as the pipeline does at inference, and caches
the features in bench/work/ (a few minutes the first time). Then trains the BiLSTM on the train
split, keeps the epoch with the best dev macro-F1 and writes the weights (Keras h5) and their
JSON description to components/emotion_model/, where the component loads them offline.
"""
import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "goemotions" / "data" / "ekman"
DEFAULT_CACHE = REPO / "bench" / "work" / "goemotions_features"
DEFAULT_OUT = REPO / "components" / "emotion_model"

Split = Tuple[List[Text], List[np.ndarray], np.ndarray, List[List[int]]]


def read_split(data: Path, split: Text) -> Tuple[List[Text], List[List[int]]]:
    """GoEmotions' TSV: text, comma-separated label ids (labels.txt order), comment id."""
    texts, label_sets = [], []
    for line in (data / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, labels, _ = line.split("\t")
        texts.append(text)
        label_sets.append(sorted({int(label) for label in labels.split(",")}))
    return texts, label_sets


def load_split(data: Path, split: Text, cache: Path, limit: Optional[int] = None) -> Split:
    """Texts, token features, sentence features and gold label sets of one split (cached).

    `limit` takes a fixed random subset (seed 0): featurizing all of GoEmotions' train split
    takes about an hour on two busy cores.
    """
    texts, label_sets = read_split(data, split)
    path = cache / f"{split}.npz"
    if limit and limit < len(texts):
        rows = sorted(random.Random(0).sample(range(len(texts)), limit))
        texts, label_sets = [texts[i] for i in rows], [label_sets[i] for i in rows]
        path = cache / f"{split}-{limit}.npz"
    if not path.exists():
        extract_features(texts, path)
    stored = np.load(path)
    offsets = stored["offsets"]
    tokens = stored["tokens"].astype(np.float32)
    sequences = [tokens[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
    return texts, sequences, stored["sentences"].astype(np.float32), label_sets


def extract_features(texts: Sequence[Text], path: Path, chunk: int = 512) -> None:
    from tqdm import tqdm

    from components.emotion_features import dense_inputs, featurize_texts, rasa_featurizers

    featurizers = rasa_featurizers()
    # Rasa pads each batch to its longest message (masked, so the features do not change):
    # featurizing in order of length avoids most of that padding and saves most of the time.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    features = [None] * len(texts)
    for start in tqdm(range(0, len(texts), chunk), desc=f"featurizing {path.stem}", unit="chunk"):
        rows = order[start : start + chunk]
        for row, message in zip(rows, featurize_texts([texts[i] for i in rows], featurizers)):
            features[row] = dense_inputs(message)
    tokens, sentences, offsets = [], [], [0]
    for sequence, sentence in features:
        tokens.append(sequence.astype(np.float16))
        sentences.append(sentence.astype(np.float16))
        offsets.append(offsets[-1] + len(sequence))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, tokens=np.concatenate(tokens), sentences=np.stack(sentences), offsets=np.array(offsets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="GoEmotions ekman folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache (gitignored)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the weights go")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lstm-units", type=int, default=None)
    parser.add_argument("--max-train", type=int, default=None, help="train on a random subset")
    parser.add_argument("--max-dev", type=int, default=None, help="early-stop on a random subset")
    parser.add_argument("--max-test", type=int, default=None, help="report on a random subset")
    parser.add_argument("--features-only", action="store_true", help="only fill the feature cache")
    args = parser.parse_args()

    splits = {
        split: load_split(args.data, split, args.cache, getattr(args, f"max_{split}"))
        for split in ("dev", "train", "test")
    }
    if args.features_only:
        return

    from components.emotion_model_files import save_model
    from components.emotion_network import NETWORK_DEFAULTS, BestMacroF1, build_network, fit

    network = dict(NETWORK_DEFAULTS)
    if args.lstm_units:
        network["lstm_units"] = args.lstm_units
    network["input_dim"] = int(splits["train"][2].shape[1])
    model = build_network(network)
    _, train_seq, train_sent, train_labels = splits["train"]
    _, dev_seq, dev_sent, dev_labels = splits["dev"]
    started = time.time()

    def provenance() -> Dict[Text, Any]:
        return {
            "data": "GoEmotions (Ekman grouping + neutral), train split; dev split for early stopping",
            "command": "python -m scripts.train_emotion_model " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if k in {"seed", "epochs", "batch_size", "learning_rate", "max_train", "max_dev", "max_test"} and v
            ),
            "max_train": args.max_train, "max_dev": args.max_dev, "max_test": args.max_test,
            "featurizer": "Rasa WhitespaceTokenizer + LanguageModelFeaturizer(bert, all-MiniLM-L6-v2)",
            "dev_macro_f1_per_epoch": [round(score, 4) for score in best.scores],
            "train_seconds": round(time.time() - started),
        }

    def save_best() -> None:
        save_model(model, network, args.out, provenance())
        print(f"saved the best model so far to {args.out}", flush=True)

    # Saved whenever the dev macro-F1 improves: a run stopped early still leaves its best epoch.
    best = BestMacroF1(dev_seq, dev_sent, dev_labels, on_best=save_best)
    fit(
        model, train_seq, train_sent, train_labels, epochs=args.epochs,
        learning_rate=args.learning_rate, batch_size=args.batch_size, seed=args.seed,
        verbose=2, callbacks=[best],
    )
    save_best()
    print(json.dumps(provenance(), indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
