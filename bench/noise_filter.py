"""Benchmark: does NoiseFilter keep intent accuracy up when users type sloppily?

Banking77 (PolyAI, 77 intents, 10,003 train / 3,080 test), three NLU pipelines trained and
tested side by side in one run:

  stock       Rasa's default pipeline (what `rasa init` writes, minus response selector/fallback)
  filter      NoiseFilter + the same pipeline
  filter_aug  NoiseFilter with `augmentation_copies: 1` at level 0.2 + the same pipeline

each tested on the clean test set and on noisy copies with about 10/20/30% of words hit
(components.noise_filter.augmentation, seed 2026, a different seed from the augmentation's). Reports accuracy and
macro-F1 per cell and the median time NoiseFilter adds per message.

    nice -n 5 .venv/bin/python bench/noise_filter.py --epochs 5 > bench/work/noise_filter.log 2>&1

The data is read from ../shared/data/banking77 and only derived files go to bench/work/
(git-ignored); results go to bench/results/noise_filter_<classifier>.{json,md,png}.
"""
import argparse
import asyncio
import csv
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")

DATA = REPO.parent / "shared" / "data" / "banking77" / "banking_data"
WORK = REPO / "bench" / "work" / "noise_filter"
RESULTS = REPO / "bench" / "results"
LEVELS = (0.0, 0.1, 0.2, 0.3)
TEST_SEED = 2026

logger = logging.getLogger("bench.noise_filter")


def stock_pipeline(epochs: int, classifier: Text) -> List[Dict[Text, Any]]:
    """Rasa 3.6's default NLU pipeline (rasa init), without the parts Banking77 has no data for.

    `classifier: logreg` swaps DIET for Rasa's LogisticRegressionClassifier on the same
    features, for when the shared CPU makes DIET epochs take minutes.
    """
    head = [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    ]
    if classifier == "logreg":
        return head + [{"name": "LogisticRegressionClassifier", "max_iter": 300}]
    return head + [{"name": "DIETClassifier", "epochs": epochs, "constrain_similarities": True}]


def configs(epochs: int, classifier: Text) -> Dict[Text, List[Dict[Text, Any]]]:
    filter_step = {"name": "components.noise_filter.NoiseFilter"}
    augmenting = {**filter_step, "augmentation_copies": 1, "augmentation_level": 0.2}
    return {
        "stock": stock_pipeline(epochs, classifier),
        "filter": [filter_step] + stock_pipeline(epochs, classifier),
        "filter_aug": [augmenting] + stock_pipeline(epochs, classifier),
    }


def read_split(name: Text) -> List[Tuple[Text, Text]]:
    with open(DATA / f"{name}.csv", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def write_nlu(examples: List[Tuple[Text, Text]], path: Path) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = TrainingData([Message(data={"text": t, "intent": i}) for t, i in examples])
    path.write_text(RasaYAMLWriter().dumps(data), encoding="utf-8")


def noisy_test_sets(test: List[Tuple[Text, Text]]) -> Dict[float, List[Tuple[Text, Text]]]:
    from components.noise_filter.augmentation import example_rng, inject_noise

    return {
        level: [
            (inject_noise(text, level, example_rng(TEST_SEED, 0, text))[0] if level else text, y)
            for text, y in test
        ]
        for level in LEVELS
    }


def train(name: Text, pipeline: List[Dict[Text, Any]], nlu_path: Path) -> Tuple[Path, float]:
    import yaml
    from rasa.model_training import train_nlu

    config_path = WORK / f"config_{name}.yml"
    config_path.write_text(
        yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline})
    )
    started = time.perf_counter()
    model = train_nlu(
        str(config_path), str(nlu_path), str(WORK / "models"), fixed_model_name=name
    )
    return Path(model), time.perf_counter() - started


def predict(agent: Any, texts: List[Text]) -> List[Text]:
    """Intent for each text, running the NLU graph once on the whole batch."""
    from rasa.core.channels import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE

    processor = agent.processor
    target = processor.model_metadata.nlu_target
    messages = [UserMessage(text) for text in texts]
    results = processor.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: messages}, targets=[target]
    )[target]
    return [(m.get("intent") or {}).get("name") or "" for m in results]


def filter_latency(train_examples: List[Tuple[Text, Text]], texts: List[Text]) -> Dict[Text, float]:
    """Median/p95 time NoiseFilter.process adds per message, one message at a time."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from components.noise_filter.component import NoiseFilter

    started = time.perf_counter()
    storage = LocalModelStorage(Path(tempfile.mkdtemp(dir=WORK)))
    component = NoiseFilter.create(
        {}, storage, Resource("noise_filter"), ExecutionContext(GraphSchema({}), "bench")
    )
    component.train(TrainingData([Message(data={"text": t, "intent": i}) for t, i in train_examples]))
    setup = time.perf_counter() - started
    component.process([Message(data={"text": "warm up"})])
    timings = []
    for text in texts:
        message = Message(data={"text": text})
        tic = time.perf_counter()
        component.process([message])
        timings.append(time.perf_counter() - tic)
    timings.sort()
    return {
        "median_ms": 1000 * statistics.median(timings),
        "p95_ms": 1000 * timings[int(0.95 * (len(timings) - 1))],
        "setup_s": setup,
        "messages": len(timings),
    }


def restoration(
    train_examples: List[Tuple[Text, Text]], test_sets: Dict[float, List[Tuple[Text, Text]]]
) -> Dict[Text, float]:
    """Share of noisy test sentences that NoiseFilter turns back into exactly what it makes of
    the clean sentence (no classifier involved), per noise level."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from components.noise_filter.component import NoiseFilter

    storage = LocalModelStorage(Path(tempfile.mkdtemp(dir=WORK)))
    component = NoiseFilter.create(
        {}, storage, Resource("noise_filter"), ExecutionContext(GraphSchema({}), "bench")
    )
    component.train(TrainingData([Message(data={"text": t, "intent": i}) for t, i in train_examples]))

    def clean(text: Text) -> Text:
        return component.clean(text).text.lower()

    reference = [clean(t) for t, _ in test_sets[0.0]]
    rates = {}
    for level in LEVELS[1:]:
        noisy = [t.lower() for t, _ in test_sets[level]]
        cleaned = [clean(t) for t, _ in test_sets[level]]
        rates[str(level)] = {
            "noisy_equal_clean": sum(n == c.lower() for n, (c, _) in zip(noisy, test_sets[0.0])) / len(noisy),
            "filtered_equal_clean": sum(a == b for a, b in zip(cleaned, reference)) / len(noisy),
        }
    return rates


def run_sklearn(
    train_examples: List[Tuple[Text, Text]], test_sets: Dict[float, List[Tuple[Text, Text]]]
) -> Dict[Text, Any]:
    """Rasa-free proxy for when the shared CPU cannot run three Rasa trainings: the features of
    Rasa's two CountVectorsFeaturizers (words; char_wb 1-4) and a logistic regression, fed raw
    text (stock), NoiseFilter-cleaned text (filter), or cleaned text plus one cleaned noisy copy
    per example at level 0.2 (filter_aug), exactly as the NoiseFilter options would."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from components.noise_filter.augmentation import noisy_messages
    from components.noise_filter.component import NoiseFilter

    storage = LocalModelStorage(Path(tempfile.mkdtemp(dir=WORK)))
    component = NoiseFilter.create(
        {}, storage, Resource("noise_filter"), ExecutionContext(GraphSchema({}), "bench")
    )
    messages = [Message(data={"text": t, "intent": i}) for t, i in train_examples]
    component.train(TrainingData(messages))
    noisy = noisy_messages(messages, 1, 0.2, 42)
    variants = {
        "stock": (train_examples, lambda t: t),
        "filter": ([(component.clean(t).text, i) for t, i in train_examples], None),
        "filter_aug": (
            [(component.clean(t).text, i) for t, i in train_examples]
            + [(component.clean(m.get("text")).text, m.get("intent")) for m in noisy],
            None,
        ),
    }
    cells, seconds = {}, {}
    for name, (train, transform) in variants.items():
        transform = transform or (lambda t: component.clean(t).text)
        started = time.perf_counter()
        words = CountVectorizer(lowercase=True, token_pattern=r"\S+")
        chars = CountVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(1, 4))
        texts = [t for t, _ in train]
        features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
        model = LogisticRegression(max_iter=300).fit(features, [y for _, y in train])
        seconds[name] = round(time.perf_counter() - started, 1)
        for level in LEVELS:
            test = [transform(t) for t, _ in test_sets[level]]
            gold = [y for _, y in test_sets[level]]
            predicted = model.predict(hstack([words.transform(test), chars.transform(test)]).tocsr())
            cells[f"{name}@{level}"] = {
                "accuracy": accuracy_score(gold, predicted),
                "macro_f1": f1_score(gold, predicted, average="macro"),
            }
            logger.info(f"{name} level={level}: {cells[f'{name}@{level}']}")
    return {"cells": cells, "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="DIET epochs, same for all configs")
    parser.add_argument(
        "--classifier", choices=["diet", "logreg", "sklearn"], default="diet",
        help="diet: the real thing; logreg: Rasa's LogisticRegressionClassifier instead of DIET; "
        "sklearn: Rasa-free proxy (same count features + logistic regression)",
    )
    parser.add_argument("--limit-train", type=int, default=0, help="use only N training examples")
    parser.add_argument("--limit-test", type=int, default=0, help="use only N test examples")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from rasa.core.agent import Agent
    from sklearn.metrics import accuracy_score, f1_score
    from tqdm import tqdm

    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    train_examples, test = read_split("train"), read_split("test")
    if args.limit_train:
        train_examples = train_examples[:: max(1, len(train_examples) // args.limit_train)]
    if args.limit_test:
        test = test[:: max(1, len(test) // args.limit_test)]
    nlu_path = WORK / "banking77_train.yml"
    write_nlu(train_examples, nlu_path)
    test_sets = noisy_test_sets(test)

    latency = filter_latency(
        train_examples, [t for level in LEVELS for t, _ in test_sets[level]]
    )
    logger.info(f"NoiseFilter latency: {latency}")

    results: Dict[Text, Any] = {
        "epochs": args.epochs,
        "classifier": args.classifier,
        "train_examples": len(train_examples),
        "test_examples": len(test),
        "levels": list(LEVELS),
        "noise_filter_latency": latency,
        "restoration": restoration(train_examples, test_sets),
        "cells": {},
        "train_seconds": {},
    }
    if args.classifier == "sklearn":
        results.update(run_sklearn(train_examples, test_sets))
        (RESULTS / f"noise_filter_{args.classifier}.json").write_text(json.dumps(results, indent=1))
        write_report(results)
        return
    for name, pipeline in tqdm(configs(args.epochs, args.classifier).items(), desc="configs"):
        logger.info(f"training {name}")
        model, seconds = train(name, pipeline, nlu_path)
        results["train_seconds"][name] = round(seconds, 1)
        agent = Agent.load(str(model))  # slow (~1-2 min here): once per config
        for level in tqdm(LEVELS, desc=f"testing {name}", leave=False):
            texts = [t for t, _ in test_sets[level]]
            gold = [y for _, y in test_sets[level]]
            predicted = predict(agent, texts)
            cell = {
                "accuracy": accuracy_score(gold, predicted),
                "macro_f1": f1_score(gold, predicted, average="macro"),
            }
            results["cells"][f"{name}@{level}"] = cell
            logger.info(f"{name} level={level}: {cell}")
        (RESULTS / f"noise_filter_{args.classifier}.json").write_text(json.dumps(results, indent=1))

    write_report(results)


def write_report(results: Dict[Text, Any]) -> None:
    names = list(results["train_seconds"])
    header = "| config | " + " | ".join(
        f"{'clean' if lv == 0 else f'{int(lv * 100)}% noise'} acc / F1" for lv in LEVELS
    ) + " | train s |"
    lines = [header, "|" + "---|" * (len(LEVELS) + 2)]
    for name in names:
        cells = [results["cells"][f"{name}@{lv}"] for lv in LEVELS]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{100 * c['accuracy']:.1f} / {100 * c['macro_f1']:.1f}" for c in cells)
            + f" | {results['train_seconds'][name]:.0f} |"
        )
    latency = results["noise_filter_latency"]
    lines.append("")
    lines.append(
        f"NoiseFilter added time per message: median {latency['median_ms']:.2f} ms, "
        f"p95 {latency['p95_ms']:.2f} ms over {latency['messages']} messages "
        f"(setup incl. dictionary load and training: {latency['setup_s']:.1f} s). "
        + (
            f"DIET epochs: {results['epochs']} for every config."
            if results["classifier"] == "diet"
            else "Classifier: LogisticRegressionClassifier (instead of DIET) for every config."
            if results["classifier"] == "logreg"
            else "Rasa-free proxy: Rasa's count features + sklearn logistic regression."
        )
    )
    for level, rates in results.get("restoration", {}).items():
        lines.append(
            f"- {int(100 * float(level))}% noise: {100 * rates['noisy_equal_clean']:.0f}% of sentences "
            f"untouched by the noise; after NoiseFilter {100 * rates['filtered_equal_clean']:.0f}% "
            "are identical to the filtered clean sentence."
        )
    (RESULTS / f"noise_filter_{results['classifier']}.md").write_text("\n".join(lines) + "\n")
    plot(results, names)
    print("\n".join(lines))


def plot(results: Dict[Text, Any], names: List[Text]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in names:
        accuracy = [100 * results["cells"][f"{name}@{lv}"]["accuracy"] for lv in LEVELS]
        axis.plot([100 * lv for lv in LEVELS], accuracy, marker="o", label=name)
    axis.set_xlabel("% of words hit by noise")
    axis.set_ylabel("intent accuracy (%)")
    model = {"diet": f"DIET {results['epochs']} epochs", "logreg": "Rasa + LogReg"}.get(
        results["classifier"], "proxy: counts + LogReg"
    )
    axis.set_title(f"Banking77 ({results['train_examples']} train), {model}")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(RESULTS / f"noise_filter_{results['classifier']}.png", dpi=100)


if __name__ == "__main__":
    main()
