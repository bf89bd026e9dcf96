"""Does fine-tuning on the bot's own labels help? The demo's test-story turns, scored twice.

Trains the NLU pipeline that feeds EmotionClassifier (NoiseFilter, tokenizer, compiled MiniLM,
EmotionClassifier) on the demo's `data/` with and without the labelled shop examples
(`data/emotion_examples.yml`), then scores the emotion of every test-story user turn whose
story sets the `emotion` slot. None of those texts is among the labelled examples.

    python -m bench.emotion_finetune        # bench/results/emotion_finetune.{json,md}
"""
import argparse
import asyncio
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Text, Tuple

import yaml

REPO = Path(__file__).resolve().parents[1]
LABELLED = "emotion_examples.yml"
PIPELINE = [
    {"name": "components.noise_filter.NoiseFilter"},
    {"name": "WhitespaceTokenizer"},
    {"name": "components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer",
     "model_name": "bert"},
    {"name": "components.emotion_classifier.EmotionClassifier"},
]


def emotional_turns() -> List[Tuple[Text, Text]]:
    """(user text without entity markup, the emotion the story sets right after it)."""
    turns = []
    for path in sorted((REPO / "tests").glob("test_stories*.yml")):
        for story in yaml.safe_load(path.read_text())["stories"]:
            steps = story["steps"]
            for index, step in enumerate(steps):
                if "user" not in step:
                    continue
                for following in steps[index + 1 : index + 3]:
                    for slot in following.get("slot_was_set") or []:
                        if isinstance(slot, dict) and "emotion" in slot:
                            text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", step["user"].strip())
                            turns.append((text, slot["emotion"]))
    return turns


def score(data: Path, work: Path, turns: List[Tuple[Text, Text]]) -> List[Dict]:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    config = work / "config.yml"
    config.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": PIPELINE}))
    model = train_nlu(str(config), str(data), str(work), fixed_model_name="emotion")
    agent = Agent.load(model)
    rows = []
    for text, gold in turns:
        emotion = asyncio.run(agent.parse_message(text))["emotion"]
        rows.append({"text": text, "gold": gold, "predicted": emotion["name"],
                     "confidence": round(emotion["confidence"], 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    turns = emotional_turns()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        without = Path(tmp) / "data_without_labels"
        shutil.copytree(REPO / "data", without)
        (without / LABELLED).unlink()
        for name, data in (("pretrained only", without), ("fine-tuned on data/", REPO / "data")):
            work = Path(tmp) / name.split()[0]
            work.mkdir()
            results[name] = score(data, work, turns)
    lines = ["| turn | story's emotion | " + " | ".join(results) + " |",
             "|---|---|" + "---|" * len(results)]
    for index, (text, gold) in enumerate(turns):
        cells = [f"{rows[index]['predicted']} {rows[index]['confidence']:.2f}" for rows in results.values()]
        lines.append(f"| {text} | {gold} | " + " | ".join(cells) + " |")
    totals = [sum(r["predicted"] == r["gold"] for r in rows) for rows in results.values()]
    lines.append("| **right** | | " + " | ".join(f"**{t}/{len(turns)}**" for t in totals) + " |")
    out = Path(args.out)
    (out / "emotion_finetune.json").write_text(json.dumps(results, indent=2))
    (out / "emotion_finetune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
