"""Save a fitted sklearn decision tree as plain JSON and rebuild it, without pickle or skops.

A tree is a few arrays (children, split feature and threshold, class counts per node), so
JSON holds it exactly (Python writes floats with round-trip precision) and loading it runs
no code from the file. skops would work too, but its first import scans all of scikit-learn
for trusted types, which cost over a minute of `rasa train` on the shared 2-core machine.
"""
from typing import Any, Dict

import numpy as np
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

FORMAT = "rapport-decision-tree/1"


def tree_to_json(tree: DecisionTreeClassifier) -> Dict[str, Any]:
    state = tree.tree_.__getstate__()
    nodes = state["nodes"]
    return {
        "format": FORMAT,
        "n_features": int(tree.n_features_in_),
        "classes": [int(c) for c in tree.classes_],
        "max_depth": int(state["max_depth"]),
        "nodes": {name: nodes[name].tolist() for name in nodes.dtype.names},
        "values": state["values"].tolist(),
    }


def tree_from_json(data: Dict[str, Any]) -> DecisionTreeClassifier:
    """Rebuild the classifier; raises ValueError for anything that is not such a tree."""
    if data.get("format") != FORMAT:
        raise ValueError(f"Not a saved decision tree (format {data.get('format')!r}).")
    n_features = int(data["n_features"])
    classes = np.array(data["classes"], dtype=np.int64)
    values = np.array(data["values"], dtype=np.float64)
    node_count = len(data["nodes"]["left_child"])
    nodes = np.empty(node_count, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names:
        column = data["nodes"][name]
        if len(column) != node_count:
            raise ValueError(f"Saved tree: node field '{name}' has the wrong length.")
        nodes[name] = column
    inner = nodes["left_child"] >= 0
    if (
        values.shape != (node_count, 1, len(classes))
        or np.any(nodes["feature"][inner] >= n_features)
        or np.any(nodes["left_child"] >= node_count)
        or np.any(nodes["right_child"] >= node_count)
    ):
        raise ValueError("Saved tree: arrays do not fit together.")

    structure = Tree(n_features, np.array([len(classes)], dtype=np.intp), 1)
    structure.__setstate__(
        {"max_depth": int(data["max_depth"]), "node_count": node_count, "nodes": nodes,
         "values": values}
    )
    tree = DecisionTreeClassifier()
    tree.tree_ = structure
    tree.classes_ = classes
    tree.n_classes_ = len(classes)
    tree.n_outputs_ = 1
    tree.n_features_in_ = n_features
    tree.max_features_ = n_features
    return tree
