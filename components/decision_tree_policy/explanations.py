"""Say in words why a decision tree chose an action, and print or draw the whole tree.

Both the per-prediction explanation and the report read the fitted sklearn tree
(`tree_.feature`, `tree_.threshold`, children, `value`), so a condition is worded the same way
in `rasa shell --debug`, in the tracker and in the rules file a designer reviews.
"""
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from components.decision_tree_policy.dialogue_features import FeatureVocabulary

LEAF = -1
EQUALS = " = "


@dataclass
class Condition:
    """One test on the way to the leaf, worded as it held for this conversation."""

    feature: Text
    holds: bool
    text: Text


@dataclass
class Explanation:
    """The decision path of one prediction; JSON-serialisable via `as_dict`."""

    action: Text
    confidence: float
    training_samples: int
    path: List[Condition] = field(default_factory=list)
    unseen_features: List[Text] = field(default_factory=list)

    @property
    def text(self) -> Text:
        """One line: the tests that matter, the action, its confidence and support."""
        conditions = " AND ".join(c.text for c in self.key_conditions)
        summary = (
            f"{conditions or '(no test: single leaf)'} -> {self.action} "
            f"(confidence {self.confidence:.2f}, {self.training_samples} training samples)"
        )
        if self.unseen_features:
            summary += f"; ignored unseen features: {', '.join(self.unseen_features)}"
        return summary

    @property
    def key_conditions(self) -> List[Condition]:
        """The path without "x != b" tests that a later "x = a" on the same path implies."""
        known = {c.feature.split(EQUALS)[0] for c in self.path if c.holds and EQUALS in c.feature}
        return [
            c
            for c in self.path
            if c.holds or EQUALS not in c.feature or c.feature.split(EQUALS)[0] not in known
        ]

    def as_dict(self) -> Dict[Text, Any]:
        return {**asdict(self), "text": self.text}


def condition_text(
    vocabulary: FeatureVocabulary, feature_index: int, threshold: float, goes_left: bool
) -> Text:
    """How a split reads: flags as `x`/negation, numbers as `x <= t` / `x > t`."""
    feature = vocabulary.features[feature_index]
    if feature.binary:
        return feature.negation if goes_left else feature.name
    return f"{feature.name} {'<=' if goes_left else '>'} {threshold:.3f}"


def leaf_distribution(tree: DecisionTreeClassifier, node: int) -> np.ndarray:
    """The class shares at a node (weighted, as `predict_proba` returns them)."""
    values = tree.tree_.value[node][0]
    total = values.sum()
    return values / total if total > 0 else values


def explain(
    tree: DecisionTreeClassifier,
    row: np.ndarray,
    vocabulary: FeatureVocabulary,
    classes: List[Text],
    unseen_features: Optional[List[Text]] = None,
) -> Explanation:
    """Follow `row` from the root to its leaf and word every test on the way."""
    structure = tree.tree_
    node = 0
    path = []
    while structure.children_left[node] != LEAF:
        index = int(structure.feature[node])
        threshold = float(structure.threshold[node])
        goes_left = bool(row[index] <= threshold)
        path.append(
            Condition(
                feature=vocabulary.features[index].name,
                holds=not goes_left,
                text=condition_text(vocabulary, index, threshold, goes_left),
            )
        )
        node = structure.children_left[node] if goes_left else structure.children_right[node]
    distribution = leaf_distribution(tree, node)
    best = int(np.argmax(distribution))
    return Explanation(
        action=classes[int(tree.classes_[best])],
        confidence=round(float(distribution[best]), 4),
        training_samples=int(structure.n_node_samples[node]),
        path=path,
        unseen_features=list(unseen_features or []),
    )


def tree_as_rules(
    tree: DecisionTreeClassifier, vocabulary: FeatureVocabulary, classes: List[Text]
) -> Text:
    """The whole tree as indented if/else rules, one leaf per `->` line."""
    structure = tree.tree_
    lines: List[Text] = []

    def visit(node: int, depth: int) -> None:
        indent = "|   " * depth
        if structure.children_left[node] == LEAF:
            distribution = leaf_distribution(tree, node)
            best = int(np.argmax(distribution))
            lines.append(
                f"{indent}-> {classes[int(tree.classes_[best])]} "
                f"(confidence {distribution[best]:.2f}, "
                f"{int(structure.n_node_samples[node])} samples)"
            )
            return
        index = int(structure.feature[node])
        threshold = float(structure.threshold[node])
        for goes_left, child in (
            (False, structure.children_right[node]),
            (True, structure.children_left[node]),
        ):
            lines.append(f"{indent}if {condition_text(vocabulary, index, threshold, goes_left)}:")
            visit(int(child), depth + 1)

    visit(0, 0)
    return "\n".join(lines) + "\n"


def draw_tree(
    tree: DecisionTreeClassifier,
    vocabulary: FeatureVocabulary,
    classes: List[Text],
    path: Path,
    max_depth: Optional[int] = None,
) -> Path:
    """Draw the tree as boxes and arrows; the suffix of `path` (.png/.svg) picks the format.

    Drawn by hand rather than with `sklearn.tree.plot_tree`, whose boxes list the count of
    every action and become unreadable with a real domain. Below `max_depth` a subtree is
    folded into one grey box (its number of leaves and its most common action), so a large
    tree still gives a readable overview.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    structure = tree.tree_
    positions: Dict[int, Tuple[float, float]] = {}
    folded: Dict[int, int] = {}
    next_leaf_x = [0.0]

    def leaves_below(node: int) -> int:
        if structure.children_left[node] == LEAF:
            return 1
        return leaves_below(int(structure.children_left[node])) + leaves_below(
            int(structure.children_right[node])
        )

    def place(node: int, depth: int) -> float:
        is_leaf = structure.children_left[node] == LEAF
        if not is_leaf and max_depth is not None and depth >= max_depth:
            folded[node] = leaves_below(node)
            is_leaf = True
        if is_leaf:
            x = next_leaf_x[0]
            next_leaf_x[0] += 1.0
        else:
            # "yes" on the left so the path a story takes reads left to right
            x = (
                place(int(structure.children_right[node]), depth + 1)
                + place(int(structure.children_left[node]), depth + 1)
            ) / 2
        positions[node] = (x, -float(depth))
        return x

    place(0, 0)
    shown_depth = -min(y for _, y in positions.values())
    figure, axes = plt.subplots(
        figsize=(max(8.0, 2.1 * next_leaf_x[0]), max(3.0, 1.3 * (shown_depth + 1)))
    )
    axes.axis("off")
    for node, (x, y) in positions.items():
        distribution = leaf_distribution(tree, node)
        best = int(np.argmax(distribution))
        action = classes[int(tree.classes_[best])]
        samples = int(structure.n_node_samples[node])
        if node in folded:
            label = f"{folded[node]} leaves, n={samples}\nmostly {action} ({distribution[best]:.2f})"
            colour = "#e6e6e6"
        elif structure.children_left[node] == LEAF:
            label = f"{action}\n{distribution[best]:.2f}, n={samples}"
            colour = "#d9f2d9" if distribution[best] >= 0.9 else "#fff2cc"
        else:
            label = vocabulary.features[int(structure.feature[node])].name + "?"
            colour = "#dce6f2"
            for child, answer in (
                (int(structure.children_right[node]), "yes"),
                (int(structure.children_left[node]), "no"),
            ):
                cx, cy = positions[child]
                axes.annotate(
                    "", xy=(cx, cy + 0.18), xytext=(x, y - 0.18),
                    arrowprops={"arrowstyle": "->", "color": "#666666"},
                )
                axes.text((x + cx) / 2, (y + cy) / 2, answer, fontsize=7, color="#444444")
        axes.text(
            x, y, label, ha="center", va="center", fontsize=7,
            bbox={"boxstyle": "round", "facecolor": colour, "edgecolor": "#888888"},
        )
    xs = [x for x, _ in positions.values()]
    axes.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    axes.set_ylim(-shown_depth - 0.6, 0.6)
    title = "DecisionTreePolicy: boxes ask about the dialogue state, leaves give the action"
    if folded:
        title += f" (first {max_depth} levels; grey boxes fold deeper subtrees)"
    axes.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight", dpi=100)
    plt.close(figure)
    return path
