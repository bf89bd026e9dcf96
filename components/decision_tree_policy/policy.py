"""DecisionTreePolicy: a dialogue policy a person can read, and that says why it acted.

Rasa dropped its SklearnPolicy in 3.0 and TED cannot tell a designer which part of the
conversation made it choose an action. This policy learns a scikit-learn decision tree over
the same tracker states Rasa's policies see (intent, entities, slots, previous action, active
loop over `max_history` turns) and attaches the decision path of every prediction to it.

Persistence: the tree, the feature vocabulary and the action names as JSON through Rasa's
model storage (no pickle; see `components.decision_tree_policy.tree_json`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Set, Text, Tuple

import numpy as np
import rasa.shared.utils.io
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import FileIOException
from sklearn.tree import DecisionTreeClassifier

from components.decision_tree_policy.dialogue_features import (
    Feature,
    FeatureVocabulary,
    history_features,
    latest_intent_feature,
)
from components.decision_tree_policy.explanations import explain
from components.decision_tree_policy.tree_json import tree_from_json, tree_to_json

logger = logging.getLogger(__name__)

TREE_FILE = "decision_tree.json"
VOCABULARY_FILE = "decision_tree_vocabulary.json"
# Key of the explanation in `PolicyPrediction.action_metadata`, which Rasa copies into the
# `ActionExecuted` event's metadata: the explanation ends up in the tracker.
EXPLANATION_KEY = "decision_tree"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class DecisionTreePolicy(Policy):
    """Predicts the next action with a decision tree learned from the stories, and says why.

    Rasa removed its SklearnPolicy in 3.0, and TEDPolicy cannot tell a conversation designer
    which part of the conversation made it act. This policy learns a scikit-learn decision tree
    over the dialogue states Rasa's policies read (intent, entities, slots, previous action and
    active loop over the last `max_history` turns, as named yes/no features) and attaches the
    decision path to every prediction (`t-0 intent = affirm AND t-1 prev_action =
    utter_confirm_cancel -> action_cancel_order`): `rasa shell --debug` logs it and the tracker
    store keeps it in the `ActionExecuted` event's metadata. `python -m scripts.explain_tree`
    prints the whole tree as rules and draws it. Confidence is the share of the action in its
    leaf; when the user's latest intent never occurs in the stories it abstains and leaves the
    turn to RulePolicy. It learns from stories only (rules stay with RulePolicy) and saves the
    tree as JSON, no pickle.

    **Settings**

    - `max_history` (default `5`): turns of history the tree sees (`t-0` ... `t-4`).
    - `max_depth` (default `null`): deepest path; `null` grows until every story is reproduced.
      A small depth (4-8) fits on a slide, at the cost of mixed leaves (lower confidences).
    - `min_samples_leaf` (default `1`): fewest training samples per leaf; raise it to stop the
      tree from memorising single stories.
    - `class_weight` (default `null`): `null`, `balanced`, or `{action_name: weight}`.
    - `priority` (default `2`): ensemble tie-break only: above TEDPolicy (1), below
      MemoizationPolicy (3) and RulePolicy (6).
    - `random_seed` (default `42`): scikit-learn's `random_state`: the same data gives the same
      tree.
    - `prefer_recent_turns` (default `true`): also learn from each window with its oldest turns
      cut off, so the tree asks about recent turns first.

    **Configuration**

    ```yaml
    policies:
      - name: RulePolicy
        core_fallback_threshold: 0.3
        core_fallback_action_name: action_default_fallback
      - name: components.decision_tree_policy.DecisionTreePolicy
        max_history: 5
    ```
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Turns of history the tree sees (t-0 ... t-(max_history-1)).
            "max_history": 5,
            # None grows the tree until every training story is reproduced.
            "max_depth": None,
            "min_samples_leaf": 1,
            # None, "balanced" or {action_name: weight}.
            "class_weight": None,
            # Between TEDPolicy (1) and MemoizationPolicy (3): breaks ties with TED.
            "priority": 2,
            "random_seed": 42,
            # Also learn from each history window with its oldest turns cut off, so that
            # the tree prefers tests on recent turns (see `_examples`).
            "prefer_recent_turns": True,
        }

    @staticmethod
    def supported_data() -> SupportedData:
        """Stories only: rules stay with RulePolicy, rule-only turns are hidden at prediction."""
        return SupportedData.ML_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        tree: Optional[DecisionTreeClassifier] = None,
        vocabulary: Optional[FeatureVocabulary] = None,
        classes: Optional[List[Text]] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        self.tree = tree
        self.vocabulary = vocabulary or FeatureVocabulary([])
        self.classes = classes or []

    def _standard_featurizer(self) -> MaxHistoryTrackerFeaturizer:
        # Raw states are all the tree needs; no SingleStateFeaturizer vectors.
        return MaxHistoryTrackerFeaturizer(
            state_featurizer=None, max_history=self.config["max_history"]
        )

    def _class_weight(self) -> Any:
        weight = self.config["class_weight"]
        if isinstance(weight, dict):
            return {
                self.classes.index(action): value
                for action, value in weight.items()
                if action in self.classes
            }
        return weight

    def _examples(
        self,
        windows: List[List[State]],
        actions: List[Text],
        domain: Domain,
        glued: Optional[List[bool]] = None,
    ) -> Tuple[List[Dict[Feature, float]], List[Text]]:
        """Unique (features, action) examples, plus shortened windows if configured.

        Several tests often separate the training stories equally well ("t-0 intent =
        affirm" and "t-3 intent = greet"), and sklearn breaks such ties at random. Adding
        every window also with its oldest turns cut off makes the recent turns the tests
        that stay true in all copies, so the tree asks about them first.

        `glued[i]` marks a window from Rasa's augmentation, which glues a story's start to
        another's end: a slot the first story set stays set in the second, whose path may
        depend on its being unset. Where such a window contradicts a written story's, the
        story wins.
        """
        rows = []  # (features, action, is a whole window, comes from augmentation)
        for window, action, augmented in zip(windows, actions, glued or [False] * len(windows)):
            shortest = 1 if self.config["prefer_recent_turns"] else len(window)
            for length in range(len(window), shortest - 1, -1):
                features = history_features(window[-length:], domain)
                rows.append((features, action, length == len(window), augmented))
        written: Dict[FrozenSet[Tuple[Feature, float]], Set[Text]] = {}
        for features, action, _, augmented in rows:
            if not augmented:
                written.setdefault(frozenset(features.items()), set()).add(action)
        rows = [
            (features, action, whole)
            for features, action, whole, augmented in rows
            if not augmented or action in written.get(frozenset(features.items()), {action})
        ]
        # A cut copy whose features also lead to another action elsewhere would only make a
        # mixed leaf (confidence below the core fallback's threshold): keep it out.
        actions_of: Dict[FrozenSet[Tuple[Feature, float]], Set[Text]] = {}
        for features, action, _ in rows:
            actions_of.setdefault(frozenset(features.items()), set()).add(action)
        seen: Set[Tuple[FrozenSet[Tuple[Feature, float]], Text]] = set()
        examples, labels = [], []
        for features, action, whole in rows:
            key = (frozenset(features.items()), action)
            if key in seen or (not whole and len(actions_of[key[0]]) > 1):
                continue
            seen.add(key)
            examples.append(features)
            labels.append(action)
        # Rows in a canonical order: the order of Rasa's (augmented) trackers varies between
        # processes, and sklearn's tie-breaks, hence the tree, would vary with it.
        order = sorted(
            range(len(examples)),
            key=lambda i: (labels[i], sorted((f.name, v) for f, v in examples[i].items())),
        )
        return [examples[i] for i in order], [labels[i] for i in order]

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Fit the tree on every (history window -> next action) example of the stories.

        `rasa train --finetune` refits it too: a CART tree has no weights to continue from, and
        the fit is deterministic and takes a second, so the result equals a fresh training.
        """
        trackers = SupportedData.trackers_for_supported_data(
            self.supported_data(), training_trackers
        )
        windows: List[List[State]] = []
        actions: List[Text] = []
        glued: List[bool] = []
        for augmented in (False, True):
            states, labels = self.featurizer.training_states_and_labels(
                [t for t in trackers if getattr(t, "is_augmented", False) == augmented],
                domain,
                ignore_action_unlikely_intent=True,
            )
            windows += states
            actions += [label[0] for label in labels]
            glued += [augmented] * len(states)
        examples, actions = self._examples(windows, actions, domain, glued)
        if not examples:
            logger.warning(
                f"{self.__class__.__name__} found no stories to learn from; "
                "it will not predict anything."
            )
            self.tree, self.vocabulary, self.classes = None, FeatureVocabulary([]), []
            self.persist()
            return self._resource

        self.vocabulary = FeatureVocabulary.build(examples)
        self.classes = sorted(set(actions))
        features = np.stack([self.vocabulary.vectorize(e)[0] for e in examples])
        targets = np.array([self.classes.index(a) for a in actions])
        self.tree = DecisionTreeClassifier(
            max_depth=self.config["max_depth"],
            min_samples_leaf=self.config["min_samples_leaf"],
            class_weight=self._class_weight(),
            random_state=self.config["random_seed"],
        ).fit(features, targets)
        logger.info(
            f"{self.__class__.__name__}: {len(examples)} examples, "
            f"{len(self.vocabulary)} features, {len(self.classes)} actions -> tree of depth "
            f"{self.tree.get_depth()} with {self.tree.get_n_leaves()} leaves."
        )
        self.persist()
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Leaf class shares as confidences; the decision path goes into `action_metadata`.

        The policy abstains (all zeros, so RulePolicy's core fallback can step in) when it
        was never trained or the user's latest intent never occurs in the stories: any leaf
        it reached would be a guess.
        """
        probabilities = self._default_predictions(domain)
        if self.tree is None:
            return self._prediction(probabilities)

        states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
        intent_feature = latest_intent_feature(states)
        if intent_feature is not None and intent_feature not in self.vocabulary:
            logger.debug(
                f"{self.__class__.__name__} abstains: '{intent_feature}' never occurs in "
                "the training stories."
            )
            return self._prediction(probabilities)

        row, unseen = self.vocabulary.vectorize(history_features(states, domain))
        shares = self.tree.predict_proba(row.reshape(1, -1))[0]
        for class_index, share in zip(self.tree.classes_, shares):
            action = self.classes[int(class_index)]
            if action in domain.action_names_or_texts:
                probabilities[domain.index_for_action(action)] = float(share)

        explanation = explain(self.tree, row, self.vocabulary, self.classes, unseen)
        logger.debug(f"{self.__class__.__name__} decision path: {explanation.text}")
        return self._prediction(
            probabilities, action_metadata={EXPLANATION_KEY: explanation.as_dict()}
        )

    def persist(self) -> None:
        """Tree, vocabulary and action names as JSON (no pickle)."""
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / VOCABULARY_FILE,
                {
                    "max_history": self.config["max_history"],
                    "classes": self.classes,
                    "features": self.vocabulary.to_json(),
                },
            )
            if self.tree is not None:
                rasa.shared.utils.io.dump_obj_as_json_to_file(
                    directory / TREE_FILE, tree_to_json(self.tree)
                )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> DecisionTreePolicy:
        """Load the tree; an untrained or missing resource gives a policy that abstains."""
        try:
            with model_storage.read_from(resource) as directory:
                tree, vocabulary, classes = load_tree(Path(directory))
        except (ValueError, FileNotFoundError, FileIOException) as error:
            logger.warning(
                f"{cls.__name__}: could not load a tree from resource '{resource.name}' "
                f"({error or 'nothing saved'}); the policy will not predict anything."
            )
            tree, vocabulary, classes = None, None, None
        return cls(
            config,
            model_storage,
            resource,
            execution_context,
            tree=tree,
            vocabulary=vocabulary,
            classes=classes,
        )


def load_tree(
    directory: Path,
) -> Tuple[Optional[DecisionTreeClassifier], FeatureVocabulary, List[Text]]:
    """Read what `persist` wrote (ValueError if it is broken); shared with `scripts.explain_tree`."""
    metadata = rasa.shared.utils.io.read_json_file(directory / VOCABULARY_FILE)
    vocabulary = FeatureVocabulary.from_json(metadata["features"])
    classes = metadata["classes"]
    tree_file = directory / TREE_FILE
    if not tree_file.exists():
        return None, vocabulary, classes
    try:
        tree = tree_from_json(rasa.shared.utils.io.read_json_file(tree_file))
    except (KeyError, TypeError) as error:
        raise ValueError(f"Broken tree file {tree_file}: {error}") from error
    if tree.n_features_in_ != len(vocabulary) or len(tree.classes_) > len(classes):
        raise ValueError(f"{tree_file} does not match {VOCABULARY_FILE}.")
    return tree, vocabulary, classes
