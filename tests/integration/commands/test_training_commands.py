"""`rasa train --finetune` (Rapport's trainable components continue from the session's model),
and `rasa train` stopping on a Rapport component placed where it cannot work."""
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Dict, Text

import pytest
import yaml

from tests.integration.commands.conftest import rasa_env, run_in
from tests.integration.conftest import RASA, REPO

NEW_EXAMPLES = """version: "3.1"
nlu:
  - intent: check_order_status
    examples: |
      - where has my consignment [A1003](order_id) got to
      - any news on the consignment for order [A1006](order_id)
"""


def demo_project(directory: Path) -> Path:
    """The demo assistant's training files, in a directory of its own (its own training cache)."""
    directory.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(REPO / name, directory / name)
    shutil.copytree(REPO / "data", directory / "data")
    return directory


def vocabulary(model: Path) -> Dict[Text, int]:
    with tarfile.open(model) as archive:
        [member] = [m for m in archive.getmembers() if m.name.endswith("noise_filter_vocabulary.json")]
        return json.load(archive.extractfile(member))["vocabulary"]


@pytest.mark.slow  # a second `rasa train`: about 2 min
def test_rasa_train_finetune_continues_from_the_previous_model(
    trained_model: Path, tmp_path: Path
) -> None:
    """New examples, a tenth of the epochs: every Rapport component that learns picks up where
    the previous model stopped (their logs say so), and the NoiseFilter keeps its vocabulary."""
    project = demo_project(tmp_path / "project")
    (project / "data" / "new_examples.yml").write_text(NEW_EXAMPLES)
    out = tmp_path / "models"
    output = run_in(
        [RASA, "train", "--finetune", str(trained_model), "--epoch-fraction", "0.1",
         "--fixed-model-name", "finetuned", "--out", str(out)],
        project, rasa_env(PYTHONPATH=str(REPO)),
    )
    assert "EmotionClassifier: finetune on" in output and "continuing from the previous model" in output
    assert "BertContextPolicy: fine-tuning, continuing from the previous model." in output
    before, after = vocabulary(trained_model), vocabulary(out / "finetuned.tar.gz")
    assert "consignment" not in before and after["consignment"] == 2
    assert set(before) <= set(after)


def test_rasa_train_stops_on_a_misplaced_noise_filter_and_says_where_it_goes(
    tmp_path: Path,
) -> None:
    """The NoiseFilter after the tokenizer could not clean what the tokenizer reads: training
    stops before any component trains, with the move to make."""
    project = demo_project(tmp_path / "project")
    config = yaml.safe_load((project / "config.yml").read_text())
    pipeline = config["pipeline"]
    noise_filter = pipeline.pop(0)
    assert noise_filter["name"] == "components.noise_filter.NoiseFilter"
    pipeline.insert(1, noise_filter)  # after WhitespaceTokenizer
    (project / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [RASA, "train", "nlu", "--out", str(tmp_path / "models")], cwd=project,
        env=rasa_env(PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "NoiseFilter is at position 2 of the pipeline, after WhitespaceTokenizer (position 1)" in output
    assert "Move it above WhitespaceTokenizer in config.yml." in output
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())
