"""The shared check suites can fail: run against a component that returns nothing, every check
in them fails. Without this, a check that accepts anything would go unnoticed."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

NOTHING = '''
from typing import Any, List

from rasa.core.policies.policy import Policy
from rasa.engine.graph import GraphComponent

import tests.components.emotion_classifier.test_component as emotion
import tests.components.noise_filter.test_component as noise_filter
import tests.components.noise_filter.test_restorer as restorer
import tests.components.test_compiled_lm_featurizer as featurizer
import tests.components.test_fast_loading_diet as diet
from tests.checks.policy_contract import PolicyContract


class ReturnsNothing(GraphComponent):
    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> "ReturnsNothing":
        return cls()

    def train(self, training_data: Any) -> None:
        return None

    def process(self, messages: List[Any]) -> List[Any]:
        return []


class PredictsNothing(Policy):
    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs) -> "PredictsNothing":
        return cls(config, model_storage, resource, execution_context)

    def train(self, *args: Any, **kwargs: Any) -> None:
        return None

    def predict_action_probabilities(self, *args: Any, **kwargs: Any) -> None:
        return None


class TestNothingAsNoiseFilter(noise_filter.TestNoiseFilterChecks):
    component_class = ReturnsNothing


class TestNothingAsRestorer(restorer.TestNoiseFilterRestorerChecks):
    component_class = ReturnsNothing


class TestNothingAsEmotionClassifier(emotion.TestEmotionClassifierChecks):
    component_class = ReturnsNothing


class TestNothingAsFeaturizer(featurizer.TestCompiledFeaturizerChecks):
    component_class = ReturnsNothing


class TestNothingAsDIET(diet.TestFastLoadingDIETChecks):
    component_class = ReturnsNothing


class TestNothingAsPolicy(PolicyContract):
    policy_class = PredictsNothing
'''


def test_every_shared_check_fails_for_a_component_that_returns_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]')
    pytester.makepyfile(test_nothing=NOTHING)
    # A separate interpreter: an in-process run would unload the TensorFlow/transformers modules
    # it imported, and Keras refuses to register their layers a second time.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=900)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0, result.stdout.str()[-3000:]
    # every check of the six suites ran and failed (NLU: 11 bad inputs + 3 others; policy: 9)
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) >= 5 * 14 + 9
