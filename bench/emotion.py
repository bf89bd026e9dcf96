"""Benchmark: EmotionClassifier vs. stock Rasa's bag-of-words logistic regression, same run.

    nice -n 10 .venv/bin/python -m bench.emotion [--data ../shared/data/goemotions/data/ekman]

Both are scored on GoEmotions' whole Ekman test split (7 labels incl. neutral; `--max-test N`
for the first N rows of scripts/train_emotion_model.py's fixed random order):
- "all rows": every test row; a multi-label row counts as right when the top prediction is one
  of its gold labels (then the gold label is that one), otherwise its gold is its first label.
- "single-label rows": only rows with exactly one gold label (the usual strict scoring).
Reported: macro-F1 (both ways), per-label F1 (all rows), confusion matrices (single-label rows,
PNG), and the median time each adds per message, wall clock and CPU (process time, all
threads: on a shared machine the wall clock also counts waiting for a core; the load average is
recorded). The EmotionClassifier reads the MiniLM features the pipeline computes anyway (cached by
scripts/train_emotion_model.py), so its time is its own `process()` call; the baseline's time
includes its own CountVectorsFeaturizer.
The baseline is Rasa's WhitespaceTokenizer + CountVectorsFeaturizer + LogisticRegressionClassifier,
trained on the whole train split (`--max-train N`: its first N rows in the fixed order; a
multi-label row once per gold label).
Results: bench/results/emotion.json and bench/results/emotion_confusion.png.
"""
import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.metrics import confusion_matrix, f1_score
from tqdm import tqdm

from components.emotion_classifier.component import EMOTION, EmotionClassifier
from components.shared.contracts import EMOTION_LABELS
from scripts.train_emotion_model import DEFAULT_CACHE, DEFAULT_DATA, load_split, read_split, row_order

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def scores(predicted: Sequence[Text], label_sets: Sequence[Sequence[int]]) -> Dict[Text, Any]:
    pred = [EMOTION_LABELS.index(p) for p in predicted]
    lenient_gold = [p if p in gold else gold[0] for p, gold in zip(pred, label_sets)]
    single = [i for i, gold in enumerate(label_sets) if len(gold) == 1]
    per_label = f1_score(lenient_gold, pred, labels=range(len(EMOTION_LABELS)), average=None)
    return {
        "macro_f1_all_rows": round(float(np.mean(per_label)), 4),
        "macro_f1_single_label_rows": round(float(f1_score(
            [label_sets[i][0] for i in single], [pred[i] for i in single],
            labels=range(len(EMOTION_LABELS)), average="macro")), 4),
        "accuracy_all_rows": round(float(np.mean([p == g for p, g in zip(pred, lenient_gold)])), 4),
        "per_label_f1": {label: round(float(f), 4) for label, f in zip(EMOTION_LABELS, per_label)},
        "confusion_single_label_rows": confusion_matrix(
            [label_sets[i][0] for i in single], [pred[i] for i in single], labels=range(len(EMOTION_LABELS))
        ).tolist(),
    }


def timed(process: Callable[[List[Message]], List[Message]], messages: List[Message]) -> Dict[Text, float]:
    """Wall and CPU milliseconds of one `process` call per message, one at a time as a server does."""
    wall, cpu = [], []
    for message in tqdm(messages, desc="timing", unit="msg", mininterval=5):
        start, start_cpu = time.perf_counter(), time.process_time()
        process([message])
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {
        "median_ms_per_message": round(statistics.median(wall), 3),
        "p95_ms_per_message": round(float(np.percentile(wall, 95)), 3),
        "mean_cpu_ms_per_message": round(statistics.mean(cpu), 3),
    }


def with_cached_features(text: Text, sequence: np.ndarray, sentence: np.ndarray) -> Message:
    """A message as it leaves LanguageModelFeaturizer (features from the benchmark's cache)."""
    message = Message(data={TEXT: text})
    message.add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, TEXT, "LanguageModelFeaturizer"))
    message.add_features(Features(sentence[None], FEATURE_TYPE_SENTENCE, TEXT, "LanguageModelFeaturizer"))
    return message


def run_emotion_classifier(test: Any, storage: LocalModelStorage, context: ExecutionContext) -> Dict[Text, Any]:
    texts, sequences, sentences, label_sets = test
    classifier = EmotionClassifier.create(
        EmotionClassifier.get_default_config(), storage, Resource("emotion"), context
    )
    messages = [with_cached_features(t, q, s) for t, q, s in zip(texts, sequences, sentences)]
    # warm-up (builds the compiled graph once) on copies, so no message is processed twice
    classifier.process([with_cached_features(t, q, s) for t, q, s in zip(texts[:20], sequences, sentences)])
    times = timed(classifier.process, messages)
    return {**scores([m.get(EMOTION)["name"] for m in messages], label_sets), **times}


def run_baseline(train: Any, test: Any, storage: LocalModelStorage, context: ExecutionContext) -> Dict[Text, Any]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    vectorizer = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("cvf"), context
    )
    classifier = LogisticRegressionClassifier.create(
        {**LogisticRegressionClassifier.get_default_config(), "max_iter": 500},
        storage, Resource("logreg"), context,
    )
    texts, label_sets = train
    examples = [
        Message(data={TEXT: text, INTENT: EMOTION_LABELS[label]})
        for text, gold in zip(texts, label_sets) for label in gold
    ]
    data = TrainingData(examples)
    tokenizer.process_training_data(data)
    vectorizer.train(data)
    vectorizer.process_training_data(data)
    started = time.time()
    classifier.train(data)
    train_seconds = time.time() - started

    def process(messages: List[Message]) -> List[Message]:
        return classifier.process(vectorizer.process(tokenizer.process(messages)))

    test_texts, _, _, test_labels = test
    messages = [Message(data={TEXT: text}) for text in test_texts]
    process([Message(data={TEXT: text}) for text in test_texts[:20]])  # warm-up on copies
    times = timed(process, messages)
    result = scores([m.get(INTENT)["name"] for m in messages], test_labels)
    return {**result, **times, "train_seconds": round(train_seconds, 1)}


def plot_confusions(results: Dict[Text, Dict[Text, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(7 * len(results), 6.2))
    for ax, (name, result) in zip(np.atleast_1d(axes), results.items()):
        matrix = np.array(result["confusion_single_label_rows"], dtype=float)
        normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(EMOTION_LABELS)):
            for j in range(len(EMOTION_LABELS)):
                ax.text(j, i, f"{normalised[i, j]:.2f}\n({int(matrix[i, j])})", ha="center",
                        va="center", fontsize=7, color="white" if normalised[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(EMOTION_LABELS)), EMOTION_LABELS, rotation=45, ha="right")
        ax.set_yticks(range(len(EMOTION_LABELS)), EMOTION_LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold (single-label test rows)")
        ax.set_title(f"{name}\nmacro-F1 {result['macro_f1_all_rows']:.3f} (all rows), "
                     f"{result['macro_f1_single_label_rows']:.3f} (single-label)")
    fig.suptitle("GoEmotions Ekman test split: row-normalised confusion matrices")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--max-train", type=int, default=None,
                        help="baseline's training rows (default: the whole train split)")
    parser.add_argument("--max-test", type=int, default=None, help="test rows (default: all)")
    args = parser.parse_args()
    from components.emotion_classifier.model_files import DESCRIPTION_FILE, SHIPPED_MODEL_DIR

    provenance = json.loads((SHIPPED_MODEL_DIR / DESCRIPTION_FILE).read_text())["provenance"]
    test = load_split(args.data, "test", args.cache, args.max_test)
    texts, label_sets = read_split(args.data, "train")
    rows = sorted(row_order(len(texts))[: args.max_train] if args.max_train else range(len(texts)))
    train = ([texts[i] for i in rows], [label_sets[i] for i in rows])
    load_before = os.getloadavg()
    context = ExecutionContext(GraphSchema({}), node_name="bench")
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        results = {
            "EmotionClassifier (LSTM on MiniLM features)": run_emotion_classifier(test, storage, context),
            "stock Rasa: CountVectors + LogisticRegression": run_baseline(train, test, storage, context),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"test_rows": len(test[0]), "baseline_train_rows": len(train[0]),
               "load_average_1_5_15min": {"before": load_before, "after": os.getloadavg()},
               "shipped_model": provenance, "results": results}
    (RESULTS / "emotion.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_confusions(results, RESULTS / "emotion_confusion.png")

    print(f"| | {' | '.join(results)} |\n|---|---|---|")
    for key in ("macro_f1_all_rows", "macro_f1_single_label_rows", "accuracy_all_rows",
                "median_ms_per_message", "p95_ms_per_message", "mean_cpu_ms_per_message"):
        print(f"| {key} | " + " | ".join(str(r[key]) for r in results.values()) + " |")
    for label in EMOTION_LABELS:
        print(f"| F1 {label} | " + " | ".join(str(r["per_label_f1"][label]) for r in results.values()) + " |")


if __name__ == "__main__":
    main()
