"""Short-mode fuzzing of every policy in config.yml: `predict_action_probabilities` on odd trackers.

The policies are trained (tiny settings) on the policy contract's shop stories; the trackers
are whatever a conversation could contain after hostile input: unknown intents and actions,
hostile texts, entities and slot values of any type, very long histories, restarts and
sessions in odd places. Each prediction must be a probability per domain action.
"""
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple, Type

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components.bert_context_policy import BertContextPolicy
from components.decision_tree_policy import DecisionTreePolicy
from tests.checks.policy_contract import DOMAIN_YAML, STORIES_YAML
from tests.components.bert_context_policy.test_policy import TINY_SETTINGS
from tests.fuzz.inputs import json_values, texts

SHORT = settings(
    max_examples=50, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy_fuzz")


@pytest.fixture(scope="module")
def domain(workdir: Path) -> Domain:
    (workdir / "domain.yml").write_text(DOMAIN_YAML)
    return Domain.load(str(workdir / "domain.yml"))


@pytest.fixture(scope="module")
def policies(workdir: Path, domain: Domain, tiny_bert: Text) -> Dict[Text, Policy]:
    (workdir / "stories.yml").write_text(STORIES_YAML)
    trackers = load_data(str(workdir / "stories.yml"), domain, augmentation_factor=0)
    (workdir / "storage").mkdir()
    storage = LocalModelStorage(workdir / "storage")
    context = ExecutionContext(GraphSchema({}), model_id="fuzz")
    settings_by_class: List[Tuple[Type[Policy], Dict[Text, Any]]] = [
        (RulePolicy, {}),
        (DecisionTreePolicy, {"max_history": 5}),
        (BertContextPolicy, {**TINY_SETTINGS, "epochs": 5, "model_name_or_path": tiny_bert}),
    ]
    trained = {}
    for policy_class, config in settings_by_class:
        policy = policy_class.create(
            {**policy_class.get_default_config(), **config}, storage,
            Resource(f"fuzz_{policy_class.__name__}"), context,
        )
        policy.train(trackers, domain)
        trained[policy_class.__name__] = policy
    return trained


NAMES = st.one_of(
    st.sampled_from(["greet", "check_order_status", "cancel_order", "affirm", "deny", "nlu_fallback"]),
    texts(30),
)
ACTIONS = st.one_of(
    st.sampled_from(["action_listen", "utter_greet", "action_order_status", "action_cancel_order",
                     "utter_never_trained", "action_session_start", "action_restart"]),
    texts(30),
)


def _user(text: Text, intent: Text, confidence: float, entity_value: Any) -> Event:
    entities = [{"entity": "order_id", "value": entity_value, "start": 0, "end": 5}]
    return UserUttered(text, {"name": intent, "confidence": confidence}, entities)


EVENTS = st.one_of(
    st.builds(_user, texts(80), NAMES, st.floats(0, 1), json_values(1)),
    st.builds(ActionExecuted, ACTIONS),
    st.builds(SlotSet, st.sampled_from(["order_id", "requested_slot", "no_such_slot"]), json_values(1)),
    st.builds(BotUttered, texts(60)),
    # Only loops the domain could have started: Rasa's own RulePolicy raises
    # ActionNotFoundException for an active loop the domain does not know (a stale tracker after
    # a form was removed), which user input cannot cause.
    st.builds(ActiveLoop, st.none()),
    st.just(Restarted()),
    st.just(SessionStarted()),
)
TRACKERS = st.one_of(
    st.lists(EVENTS, max_size=12),
    st.lists(EVENTS, min_size=1, max_size=3).map(lambda events: events * 100),  # long history
)


@pytest.mark.parametrize("name", ["RulePolicy", "DecisionTreePolicy", "BertContextPolicy"])
def test_every_config_policy_is_fuzzed(policies: Dict[Text, Policy], name: Text) -> None:
    """The fuzz test below covers exactly the policies config.yml lists."""
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yml").read_text())
    listed = {entry["name"].rsplit(".", 1)[-1] for entry in config["policies"]}
    assert listed == set(policies) and name in policies


@SHORT
@given(events=TRACKERS)
def test_predict_action_probabilities_on_odd_trackers(
    policies: Dict[Text, Policy], domain: Domain, events: List[Event]
) -> None:
    try:
        tracker = DialogueStateTracker.from_events("fuzz", events, slots=domain.slots)
    except Exception:  # a history Rasa itself cannot replay never reaches a policy
        assume(False)
    for name, policy in policies.items():
        prediction = policy.predict_action_probabilities(tracker, domain)
        probabilities = np.asarray(prediction.probabilities)
        assert probabilities.shape == (domain.num_actions,), name
        assert np.all(np.isfinite(probabilities)) and np.all(probabilities >= 0), name
        assert np.all(probabilities <= 1.0 + 1e-6), name
