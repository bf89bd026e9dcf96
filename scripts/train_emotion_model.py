"""Pretrain the EmotionClassifier's default model on GoEmotions (Ekman grouping plus neutral).

    .venv/bin/python -m scripts.train_emotion_model \
        [--data ../shared/data/goemotions/data/ekman] [--seed 42] [--epochs 12] [--max-train N]

Featurizes the dev/test/train splits with Rasa's WhitespaceTokenizer and Rapport's
CompiledLanguageModelFeaturizer (all-MiniLM-L6-v2), the classes and settings config.yml serves
with, and caches the features in bench/work/ in shards (`--features-only` just fills the cache;
an interrupted run keeps its finished shards, and `--max-train N` takes the first N rows of the
fixed featurization order, i.e. exactly what a run stopped after N rows cached). Then trains the
LSTM on the train split, keeps the epoch with the best dev macro-F1 (the test split is never
used for selection) and writes the weights (Keras h5) and their JSON description to
components/emotion_classifier/emotion_model/, where the component loads them offline.
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
DEFAULT_OUT = REPO / "components" / "emotion_classifier" / "emotion_model"

Split = Tuple[List[Text], List[np.ndarray], np.ndarray, List[List[int]]]


def read_split(data: Path, split: Text) -> Tuple[List[Text], List[List[int]]]:
    """GoEmotions' TSV: text, comma-separated label ids (labels.txt order), comment id."""
    texts, label_sets = [], []
    for line in (data / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, labels, _ = line.split("\t")
        texts.append(text)
        label_sets.append(sorted({int(label) for label in labels.split(",")}))
    return texts, label_sets


def row_order(size: int) -> List[int]:
    """The fixed random order (seed 0) in which a split's rows are featurized and subsetted.

    `--max-train N` means the first N rows of this order, so a featurization stopped after N
    rows has already cached exactly that subset.
    """
    return random.Random(0).sample(range(size), size)


def load_split(data: Path, split: Text, cache: Path, limit: Optional[int] = None) -> Split:
    """Texts, token features, sentence features and gold label sets of one split.

    Features are cached in shards under `cache/<split>/`; rows not cached yet are featurized
    first (in `row_order`, a shard at a time, so an interrupted run keeps what it finished).
    Featurizing all of GoEmotions' train split takes about an hour on two busy cores.
    """
    texts, label_sets = read_split(data, split)
    rows = sorted(row_order(len(texts))[:limit] if limit else range(len(texts)))
    cached = cached_features(cache / split)
    wanted = set(rows)
    missing = [row for row in row_order(len(texts)) if row in wanted and row not in cached]
    if missing:
        extract_features(texts, missing, cache / split)
        cached = cached_features(cache / split)
    return (
        [texts[i] for i in rows],
        [cached[i][0].astype(np.float32) for i in rows],
        np.stack([cached[i][1] for i in rows]).astype(np.float32),
        [label_sets[i] for i in rows],
    )


def cached_features(directory: Path) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """Row -> (token features, sentence features) from every shard in `directory`."""
    features = {}
    for path in sorted(directory.glob("shard-*.npz")):
        with np.load(path) as stored:  # each item access reads the whole array: once only
            rows, tokens, sentences, offsets = (
                stored[key] for key in ("rows", "tokens", "sentences", "offsets")
            )
        for i, row in enumerate(rows):
            features[int(row)] = (tokens[offsets[i] : offsets[i + 1]], sentences[i])
    return features


def extract_features(texts: Sequence[Text], rows: Sequence[int], directory: Path, shard: int = 1024) -> None:
    from tqdm import tqdm

    from components.emotion_classifier.features import dense_inputs, featurize_texts, rasa_featurizers

    featurizers = rasa_featurizers()
    directory.mkdir(parents=True, exist_ok=True)
    first = len(list(directory.glob("shard-*.npz")))
    for number, start in enumerate(
        tqdm(range(0, len(rows), shard), desc=f"featurizing {directory.name}", unit="shard"), first
    ):
        # Rasa pads each batch to its longest message (masked, so the features do not change):
        # featurizing a shard in order of length avoids most of that padding and its time.
        block = sorted(rows[start : start + shard], key=lambda i: len(texts[i]))
        messages = featurize_texts([texts[i] for i in block], featurizers)
        features = [dense_inputs(message) for message in messages]
        np.savez(
            directory / f"shard-{number:03d}.npz",
            rows=np.array(block),
            tokens=np.concatenate([sequence.astype(np.float16) for sequence, _ in features]),
            sentences=np.stack([sentence.astype(np.float16) for _, sentence in features]),
            offsets=np.cumsum([0] + [len(sequence) for sequence, _ in features]),
        )


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
    parser.add_argument("--max-train", type=int, default=None, help="train on the first N rows of the fixed random order")
    parser.add_argument("--max-dev", type=int, default=None, help="early-stop on the first N rows of it")
    parser.add_argument("--max-test", type=int, default=None, help="featurize only the first N test rows")
    parser.add_argument("--features-only", action="store_true", help="only fill the feature cache")
    args = parser.parse_args()

    splits = {
        split: load_split(args.data, split, args.cache, getattr(args, f"max_{split}"))
        for split in ("dev", "test", "train")
    }
    if args.features_only:
        return

    from components.emotion_classifier.model_files import save_model
    from components.emotion_classifier.network import NETWORK_DEFAULTS, BestMacroF1, build_network, fit

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
                if k in {"seed", "epochs", "batch_size", "learning_rate", "lstm_units", "max_train", "max_dev"} and v
            ),
            "max_train": args.max_train, "max_dev": args.max_dev, "max_test": args.max_test,
            "featurizer": "Rasa WhitespaceTokenizer + CompiledLanguageModelFeaturizer(bert, all-MiniLM-L6-v2)",
            "train_rows": len(train_labels), "dev_rows": len(dev_labels),
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
