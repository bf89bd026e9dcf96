"""Write each component's class docstring into its doc page, so the two cannot drift.

A class docstring is the user-facing description of a component (what it does and why, a
`**Settings**` list with every key of `get_default_config()` and its default, a config.yml
snippet; Markdown, as rasa-nlu-examples writes them). Its doc page holds a copy between two
markers, and the rest of the page (design notes, measurements) is written by hand:

    <!-- generated from NoiseFilter's docstring by scripts/render_docs.py: do not edit -->
    ...
    <!-- end of generated part -->

    python -m scripts.render_docs           # rewrite the generated parts
    python -m scripts.render_docs --check   # exit 1 if a page or a Settings list is out of date

tests/test_docs.py runs the same checks. A new component: add it to DOCUMENTED, write its
docstring, put the two markers in its page and run the command.
"""
import argparse
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Type

import yaml

ROOT = Path(__file__).resolve().parents[1]
END_MARKER = "<!-- end of generated part -->"
_START = "<!-- generated from {}'s docstring by scripts/render_docs.py: do not edit -->"
_BLOCK = re.compile(
    r"<!-- generated from (?P<name>\w+)'s docstring by scripts/render_docs\.py: do not edit -->"
    r"\n(?P<body>.*?)" + re.escape(END_MARKER),
    re.DOTALL,
)
SETTINGS_LABEL = "**Settings**"
_SECTION_LABEL = re.compile(r"^\*\*[A-Z][^*]*\*\*$")
_SETTING = re.compile(r"^- `(?P<key>\w+)` \(default `(?P<default>[^`]*)`\): \S")


@dataclass(frozen=True)
class DocumentedClass:
    """A component class and the page its docstring is rendered into.

    `rasa_base`: the Rasa class whose settings it takes over unchanged; those are linked to
    Rasa's docs instead of listed, so only settings it adds or changes need a line.
    """

    path: Text
    page: Text
    rasa_base: Optional[Text] = None

    @property
    def name(self) -> Text:
        return self.path.rpartition(".")[2]

    def load(self) -> Type:
        module, _, name = self.path.rpartition(".")
        return getattr(importlib.import_module(module), name)


DOCUMENTED = [
    DocumentedClass("components.noise_filter.NoiseFilter", "docs/components/noise_filter.md"),
    DocumentedClass(
        "components.noise_filter.NoiseFilterRestorer", "docs/components/noise_filter.md"
    ),
    DocumentedClass(
        "components.emotion_classifier.EmotionClassifier", "docs/components/emotion_classifier.md"
    ),
    DocumentedClass(
        "components.bert_context_policy.BertContextPolicy",
        "docs/components/bert_context_policy.md",
    ),
    DocumentedClass(
        "components.decision_tree_policy.DecisionTreePolicy",
        "docs/components/decision_tree_policy.md",
    ),
    DocumentedClass(
        "components.compiled_lm_featurizer.CompiledLanguageModelFeaturizer",
        "docs/components/compiled_lm_featurizer.md",
        rasa_base="rasa.nlu.featurizers.dense_featurizer.lm_featurizer.LanguageModelFeaturizer",
    ),
    DocumentedClass(
        "components.fast_loading_diet.FastLoadingDIETClassifier",
        "docs/components/fast_loading_diet.md",
        rasa_base="rasa.nlu.classifiers.diet_classifier.DIETClassifier",
    ),
    DocumentedClass(
        "components.transformer_classifier.TransformerIntentClassifier",
        "docs/components/transformer_classifier.md",
        rasa_base="rasa.nlu.featurizers.dense_featurizer.lm_featurizer.LanguageModelFeaturizer",
    ),
]


# ------------------------------------------------------------------ docstrings
def docstring(cls: Type) -> Text:
    """The class's own docstring, dedented; empty if it has none (an inherited one does not
    count: it would describe the parent's settings)."""
    return inspect.cleandoc(cls.__dict__.get("__doc__") or "")


def settings_section(doc: Text) -> List[Text]:
    """The lines between `**Settings**` and the next `**Label**` line (or the end)."""
    lines = doc.splitlines()
    if SETTINGS_LABEL not in lines:
        raise ValueError(f"no line reading {SETTINGS_LABEL}")
    start = lines.index(SETTINGS_LABEL) + 1
    end = next(
        (i for i in range(start, len(lines)) if _SECTION_LABEL.match(lines[i])), len(lines)
    )
    return lines[start:end]


def documented_settings(doc: Text) -> Dict[Text, Text]:
    """Setting -> its default as written, from lines `- `key` (default `value`): meaning`."""
    settings: Dict[Text, Text] = {}
    for line in settings_section(doc):
        if not line.startswith("- `"):
            continue
        match = _SETTING.match(line)
        if match is None:
            raise ValueError(
                f"setting line not in the form - `key` (default `value`): meaning: {line!r}"
            )
        if match["key"] in settings:
            raise ValueError(f"`{match['key']}` is listed twice")
        settings[match["key"]] = match["default"]
    return settings


def default_matches(written: Text, value: Any) -> bool:
    """`written` is `value` in YAML (as config.yml would spell it) or its Python repr."""
    if written == repr(value):
        return True
    try:
        parsed = yaml.safe_load(written)
    except yaml.YAMLError:
        return False
    # type too: YAML's `1` equals True and `0` equals 0.0 in Python
    return type(parsed) is type(value) and parsed == value


def inherited_defaults(entry: DocumentedClass) -> Dict[Text, Any]:
    """The defaults of the Rasa class it takes its settings from (none without one)."""
    if entry.rasa_base is None:
        return {}
    module, _, name = entry.rasa_base.rpartition(".")
    return getattr(importlib.import_module(module), name).get_default_config()


def own_defaults(entry: DocumentedClass) -> Dict[Text, Any]:
    """The defaults the docstring must list: all, minus those taken unchanged from Rasa."""
    inherited = inherited_defaults(entry)
    return {
        key: value
        for key, value in entry.load().get_default_config().items()
        if key not in inherited or inherited[key] != value
    }


def settings_problems(entry: DocumentedClass) -> List[Text]:
    """What the class docstring's Settings list gets wrong about `get_default_config()`."""
    return compare_settings(
        entry.name,
        docstring(entry.load()),
        own_defaults(entry),
        optional=entry.load().get_default_config(),
        links_rasa=entry.rasa_base is not None,
    )


def compare_settings(
    name: Text,
    doc: Text,
    defaults: Dict[Text, Any],
    optional: Optional[Dict[Text, Any]] = None,
    links_rasa: bool = False,
) -> List[Text]:
    """Every key of `defaults` has a line with its default; a line may also name a key of
    `optional` (a Rasa setting worth a word), with its default; no line names another key."""
    try:
        written = documented_settings(doc)
    except ValueError as error:
        return [f"{name}: {error}"]
    known = {**(optional or {}), **defaults}
    problems = [
        f"{name}: setting `{key}` (default {value!r}) has no line in **Settings**"
        for key, value in defaults.items()
        if key not in written
    ]
    problems += [
        f"{name}: **Settings** lists `{key}`, which get_default_config() does not have"
        for key in written
        if key not in known
    ]
    problems += [
        f"{name}: **Settings** says `{key}` defaults to `{written[key]}`, "
        f"get_default_config() says {known[key]!r}"
        for key in written
        if key in known and not default_matches(written[key], known[key])
    ]
    if links_rasa and "https://rasa.com/docs/" not in doc:
        problems.append(f"{name}: takes Rasa's settings but does not link Rasa's docs")
    return problems


# ------------------------------------------------------------------ pages
def rendered_page(text: Text, docs: Dict[Text, Text]) -> Text:
    """`text` with every generated block replaced by the docstring of the class it names."""

    def replace(match: "re.Match[Text]") -> Text:
        name = match["name"]
        if name not in docs:
            raise ValueError(f"a block names {name}, which is not documented on this page")
        return f"{_START.format(name)}\n{docs[name]}\n{END_MARKER}"

    missing = [name for name in docs if _START.format(name) not in text]
    if missing:
        raise ValueError(
            f"no block for {', '.join(missing)}: add the lines\n  {_START.format(missing[0])}\n"
            f"  {END_MARKER}\nwhere the docstring belongs"
        )
    return _BLOCK.sub(replace, text)


def pages() -> Dict[Text, Dict[Text, Text]]:
    """Page -> {class name: docstring} for every documented class."""
    result: Dict[Text, Dict[Text, Text]] = {}
    for entry in DOCUMENTED:
        result.setdefault(entry.page, {})[entry.name] = docstring(entry.load())
    return result


def page_problems(page: Text, docs: Dict[Text, Text]) -> List[Text]:
    """Empty if `page` holds exactly the rendered docstrings."""
    text = (ROOT / page).read_text(encoding="utf-8")
    try:
        if rendered_page(text, docs) != text:
            return [f"{page}: out of date with the docstrings (run python -m scripts.render_docs)"]
    except ValueError as error:
        return [f"{page}: {error}"]
    return []


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    problems = [problem for entry in DOCUMENTED for problem in settings_problems(entry)]
    for page, docs in pages().items():
        if args.check:
            problems += page_problems(page, docs)
            continue
        path = ROOT / page
        text = path.read_text(encoding="utf-8")
        try:
            new = rendered_page(text, docs)
        except ValueError as error:
            problems.append(f"{page}: {error}")
            continue
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {page}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
