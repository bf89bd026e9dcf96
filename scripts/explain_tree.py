"""Write a trained model's DecisionTreePolicy as readable rules and as a picture.

    python -m scripts.explain_tree models/rapport.tar.gz --out reports/tree [--format svg] [--depth 4]

Writes `<out>/decision_tree_rules.txt` (indented if/else rules, one `->` line per leaf with
its confidence and number of training samples) and `<out>/decision_tree.png` (or .svg), so
a conversation designer can review the dialogue logic without reading stories.
"""
import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional, Text

from components.decision_tree_policy.policy import DecisionTreePolicy
from components.decision_tree_policy.explanations import draw_tree, tree_as_rules
from scripts.model_archive import archived_policies

logger = logging.getLogger(__name__)


class NoTreeInModelError(ValueError):
    """The archive has no trained DecisionTreePolicy."""


def write_report(
    archive: Path, out: Path, image_format: Text = "png", depth: Optional[int] = None
) -> List[Path]:
    """Write the rules file and the picture of every DecisionTreePolicy in `archive`."""
    written: List[Path] = []
    with archived_policies(archive) as (policies, _):
        trees = {
            name: policy
            for name, policy in policies.items()
            if isinstance(policy, DecisionTreePolicy) and policy.tree is not None
        }
        if not trees:
            raise NoTreeInModelError(f"No trained DecisionTreePolicy in '{archive}'.")
        out.mkdir(parents=True, exist_ok=True)
        for index, policy in enumerate(trees.values()):
            stem = "decision_tree" if index == 0 else f"decision_tree_{index}"
            rules = out / f"{stem}_rules.txt"
            rules.write_text(
                f"# DecisionTreePolicy of {archive.name}: depth {policy.tree.get_depth()}, "
                f"{policy.tree.get_n_leaves()} leaves, {len(policy.vocabulary)} features, "
                f"max_history {policy.config['max_history']}\n"
                + tree_as_rules(policy.tree, policy.vocabulary, policy.classes),
                encoding="utf-8",
            )
            picture = draw_tree(
                policy.tree,
                policy.vocabulary,
                policy.classes,
                out / f"{stem}.{image_format}",
                max_depth=depth,
            )
            written += [rules, picture]
    return written


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="trained model archive (.tar.gz)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the report")
    parser.add_argument("--format", choices=["png", "svg"], default="png")
    parser.add_argument(
        "--depth", type=int, default=None,
        help="draw only the first DEPTH levels, folding deeper subtrees (the rules file is always complete)",
    )
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"No model archive at '{args.model}'.", file=sys.stderr)
        return 2
    try:
        for path in write_report(args.model, args.out, args.format, args.depth):
            print(path)
    except NoTreeInModelError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
