"""DecisionTreePolicy: a dialogue policy a person can read, and that says why it acted.

- `policy.py`: the Rasa policy (scikit-learn tree over Rasa's tracker states)
- `dialogue_features.py`: tracker states <-> a named, fixed feature vocabulary
- `explanations.py`: decision paths as sentences and the tree as a picture
- `tree_json.py`: the fitted tree as JSON (no pickle)

Replica-safe: predictions depend on the tracker and the persisted tree only.
"""
from components.decision_tree_policy.policy import DecisionTreePolicy

__all__ = ["DecisionTreePolicy"]
