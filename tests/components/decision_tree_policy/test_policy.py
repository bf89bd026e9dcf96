"""DecisionTreePolicy: the shared policy contract, explanations, feature names, persistence,
and the `scripts.explain_tree` report on a model trained by Rasa itself."""
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.core.policies.policy import Policy
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.model_training import train
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates

from components.decision_tree_policy.policy import (
    EXPLANATION_KEY,
    TREE_FILE,
    DecisionTreePolicy,
    load_tree,
)
from components.decision_tree_policy.dialogue_features import history_features
from components.decision_tree_policy.explanations import tree_as_rules
from scripts import explain_tree
from tests.checks.policy_contract import PolicyContract, _write, best_action

CONFIRM_THEN_AFFIRM = [
    ActionExecuted("action_listen"),
    UserUttered(
        "cancel A1003",
        intent={"name": "cancel_order", "confidence": 1.0},
        entities=[{"entity": "order_id", "value": "A1003"}],
    ),
    SlotSet("order_id", "A1003"),
    ActionExecuted("utter_confirm_cancel"),
    ActionExecuted("action_listen"),
    UserUttered("yes", intent={"name": "affirm", "confidence": 1.0}),
]


class TestDecisionTreePolicy(PolicyContract):
    policy_class = DecisionTreePolicy

    def test_explanation_names_the_deciding_turns(
        self, trained_policy: Policy, domain: Domain
    ) -> None:
        prediction = trained_policy.predict_action_probabilities(
            self.tracker_with(CONFIRM_THEN_AFFIRM, domain), domain
        )
        explanation = prediction.action_metadata[EXPLANATION_KEY]
        assert best_action(prediction, domain) == "action_cancel_order"
        assert explanation["action"] == "action_cancel_order"
        assert explanation["confidence"] == pytest.approx(prediction.max_confidence)
        assert explanation["training_samples"] >= 1
        assert "t-0 intent = affirm" in explanation["text"]
        assert explanation["text"].endswith(
            f"-> action_cancel_order (confidence {explanation['confidence']:.2f}, "
            f"{explanation['training_samples']} training samples)"
        )
        # "t-0 intent != deny" is implied by "t-0 intent = affirm": left out of the summary,
        # kept in the full path
        assert "t-0 intent !=" not in explanation["text"]
        assert [c["feature"] for c in explanation["path"]][-1] == "t-0 intent = affirm"
        assert json.loads(json.dumps(prediction.action_metadata)) == prediction.action_metadata

    def test_affirm_is_explained_by_the_latest_intent_not_an_old_greeting(
        self, trained_policy: DecisionTreePolicy
    ) -> None:
        """Regression: without shortened windows the tree told affirm from deny by
        't-3 intent = greet' (a tie sklearn broke at random), so a cancel without a
        greeting would have been kept instead of cancelled."""
        rules = tree_as_rules(
            trained_policy.tree, trained_policy.vocabulary, trained_policy.classes
        )
        assert "t-3 intent" not in rules
        assert "t-0 intent = affirm" in rules or "t-0 intent = deny" in rules

    def test_shortened_copies_never_mix_a_leaf_regression_demo_15_of_20(
        self, trained_policy: DecisionTreePolicy, domain: Domain
    ) -> None:
        """Regression: two stories that end in the same turn after different pasts gave the
        same cut copy two actions; the mixed leaf (confidence 0.14) lost to the core
        fallback and 5 of the demo's 20 test stories failed."""
        ask = {"user": {"intent": "affirm"}, "prev_action": {"action_name": "action_listen"}}
        windows = [
            [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}, ask],
            [{"user": {"intent": "deny"}, "prev_action": {"action_name": "action_listen"}}, ask],
        ]
        examples, labels = trained_policy._examples(
            windows, ["utter_greet", "utter_goodbye"], domain
        )
        assert history_features([ask], domain) not in examples
        assert sorted(labels) == ["utter_goodbye", "utter_greet"]  # whole windows stay

    def test_augmented_story_glued_after_a_slot_loses_to_the_written_story_regression_ci1(
        self, trained_policy: DecisionTreePolicy, domain: Domain
    ) -> None:
        """Regression (demo test story "damaged item, refund accepted"): Rasa's augmentation
        glued "refund accepted, id asked for" after a story that had set order_id, so the same
        window led to action_request_refund (written) and utter_ask_order_id (glued); the mixed
        leaf (0.5) left the choice to BertContextPolicy, which got it wrong in one training."""
        window = [
            {"user": {"intent": "report_item_problem"}, "slots": {"order_id": (1.0,)},
             "prev_action": {"action_name": "utter_offer_refund"}},
            {"user": {"intent": "affirm"}, "slots": {"order_id": (1.0,)},
             "prev_action": {"action_name": "action_listen"}},
        ]
        other = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
        examples, labels = trained_policy._examples(
            [window, window, other],
            ["action_request_refund", "utter_ask_order_id", "utter_greet"],
            domain,
            glued=[False, True, True],
        )
        whole = history_features(window, domain)
        assert [label for example, label in zip(examples, labels) if example == whole] == [
            "action_request_refund"
        ]
        assert "utter_ask_order_id" not in labels
        assert "utter_greet" in labels  # a glued window that contradicts no story stays

    def test_decision_path_is_logged_at_debug_level(
        self, trained_policy: Policy, domain: Domain, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG, logger="components.decision_tree_policy.policy"):
            trained_policy.predict_action_probabilities(
                self.tracker_with(CONFIRM_THEN_AFFIRM, domain), domain
            )
        assert "decision path: " in caplog.text
        assert "-> action_cancel_order" in caplog.text

    def test_unknown_intent_makes_the_tree_abstain(
        self, trained_policy: Policy, domain: Domain
    ) -> None:
        tracker = self.tracker_with(
            [
                ActionExecuted("action_listen"),
                UserUttered("??", intent={"name": "never_heard_of", "confidence": 1.0}),
            ],
            domain,
        )
        prediction = trained_policy.predict_action_probabilities(tracker, domain)
        assert max(prediction.probabilities) == 0.0
        assert prediction.action_metadata is None

    def test_unseen_action_is_reported_not_used(
        self, trained_policy: Policy, domain: Domain
    ) -> None:
        tracker = self.tracker_with(
            [
                ActionExecuted("action_listen"),
                UserUttered("hi", intent={"name": "greet", "confidence": 1.0}),
                ActionExecuted("utter_never_trained"),
            ],
            domain,
        )
        prediction = trained_policy.predict_action_probabilities(tracker, domain)
        explanation = prediction.action_metadata[EXPLANATION_KEY]
        assert explanation["unseen_features"] == ["t-0 prev_action = utter_never_trained"]
        assert "ignored unseen features" in explanation["text"]

    def test_probabilities_are_the_leaf_class_shares(
        self,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> None:
        storage, context = storage_and_context
        config = {**self.full_config(), "max_depth": 1}
        policy = DecisionTreePolicy.create(config, storage, Resource("stump"), context)
        policy.train(training_trackers, domain)
        assert policy.tree.get_depth() == 1
        prediction = policy.predict_action_probabilities(
            self.tracker_with(CONFIRM_THEN_AFFIRM, domain), domain
        )
        # one split cannot tell the user turns apart: a mixed leaf, shares sum to one
        assert 0.0 < prediction.max_confidence < 1.0
        assert sum(prediction.probabilities) == pytest.approx(1.0)
        explanation = prediction.action_metadata[EXPLANATION_KEY]
        assert explanation["confidence"] == pytest.approx(prediction.max_confidence, abs=1e-4)

    def test_rules_are_left_to_rule_policy(
        self,
        workdir: Path,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> None:
        rules = _write(workdir, "rules.yml", RULE_YAML)
        rule_trackers = load_data(rules, domain, augmentation_factor=0)
        assert all(t.is_rule_tracker for t in rule_trackers)
        storage, context = storage_and_context
        policy = DecisionTreePolicy.create(
            self.full_config(), storage, Resource("with_rules"), context
        )
        policy.train(training_trackers + rule_trackers, domain)
        assert "utter_never_trained" not in policy.classes
        assert "utter_welcome" in policy.classes

    def test_json_round_trip_keeps_the_tree(
        self,
        trained_policy: DecisionTreePolicy,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
    ) -> None:
        storage, _ = storage_and_context
        with storage.read_from(Resource("trained")) as directory:
            tree, vocabulary, classes = load_tree(Path(directory))
        assert classes == trained_policy.classes
        assert vocabulary.names == trained_policy.vocabulary.names
        np.testing.assert_array_equal(tree.tree_.value, trained_policy.tree.tree_.value)
        np.testing.assert_array_equal(tree.tree_.feature, trained_policy.tree.tree_.feature)

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda tree: {**tree, "format": "pickle"},
            lambda tree: {**tree, "n_features": 1},
            lambda tree: {**tree, "values": tree["values"][:1]},
            lambda tree: {k: v for k, v in tree.items() if k != "nodes"},
        ],
    )
    def test_broken_tree_file_is_refused(
        self,
        tamper: Any,
        trained_policy: DecisionTreePolicy,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        domain: Domain,
    ) -> None:
        storage, context = storage_and_context
        resource = Resource(f"tampered_{id(tamper)}")
        policy = DecisionTreePolicy.create(self.full_config(), storage, resource, context)
        policy.tree, policy.vocabulary, policy.classes = (
            trained_policy.tree,
            trained_policy.vocabulary,
            trained_policy.classes,
        )
        policy.persist()
        with storage.read_from(resource) as directory:
            tree_file = Path(directory) / TREE_FILE
            tree_file.write_text(json.dumps(tamper(json.loads(tree_file.read_text()))))
            with pytest.raises(ValueError):
                load_tree(Path(directory))
        loaded = DecisionTreePolicy.load(self.full_config(), storage, resource, context)
        assert loaded.tree is None
        tracker = self.tracker_with(CONFIRM_THEN_AFFIRM, domain)
        assert max(loaded.predict_action_probabilities(tracker, domain).probabilities) == 0


RULE_YAML = """
version: "3.1"
rules:
- rule: a rule-only answer
  steps:
  - intent: inform
  - action: utter_never_trained
"""

NAMING_DOMAIN = """
version: "3.1"
intents: [cancel_order, affirm]
entities: [order_id]
slots:
  order_id: {type: text, mappings: [{type: from_entity, entity: order_id}]}
  emotion:
    type: categorical
    values: [anger, joy]
    mappings: [{type: custom}]
  vip: {type: bool, mappings: [{type: custom}]}
  mood_score: {type: float, min_value: 0, max_value: 1, mappings: [{type: custom}]}
forms:
  address_form: {required_slots: [order_id]}
responses:
  utter_ask_confirm: [{text: "Sure?"}]
"""


def test_features_have_readable_names(tmp_path: Path) -> None:
    domain = Domain.load(_write(tmp_path, "domain.yml", NAMING_DOMAIN))
    states: List[Dict[Text, Any]] = [
        {
            "user": {"intent": "cancel_order", "entities": ("order_id",)},
            "prev_action": {"action_name": "action_listen"},
        },
        {
            "user": {"intent": "cancel_order"},
            "prev_action": {"action_name": "utter_ask_confirm"},
            "slots": {
                "order_id": (1.0,),
                "emotion": (1.0, 0.0, 0.0),
                "vip": (1.0, 0.0),
                "mood_score": (0.25,),
            },
            "active_loop": {"name": "address_form"},
        },
    ]
    features = {f.name: (f.negation, f.binary, v) for f, v in history_features(states, domain).items()}
    assert features == {
        "t-1 intent = cancel_order": ("t-1 intent != cancel_order", True, 1.0),
        "t-1 entity order_id given": ("t-1 entity order_id not given", True, 1.0),
        "t-1 prev_action = action_listen": ("t-1 prev_action != action_listen", True, 1.0),
        "t-0 intent = cancel_order": ("t-0 intent != cancel_order", True, 1.0),
        "t-0 prev_action = utter_ask_confirm": ("t-0 prev_action != utter_ask_confirm", True, 1.0),
        "t-0 slot order_id is set": ("t-0 slot order_id is not set", True, 1.0),
        "t-0 slot emotion = anger": ("t-0 slot emotion != anger", True, 1.0),
        "t-0 slot vip is set": ("t-0 slot vip is not set", True, 1.0),
        "t-0 slot mood_score (scaled)": ("", False, 0.25),
        "t-0 active_loop = address_form": ("t-0 active_loop != address_form", True, 1.0),
    }


# --- the report command on a model trained by Rasa ------------------------------------------

PROJECT_DOMAIN = """
version: "3.1"
intents: [greet, cancel_order, affirm, deny, goodbye]
entities: [order_id]
slots:
  order_id:
    type: text
    mappings: [{type: from_entity, entity: order_id}]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_confirm_cancel: [{text: "Cancel it?"}]
  utter_cancelled: [{text: "Cancelled."}]
  utter_kept: [{text: "Kept."}]
  utter_goodbye: [{text: "Bye."}]
"""

PROJECT_NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: "- hello\\n- hi there\\n"
- intent: cancel_order
  examples: "- cancel my order\\n- please cancel it\\n"
- intent: affirm
  examples: "- yes\\n- sure\\n"
- intent: deny
  examples: "- no\\n- nope\\n"
- intent: goodbye
  examples: "- bye\\n- see you\\n"
"""

PROJECT_STORIES = """
version: "3.1"
stories:
- story: cancel confirmed
  steps:
  - intent: cancel_order
  - action: utter_confirm_cancel
  - intent: affirm
  - action: utter_cancelled
- story: cancel declined
  steps:
  - intent: greet
  - action: utter_greet
  - intent: cancel_order
  - action: utter_confirm_cancel
  - intent: deny
  - action: utter_kept
rules:
- rule: say goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""

PROJECT_CONFIG = """
recipe: default.v1
assistant_id: tree_report_test
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: KeywordIntentClassifier
policies:
  - name: RulePolicy
  - name: components.decision_tree_policy.DecisionTreePolicy
    max_history: 3
"""


@pytest.fixture(scope="module")
def trained_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `rasa train` (the function the CLI calls) of a five-intent project."""
    project = tmp_path_factory.mktemp("tree_project")
    previous_cache = os.environ.get("RASA_CACHE_DIRECTORY")
    os.environ["RASA_CACHE_DIRECTORY"] = str(project / "cache")
    try:
        result = train(
            _write(project, "domain.yml", PROJECT_DOMAIN),
            _write(project, "config.yml", PROJECT_CONFIG),
            [
                _write(project, "nlu.yml", PROJECT_NLU),
                _write(project, "stories.yml", PROJECT_STORIES),
            ],
            output=str(project / "models"),
            fixed_model_name="tree",
        )
    finally:
        if previous_cache is None:
            os.environ.pop("RASA_CACHE_DIRECTORY", None)
        else:
            os.environ["RASA_CACHE_DIRECTORY"] = previous_cache
    assert result.code == 0
    return Path(result.model)


def test_report_writes_rules_and_picture(trained_archive: Path, tmp_path: Path) -> None:
    assert explain_tree.main([str(trained_archive), "--out", str(tmp_path / "report")]) == 0
    rules = (tmp_path / "report" / "decision_tree_rules.txt").read_text(encoding="utf-8")
    assert rules.startswith("# DecisionTreePolicy of tree.tar.gz")
    assert "if t-0 intent = affirm:" in rules or "if t-0 intent = deny:" in rules
    assert "-> utter_cancelled (confidence 1.00" in rules
    # the goodbye rule is RulePolicy's business, not the tree's
    assert "utter_goodbye" not in rules
    picture = (tmp_path / "report" / "decision_tree.png").read_bytes()
    assert picture.startswith(b"\x89PNG")


def test_report_as_svg(trained_archive: Path, tmp_path: Path) -> None:
    assert explain_tree.main([str(trained_archive), "--out", str(tmp_path), "--format", "svg"]) == 0
    assert "<svg" in (tmp_path / "decision_tree.svg").read_text(encoding="utf-8")


def _png_height(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[20:24], "big")


def test_report_depth_folds_the_picture_not_the_rules(trained_archive: Path, tmp_path: Path) -> None:
    assert explain_tree.main([str(trained_archive), "--out", str(tmp_path / "full")]) == 0
    assert explain_tree.main(
        [str(trained_archive), "--out", str(tmp_path / "top"), "--depth", "1"]
    ) == 0
    assert _png_height(tmp_path / "top" / "decision_tree.png") < _png_height(
        tmp_path / "full" / "decision_tree.png"
    )
    assert (tmp_path / "top" / "decision_tree_rules.txt").read_text() == (
        tmp_path / "full" / "decision_tree_rules.txt"
    ).read_text()


def test_report_refuses_a_missing_archive(tmp_path: Path) -> None:
    assert explain_tree.main([str(tmp_path / "nope.tar.gz"), "--out", str(tmp_path)]) == 2


def test_explanation_reaches_the_tracker(trained_archive: Path) -> None:
    """The explanation rides on `action_metadata`, which Rasa stores in `ActionExecuted`."""

    async def converse() -> List[Dict[Text, Any]]:
        agent = Agent.load(str(trained_archive))
        for text in ["/cancel_order", "/affirm"]:
            await agent.handle_text(text, sender_id="explained")
        tracker = await agent.tracker_store.retrieve("explained")
        return [event.as_dict() for event in tracker.events]

    events = asyncio.run(converse())
    cancelled = next(e for e in events if e.get("name") == "utter_cancelled")
    assert cancelled["policy"] == "DecisionTreePolicy"
    explanation = cancelled["metadata"][EXPLANATION_KEY]
    assert "t-0 intent" in explanation["text"]
    assert explanation["text"].split(" -> ")[1].startswith("utter_cancelled (confidence")
