"""The contract every Rapport dialogue policy must keep, modelled on Rasa's `PolicyTestCollection`.

Subclass `PolicyContract` in the policy's test module and set `policy_class` (and `config`
for fast, tiny settings). The class trains the policy once on a small shop dialogue written
here, so the suite needs nothing outside the repository.
"""
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Text, Tuple, Type

import numpy as np
import pytest
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

DOMAIN_YAML = """
version: "3.1"
intents: [greet, check_order_status, cancel_order, affirm, deny, thank, goodbye, inform]
entities: [order_id]
slots:
  order_id:
    type: text
    influence_conversation: true
    mappings:
      - type: from_entity
        entity: order_id
responses:
  utter_greet: [{text: "Hi! How can I help with your order?"}]
  utter_ask_order_id: [{text: "What is your order id?"}]
  utter_confirm_cancel: [{text: "Cancel order {order_id}?"}]
  utter_keep_order: [{text: "Okay, I won't cancel it."}]
  utter_welcome: [{text: "You're welcome!"}]
  utter_goodbye: [{text: "Bye!"}]
  utter_never_trained: [{text: "No story ever uses me."}]
actions: [action_order_status, action_cancel_order]
"""

STORIES_YAML = """
version: "3.1"
stories:
- story: status with id
  steps:
  - intent: greet
  - action: utter_greet
  - intent: check_order_status
    entities: [{order_id: A1001}]
  - slot_was_set: [{order_id: A1001}]
  - action: action_order_status
  - intent: thank
  - action: utter_welcome
- story: status without id
  steps:
  - intent: check_order_status
  - action: utter_ask_order_id
  - intent: inform
    entities: [{order_id: A1002}]
  - slot_was_set: [{order_id: A1002}]
  - action: action_order_status
  - intent: goodbye
  - action: utter_goodbye
- story: cancel confirmed
  steps:
  - intent: cancel_order
    entities: [{order_id: A1003}]
  - slot_was_set: [{order_id: A1003}]
  - action: utter_confirm_cancel
  - intent: affirm
  - action: action_cancel_order
  - intent: thank
  - action: utter_welcome
- story: cancel declined
  steps:
  - intent: greet
  - action: utter_greet
  - intent: cancel_order
    entities: [{order_id: A1004}]
  - slot_was_set: [{order_id: A1004}]
  - action: utter_confirm_cancel
  - intent: deny
  - action: utter_keep_order
  - intent: goodbye
  - action: utter_goodbye
"""


def _write(directory: Path, name: Text, text: Text) -> Text:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def next_action_cases(
    trackers: List[DialogueStateTracker], domain: Domain
) -> Iterator[Tuple[DialogueStateTracker, Text]]:
    """Yield (conversation so far, the action the story takes next) for every bot turn."""
    for tracker in trackers:
        events = list(tracker.events)
        for index, event in enumerate(events):
            if not isinstance(event, ActionExecuted) or index == 0:
                continue
            if event.action_name is None:
                continue
            prefix = DialogueStateTracker.from_events(
                tracker.sender_id, events[:index], slots=domain.slots
            )
            yield prefix, event.action_name


def best_action(prediction: PolicyPrediction, domain: Domain) -> Text:
    return domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]


class PolicyContract:
    """Tests every Rapport policy must pass. Each policy adds its own tests on top."""

    policy_class: Type[Policy]
    config: Dict[Text, Any] = {}
    # The share of the training stories' bot turns the trained policy must reproduce.
    required_training_accuracy: float = 1.0

    @pytest.fixture(scope="class")
    def workdir(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp("policy_contract")

    @pytest.fixture(scope="class")
    def domain(self, workdir: Path) -> Domain:
        return Domain.load(_write(workdir, "domain.yml", DOMAIN_YAML))

    @pytest.fixture(scope="class")
    def training_trackers(
        self, workdir: Path, domain: Domain
    ) -> List[TrackerWithCachedStates]:
        stories = _write(workdir, "stories.yml", STORIES_YAML)
        return load_data(stories, domain, augmentation_factor=0)

    @pytest.fixture(scope="class")
    def storage_and_context(
        self, workdir: Path
    ) -> Tuple[LocalModelStorage, ExecutionContext]:
        (workdir / "storage").mkdir()
        storage = LocalModelStorage(workdir / "storage")
        return storage, ExecutionContext(GraphSchema({}), model_id="contract")

    def full_config(self) -> Dict[Text, Any]:
        return {**self.policy_class.get_default_config(), **self.config}

    def create_policy(
        self,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        resource_name: Text,
    ) -> Policy:
        storage, context = storage_and_context
        return self.policy_class.create(
            self.full_config(), storage, Resource(resource_name), context
        )

    @pytest.fixture(scope="class")
    def trained_policy(
        self,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> Policy:
        policy = self.create_policy(storage_and_context, "trained")
        returned = policy.train(training_trackers, domain)
        assert isinstance(returned, Resource)
        return policy

    @pytest.fixture(scope="class")
    def loaded_policy(
        self,
        trained_policy: Policy,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
    ) -> Policy:
        storage, context = storage_and_context
        return self.policy_class.load(
            self.full_config(), storage, Resource("trained"), context
        )

    @staticmethod
    def tracker_with(events: List[Event], domain: Domain) -> DialogueStateTracker:
        return DialogueStateTracker.from_events("contract", events, slots=domain.slots)

    @staticmethod
    def assert_valid(prediction: PolicyPrediction, domain: Domain) -> None:
        probabilities = prediction.probabilities
        assert len(probabilities) == domain.num_actions
        assert all(0.0 <= p <= 1.0 for p in probabilities)
        assert not any(np.isnan(probabilities))

    def assert_reproduces(
        self, policy: Policy, training_trackers: List[TrackerWithCachedStates], domain: Domain
    ) -> None:
        cases = list(next_action_cases(training_trackers, domain))
        hits = [
            best_action(policy.predict_action_probabilities(t, domain), domain) == expected
            for t, expected in cases
        ]
        assert sum(hits) / len(hits) >= self.required_training_accuracy

    def test_reproduces_training_stories(
        self,
        trained_policy: Policy,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> None:
        self.assert_reproduces(trained_policy, training_trackers, domain)

    def test_persist_then_load_gives_identical_predictions(
        self,
        trained_policy: Policy,
        loaded_policy: Policy,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> None:
        for tracker, _ in next_action_cases(training_trackers, domain):
            original = trained_policy.predict_action_probabilities(tracker, domain)
            reloaded = loaded_policy.predict_action_probabilities(tracker, domain)
            assert reloaded.probabilities == original.probabilities
        self.assert_reproduces(loaded_policy, training_trackers, domain)

    def test_fine_tuning_loads_the_trained_policy_and_trains_on(
        self,
        trained_policy: Policy,
        workdir: Path,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
    ) -> None:
        """`rasa train --finetune`: Rasa loads the old model with `is_finetuning` and trains it."""
        shutil.copytree(workdir / "storage" / "trained", workdir / "storage" / "finetuned")
        context = ExecutionContext(GraphSchema({}), model_id="contract", is_finetuning=True)
        policy = self.policy_class.load(
            self.full_config(), LocalModelStorage(workdir / "storage"), Resource("finetuned"),
            context,
        )
        self.assert_reproduces(policy, training_trackers, domain)  # before: the old model
        assert isinstance(policy.train(training_trackers, domain), Resource)
        self.assert_reproduces(policy, training_trackers, domain)

    def test_prediction_names_the_policy(
        self, trained_policy: Policy, domain: Domain
    ) -> None:
        tracker = self.tracker_with([ActionExecuted(ACTION_LISTEN_NAME)], domain)
        prediction = trained_policy.predict_action_probabilities(tracker, domain)
        assert prediction.policy_name == self.policy_class.__name__

    def test_empty_tracker(self, trained_policy: Policy, domain: Domain) -> None:
        tracker = DialogueStateTracker("empty", domain.slots)
        prediction = trained_policy.predict_action_probabilities(tracker, domain)
        self.assert_valid(prediction, domain)
        assert not prediction.is_end_to_end_prediction

    def test_unknown_intent(self, trained_policy: Policy, domain: Domain) -> None:
        tracker = self.tracker_with(
            [
                ActionExecuted(ACTION_LISTEN_NAME),
                UserUttered("qwerty", intent={"name": "never_heard_of", "confidence": 1.0}),
            ],
            domain,
        )
        self.assert_valid(trained_policy.predict_action_probabilities(tracker, domain), domain)

    def test_action_not_in_training_data(
        self, trained_policy: Policy, domain: Domain
    ) -> None:
        tracker = self.tracker_with(
            [
                ActionExecuted(ACTION_LISTEN_NAME),
                UserUttered("hi", intent={"name": "greet", "confidence": 1.0}),
                ActionExecuted("utter_never_trained"),
            ],
            domain,
        )
        self.assert_valid(trained_policy.predict_action_probabilities(tracker, domain), domain)

    def test_load_without_training_does_not_crash(
        self,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        domain: Domain,
    ) -> None:
        storage, context = storage_and_context
        policy = self.policy_class.load(
            self.full_config(), storage, Resource("never_trained"), context
        )
        tracker = self.tracker_with([ActionExecuted(ACTION_LISTEN_NAME)], domain)
        self.assert_valid(policy.predict_action_probabilities(tracker, domain), domain)

    def test_train_on_no_stories(
        self,
        storage_and_context: Tuple[LocalModelStorage, ExecutionContext],
        domain: Domain,
    ) -> None:
        policy = self.create_policy(storage_and_context, "no_stories")
        policy.train([], domain)
        tracker = self.tracker_with([ActionExecuted(ACTION_LISTEN_NAME)], domain)
        self.assert_valid(policy.predict_action_probabilities(tracker, domain), domain)
