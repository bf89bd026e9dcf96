"""`rasa test` in its forms, with the full Rapport config.

`rasa test` (end-to-end) runs `rasa test core --e2e` and then `rasa test nlu` on the session's
model; `rasa test core` on the same stories is tests/integration/test_assistant.py's
`test_every_test_story_passes`; `rasa test nlu --cross-validation` trains its own folds.
"""
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.integration.commands.conftest import rasa_env
from tests.integration.conftest import RASA, REPO, run


def weighted_f1(report: Path) -> float:
    return json.loads(report.read_text())["weighted avg"]["f1-score"]


@pytest.mark.slow  # every story and the NLU report: about 1 min
def test_rasa_test_end_to_end_passes_every_demo_test_story(
    trained_model: Path, test_stories: Path, tmp_path: Path
) -> None:
    """`rasa test` is Rasa 3.6's end-to-end evaluation (`rasa test core --e2e`, then `rasa test
    nlu`): NLU on each story's text, then the dialogue. The emotion is no entity, so only the
    entities a story annotates are compared (docs/components/emotion_classifier.md)."""
    out = tmp_path / "results"
    output = run([RASA, "test", "-m", str(trained_model), "--stories", str(test_stories),
                  "--nlu", str(REPO / "data" / "emotion_examples.yml"), "--out", str(out),
                  "--no-plot"], env=rasa_env())
    failed = (out / "failed_test_stories.yml").read_text()
    assert "None of the test stories failed" in failed, failed
    stories = sum(
        len(yaml.safe_load(path.read_text())["stories"]) for path in test_stories.glob("*.yml")
    )
    # the first "Correct: n / N" is the conversation level
    assert re.search(r"Correct:\s+(\d+) / (\d+)", output).groups() == (str(stories), str(stories))
    # the NLU half (`rasa test nlu`'s code, on the labelled emotional messages) ran too;
    # entities are scored per extractor: DIET's order ids only, the emotion is no entity
    assert weighted_f1(out / "intent_report.json") >= 0.9
    reports = sorted(path.name for path in out.glob("*_report.json"))
    assert "FastLoadingDIETClassifier_report.json" in reports
    assert not any("Emotion" in name for name in reports)


@pytest.mark.slow  # trains the pipeline twice: about 2 min
def test_rasa_test_nlu_cross_validation(quick_config: Path, nlu_sample: Path, tmp_path: Path) -> None:
    """Two folds with the full pipeline at 10 epochs per component (quick_config), on 8 examples
    per intent (nlu_sample): every Rapport component trains and predicts on each fold."""
    out = tmp_path / "results"
    output = run([RASA, "test", "nlu", "--cross-validation", "--folds", "2",
                  "-c", str(quick_config), "--nlu", str(nlu_sample), "--out", str(out)],
                 env=rasa_env())
    assert "Intent evaluation results" in output
    # 10 epochs on 4 examples per intent learn little (weighted F1 0.19 in session 7's ci6, over
    # 28 intents; chance 0.04): this checks that every fold trained and predicted, not quality
    report = json.loads((out / "intent_report.json").read_text())
    assert report["weighted avg"]["support"] >= 200  # the sample's 217 examples, each predicted once
    assert report["weighted avg"]["f1-score"] >= 0.1
