"""Benchmark: intent quality side by side, one run: stock Rasa, Rapport with DIET, Rapport with
the fine-tuned TransformerIntentClassifier; plus GoEmotions for the emotion model.

Banking77 (PolyAI; /work/shared/data/banking77). Seven of its 77 intents (every 11th, sorted by
name) are held out of training as unseen: their test examples measure how often the
FallbackClassifier (threshold 0.3, ambiguity 0.1, as in both configs) catches out-of-scope
messages. The other 70 intents are trained on their train examples and tested on their test
examples, clean and with 10/20/30% of words hit by noise (bench/noise_filter.py's test sets: the
NoiseFilter's augmentation code, seed 2026). Accuracy and macro-F1 take each side's top intent
before fallback; the fallback rate on in-scope clean messages is reported too.

Sides (configs written to bench/work/intent_quality/):
  stock         bench/configs/stock.yml's pipeline (Rasa's default), without ResponseSelector
  rapport_diet  config.yml's pipeline without ResponseSelector and EmotionClassifier
  finetuned     NoiseFilter (1 noisy copy per example at 20%, cleaned) -> WhitespaceTokenizer ->
                TransformerIntentClassifier (MiniLM fine-tuned end to end) -> FallbackClassifier
                (config.yml's sparse featurizers and DIET serve only entities; Banking77 has none)

Same training budget for every side: each classifier's fit loop stops after --budget-minutes of
wall time (DIET through a callback added to Rasa's own; the fine-tuned one through its
max_training_minutes); each is asked for more epochs than fit, so each uses the whole budget
unless it converges first. Total `rasa train` time (featurizing included) is reported beside it.

    nice -n 10 .venv/bin/python -m bench.intent_quality --budget-minutes 12 \
        > bench/work/intent_quality.log 2>&1 &

Results are written after every side: bench/results/intent_quality/results.{json,md}.
"""
import argparse
import csv
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")

import yaml  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "banking77" / "banking_data"
WORK = REPO / "bench" / "work" / "intent_quality"
RESULTS = REPO / "bench" / "results" / "intent_quality"
LEVELS = (0.0, 0.1, 0.2, 0.3)
HELD_OUT_EVERY = 11
FALLBACK = "nlu_fallback"
SIDES = ("finetuned", "stock", "rapport_diet")

logger = logging.getLogger("bench.intent_quality")


def read_split(name: Text) -> List[Tuple[Text, Text]]:
    with open(DATA / f"{name}.csv", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def held_out_intents(intents: List[Text]) -> List[Text]:
    return sorted(intents)[::HELD_OUT_EVERY]


def pipelines(budget_minutes: float, ft_epochs: int) -> Dict[Text, List[Dict[Text, Any]]]:
    stock = yaml.safe_load((REPO / "bench" / "configs" / "stock.yml").read_text())["pipeline"]
    rapport = yaml.safe_load((REPO / "config.yml").read_text())["pipeline"]
    drop = ("ResponseSelector", "components.emotion_classifier.EmotionClassifier")
    fallback = next(step for step in rapport if step["name"] == "FallbackClassifier")
    return {
        "stock": [s for s in stock if s["name"] != "ResponseSelector"],
        "rapport_diet": [s for s in rapport if s["name"] not in drop],
        "finetuned": [
            {"name": "components.noise_filter.NoiseFilter", "augmentation_copies": 1,
             "augmentation_level": 0.2},
            {"name": "WhitespaceTokenizer"},
            {"name": "components.transformer_classifier.TransformerIntentClassifier",
             "epochs": ft_epochs, "max_training_minutes": budget_minutes},
            dict(fallback),
        ],
    }


def budget_diet(minutes: float, record: Dict[Text, Any]) -> None:
    """Add a wall-time budget to every DIET fit in this process (Rasa's callbacks + ours)."""
    from rasa.utils import train_utils

    from components.transformer_classifier.network import TimeBudget

    original = train_utils.create_common_callbacks

    def with_budget(*args: Any, **kwargs: Any) -> List[Any]:
        budget = TimeBudget(minutes)
        record["budgets"].append(budget)
        return original(*args, **kwargs) + [budget]

    train_utils.create_common_callbacks = with_budget


def train(name: Text, pipeline: List[Dict[Text, Any]], nlu_path: Path) -> Tuple[Path, float]:
    from rasa.model_training import train_nlu

    config_path = WORK / f"config_{name}.yml"
    config_path.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline}))
    started = time.perf_counter()
    model = train_nlu(str(config_path), str(nlu_path), str(WORK / "models"), fixed_model_name=name)
    return Path(model), time.perf_counter() - started


def parse(agent: Any, texts: List[Text]) -> List[Any]:
    """The NLU graph's output messages, a chunk at a time."""
    from rasa.core.channels import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE
    from tqdm import tqdm

    processor = agent.processor
    target = processor.model_metadata.nlu_target
    out = []
    for start in tqdm(range(0, len(texts), 256), desc="parsing", leave=False, mininterval=10):
        chunk = [UserMessage(t) for t in texts[start : start + 256]]
        out += processor.graph_runner.run(inputs={PLACEHOLDER_MESSAGE: chunk}, targets=[target])[target]
    return out


def top_intent(message: Any) -> Text:
    """The classifier's own top intent, before FallbackClassifier replaced it."""
    for entry in message.get("intent_ranking") or []:
        if entry.get("name") != FALLBACK:
            return entry["name"]
    return (message.get("intent") or {}).get("name") or ""


def is_fallback(message: Any) -> bool:
    return (message.get("intent") or {}).get("name") == FALLBACK


def latency(agent: Any, texts: List[Text]) -> Dict[Text, float]:
    """Wall ms for one message at a time through the whole NLU graph (as a server parses)."""
    parse(agent, texts[:5])
    timings = []
    for text in texts:
        tic = time.perf_counter()
        parse(agent, [text])
        timings.append(1000 * (time.perf_counter() - tic))
    timings.sort()
    return {"median_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2), "messages": len(timings)}


def evaluate(model: Path, test_sets: Dict[float, List[Tuple[Text, Text]]], oos: List[Text],
             latency_messages: int, noisy_every: int) -> Dict[Text, Any]:
    """Clean: the whole in-scope test set; noisy levels: every `noisy_every`-th example, with the
    clean score on that same subset beside them (`0.0_subset`)."""
    from rasa.core.agent import Agent
    from sklearn.metrics import accuracy_score, f1_score

    agent = Agent.load(str(model))
    cells: Dict[Text, Any] = {}

    def score(key: Text, gold: List[Text], messages: List[Any]) -> None:
        predicted = [top_intent(m) for m in messages]
        cells[key] = {
            "accuracy": round(accuracy_score(gold, predicted), 4),
            "macro_f1": round(f1_score(gold, predicted, average="macro"), 4),
            "fallback_rate": round(sum(map(is_fallback, messages)) / len(messages), 4),
            "examples": len(gold),
        }
        logger.info(f"  {key}: {cells[key]}")

    clean_gold = [y for _, y in test_sets[0.0]]
    clean = parse(agent, [t for t, _ in test_sets[0.0]])
    score("0.0", clean_gold, clean)
    score("0.0_subset", clean_gold[::noisy_every], clean[::noisy_every])
    for level in LEVELS[1:]:
        subset = test_sets[level][::noisy_every]
        score(str(level), [y for _, y in subset], parse(agent, [t for t, _ in subset]))
    caught = sum(map(is_fallback, parse(agent, oos))) / len(oos)
    step = max(1, len(test_sets[0.0]) // latency_messages)
    return {"cells": cells, "oos_fallback_rate": round(caught, 4),
            "latency": latency(agent, [t for t, _ in test_sets[0.0][::step]])}


def emotion_on_finetuned_encoder(model: Path, rows: int) -> Dict[Text, Any]:
    """GoEmotions Ekman test macro-F1 of the shipped EmotionClassifier when it reads the features
    of (a) frozen MiniLM (what ships today) or (b) the encoder fine-tuned on Banking77 here."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bench.emotion import scores
    from components.emotion_classifier.component import EMOTION, EmotionClassifier
    from components.emotion_classifier.features import rasa_featurizers
    from components.transformer_classifier import TransformerIntentClassifier
    from scripts.train_emotion_model import DEFAULT_DATA, read_split, row_order

    texts, label_sets = read_split(DEFAULT_DATA, "test")
    chosen = sorted(row_order(len(texts))[:rows])
    texts, label_sets = [texts[i] for i in chosen], [label_sets[i] for i in chosen]
    storage, metadata = LocalModelStorage.from_model_archive(Path(tempfile.mkdtemp(dir=WORK)), model)
    node_name, node = next(
        (n, s) for n, s in metadata.train_schema.nodes.items()
        if s.uses is TransformerIntentClassifier and n.startswith("train_")
    )
    context = ExecutionContext(GraphSchema({}), node_name="bench")
    tokenizer, frozen = rasa_featurizers()
    finetuned = TransformerIntentClassifier.load(
        {**TransformerIntentClassifier.get_default_config(), **node.config}, storage, Resource(node_name), context)
    emotion_storage = LocalModelStorage(Path(tempfile.mkdtemp(dir=WORK)))
    classifier = EmotionClassifier.create(
        EmotionClassifier.get_default_config(), emotion_storage, Resource("emotion"), context
    )
    out = {"rows": len(texts), "encoder_fine_tuned_on": "Banking77 (70 intents), this run"}
    for name, featurizer in (("frozen_minilm", frozen), ("finetuned_encoder", finetuned)):
        messages = [Message(data={"text": t}) for t in texts]
        data = TrainingData(messages)
        tokenizer.process_training_data(data)
        featurizer.process_training_data(data)
        classifier.process(messages)
        result = scores([m.get(EMOTION)["name"] for m in messages], label_sets)
        out[name] = {k: result[k] for k in ("macro_f1_all_rows", "macro_f1_single_label_rows", "accuracy_all_rows")}
        logger.info(f"emotion on {name}: {out[name]}")
    return out


def write_report(results: Dict[Text, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=1))
    budget = results["budget_minutes"]
    lines = [
        f"Banking77, {results['train_examples']} train / {results['test_examples']} test examples "
        f"of {results['in_scope_intents']} intents; {results['oos_examples']} test examples of "
        f"{len(results['held_out_intents'])} held-out intents as out-of-scope. Training budget: "
        f"{budget} min of classifier fit per side. Load average at start: {results['load_average_start']}.",
        "",
        f"Noisy columns: every {results['noisy_every']}-th test example; 'clean (same subset)' is "
        "the clean score on those same examples, and the 20% drop is measured against it.",
        "",
        "| side | clean acc / F1 | clean (same subset) | 10% | 20% | 30% | 20% drop | OOS caught | in-scope fallback | "
        "fit s (cut short?) | rasa train s | ms/msg p50 (p95) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, side in results["sides"].items():
        if "cells" not in side:
            lines.append(f"| {name} | {side.get('status', 'not run')} |" + " |" * 11)
            continue
        c = side["cells"]
        acc = lambda lv: 100 * c[str(lv)]["accuracy"]  # noqa: E731
        lines.append(
            f"| {name} | {acc(0.0):.2f} / {100 * c['0.0']['macro_f1']:.2f} | "
            + " | ".join(f"{acc(lv):.2f} / {100 * c[str(lv)]['macro_f1']:.2f}"
                         for lv in ("0.0_subset",) + LEVELS[1:])
            + f" | {acc('0.0_subset') - acc(0.2):.2f} | {100 * side['oos_fallback_rate']:.1f}% | "
            f"{100 * c['0.0']['fallback_rate']:.1f}% | {side['fit_seconds']:.0f} "
            f"({'CUT SHORT by budget' if side['cut_short'] else 'finished'}) | "
            f"{side['train_seconds']:.0f} | {side['latency']['median_ms']:.1f} ({side['latency']['p95_ms']:.1f}) |"
        )
    emotion = results.get("emotion")
    if emotion:
        lines += ["", f"GoEmotions Ekman test ({emotion['rows']} rows), shipped EmotionClassifier LSTM:"]
        for name in ("frozen_minilm", "finetuned_encoder"):
            if name in emotion:
                e = emotion[name]
                lines.append(f"- reading {name}: macro-F1 {e['macro_f1_all_rows']:.4f} (all rows), "
                             f"{e['macro_f1_single_label_rows']:.4f} (single-label rows)")
    (RESULTS / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget-minutes", type=float, default=12.0)
    parser.add_argument("--ft-epochs", type=int, default=2, help="fine-tuned classifier epochs")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--latency-messages", type=int, default=100)
    parser.add_argument("--noisy-every", type=int, default=4,
                        help="noisy test sets: every N-th in-scope test example")
    parser.add_argument("--emotion-rows", type=int, default=1500, help="0 = skip the GoEmotions part")
    parser.add_argument("--smoke", action="store_true",
                        help="a few minutes' check of the whole script on a sliver of the data "
                        "(results in bench/work/intent_quality/smoke/)")
    args = parser.parse_args()
    global RESULTS
    if args.smoke:
        RESULTS = WORK / "smoke"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from bench.noise_filter import noisy_test_sets
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    WORK.mkdir(parents=True, exist_ok=True)
    train_all, test_all = read_split("train"), read_split("test")
    unseen = held_out_intents(sorted({y for _, y in train_all}))
    train_examples = [(t, y) for t, y in train_all if y not in unseen]
    test = [(t, y) for t, y in test_all if y not in unseen]
    oos = [t for t, y in test_all if y in unseen]
    if args.smoke:
        train_examples, test, oos = train_examples[::15], test[::30], oos[::10]
    nlu_path = WORK / "banking77_in_scope.yml"
    nlu_path.write_text(RasaYAMLWriter().dumps(
        TrainingData([Message(data={"text": t, "intent": y}) for t, y in train_examples])))
    test_sets = noisy_test_sets(test)

    results: Dict[Text, Any] = {
        "budget_minutes": args.budget_minutes,
        "ft_epochs": args.ft_epochs,
        "noisy_every": args.noisy_every,
        "train_examples": len(train_examples),
        "test_examples": len(test),
        "in_scope_intents": len({y for _, y in train_examples}),
        "held_out_intents": unseen,
        "oos_examples": len(oos),
        "load_average_start": [round(x, 1) for x in os.getloadavg()],
        "sides": {name: {"status": "not run yet"} for name in args.sides.split(",")},
    }
    diet_budget: Dict[Text, Any] = {"budgets": []}
    budget_diet(args.budget_minutes, diet_budget)
    all_pipelines = pipelines(args.budget_minutes, args.ft_epochs)
    write_report(results)
    for name in args.sides.split(","):
        logger.info(f"training {name}")
        results["sides"][name] = {"status": "training (cut short if this stays)"}
        write_report(results)
        diet_budget["budgets"].clear()
        model, seconds = train(name, all_pipelines[name], nlu_path)
        side: Dict[Text, Any] = {"train_seconds": round(seconds, 1), "model": str(model),
                                 "pipeline": all_pipelines[name]}
        if name == "finetuned":
            report = finetuned_report(model)
            side.update(fit_seconds=report["train_seconds"], cut_short=report["cut_short_by_time_budget"],
                        training_report=report)
        else:
            budget = diet_budget["budgets"][0]  # DIET's (the pipeline's only Rasa fit)
            side.update(fit_seconds=round(budget.elapsed, 1), cut_short=budget.cut_short)
        results["sides"][name] = {**side, "status": "evaluating (cut short if this stays)"}
        write_report(results)
        side.update(evaluate(model, test_sets, oos, args.latency_messages, args.noisy_every))
        side["status"] = "done"
        results["sides"][name] = side
        write_report(results)
        if name == "finetuned" and args.emotion_rows:
            results["emotion"] = emotion_on_finetuned_encoder(model, args.emotion_rows)
            write_report(results)
    results["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    write_report(results)


def finetuned_report(model: Path) -> Dict[Text, Any]:
    """The training report the fine-tuned classifier stored in the model archive."""
    import tarfile

    from components.transformer_classifier.model_files import DESCRIPTION_FILE

    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(DESCRIPTION_FILE))
        return json.loads(archive.extractfile(member).read())["training"]


if __name__ == "__main__":
    main()
