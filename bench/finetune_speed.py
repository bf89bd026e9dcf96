"""`rasa train --finetune` against a fresh `rasa train` of the demo, with the full Rapport config.

Trains the demo from scratch (`--force`: no training cache), then adds two NLU examples and
fine-tunes the fresh model twice, with all epochs (`--epoch-fraction 1.0`) and a fifth of them
(0.2), each in a copy of the project with its own empty cache, and writes the wall-clock seconds
of each command as it finishes:

    nice -n 10 .venv/bin/python -m bench.finetune_speed --out bench/results/finetune_speed.json
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Text

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).parent / "rasa")
NEW_EXAMPLES = """version: "3.1"
nlu:
  - intent: check_order_status
    examples: |
      - where has my consignment [A1003](order_id) got to
      - any news on the consignment for order [A1006](order_id)
"""


def project(directory: Path, new_examples: bool) -> Path:
    directory.mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy(REPO / name, directory / name)
    shutil.copytree(REPO / "data", directory / "data")
    if new_examples:
        (directory / "data" / "new_examples.yml").write_text(NEW_EXAMPLES)
    return directory


def timed(args: List[Text], cwd: Path, log: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
    start = time.monotonic()
    with log.open("w") as output:
        subprocess.run(args, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, check=True)
    return round(time.monotonic() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results: Dict[Text, object] = {"load_average_at_start": os.getloadavg(), "complete": False}
    with tempfile.TemporaryDirectory() as tmp:
        work, models = Path(tmp), Path(tmp) / "models"
        runs = [
            ("fresh", project(work / "fresh", False), ["train", "--force", "--fixed-model-name", "fresh"]),
            ("finetune_all_epochs", project(work / "ft1", True),
             ["train", "--finetune", str(models / "fresh.tar.gz"), "--epoch-fraction", "1.0",
              "--fixed-model-name", "ft1"]),
            ("finetune_fifth_of_epochs", project(work / "ft02", True),
             ["train", "--finetune", str(models / "fresh.tar.gz"), "--epoch-fraction", "0.2",
              "--fixed-model-name", "ft02"]),
        ]
        for name, directory, command in tqdm(runs, desc="rasa train"):
            seconds = timed([RASA, *command, "--out", str(models)], directory,
                            args.out.with_suffix(f".{name}.log"))
            results[f"{name}_seconds"] = seconds
            args.out.write_text(json.dumps(results, indent=1))
    results["complete"] = True
    results["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
