"""Class docstrings list every setting with its default, and the doc pages hold them verbatim.

scripts/render_docs.py renders each component's docstring into its page; these tests fail when
a setting is added, renamed, removed or given another default without its docstring line, and
when a page was edited by hand or not re-rendered. Only imports the classes: no model loads.
"""
import importlib
import inspect
import pkgutil
from typing import Any, Dict, Text

import pytest
from rasa.engine.recipes.default_recipe import DefaultV1Recipe

import components
from scripts import render_docs
from scripts.render_docs import DOCUMENTED, DocumentedClass

_IDS = [entry.name for entry in DOCUMENTED]


@pytest.mark.parametrize("entry", DOCUMENTED, ids=_IDS)
def test_every_setting_has_a_line_with_its_default(entry: DocumentedClass) -> None:
    assert render_docs.settings_problems(entry) == []


@pytest.mark.parametrize("entry", DOCUMENTED, ids=_IDS)
def test_settings_lines_name_exactly_the_default_config(entry: DocumentedClass) -> None:
    """Read the section independently of the comparison above: every own setting has a line,
    and every line names a setting (Rasa's settings of a Rasa subclass may be listed too)."""
    written = set(render_docs.documented_settings(render_docs.docstring(entry.load())))
    assert set(render_docs.own_defaults(entry)) <= written
    assert written <= set(entry.load().get_default_config())


@pytest.mark.parametrize(
    "page, docs", sorted(render_docs.pages().items()), ids=sorted(render_docs.pages())
)
def test_doc_page_holds_exactly_the_rendered_docstrings(page: Text, docs: Dict[Text, Text]) -> None:
    assert render_docs.page_problems(page, docs) == []
    text = (render_docs.ROOT / page).read_text(encoding="utf-8")
    for doc in docs.values():
        assert doc in text


def test_every_rapport_component_is_documented() -> None:
    """A component registered with Rasa needs a docstring rendered into a page (DOCUMENTED)."""
    for module in pkgutil.walk_packages(components.__path__, "components."):
        importlib.import_module(module.name)
    registered = {
        name
        for name, info in DefaultV1Recipe._registered_components.items()
        if info.clazz.__module__.startswith("components.")
    }
    assert registered == {entry.name for entry in DOCUMENTED}


# ------------------------------------------------------------------ the checks can fail
_DOC = inspect.cleandoc(
    """Does a thing.

    **Settings**

    - `epochs` (default `100`): training epochs.
    - `model` (default `null`): the model; `null` = the bundled one.
    - `steps` (default `[]`): steps to run,
      on two lines.

    **Configuration**

    - `not_a_setting` (default `1`): outside the Settings section.
    """
)
_DEFAULTS: Dict[Text, Any] = {"epochs": 100, "model": None, "steps": []}


def test_a_docstring_that_matches_passes() -> None:
    assert render_docs.compare_settings("C", _DOC, _DEFAULTS) == []


@pytest.mark.parametrize(
    "defaults, complaint",
    [
        ({**_DEFAULTS, "batch_size": 16}, "`batch_size` (default 16) has no line"),
        ({"epochs": 100, "steps": []}, "lists `model`, which get_default_config() does not"),
        ({**_DEFAULTS, "epochs": 50}, "says `epochs` defaults to `100`"),
        ({**_DEFAULTS, "model": "bert"}, "says `model` defaults to `null`"),
        ({**_DEFAULTS, "steps": {}}, "says `steps` defaults to `[]`"),
    ],
    ids=["new setting", "removed setting", "other default", "null vs text", "list vs dict"],
)
def test_settings_drift_is_reported(defaults: Dict[Text, Any], complaint: Text) -> None:
    problems = render_docs.compare_settings("C", _DOC, defaults)
    assert len(problems) == 1 and complaint in problems[0]


def test_a_setting_line_removed_from_the_docstring_is_reported() -> None:
    doc = _DOC.replace("- `epochs` (default `100`): training epochs.\n", "")
    assert render_docs.compare_settings("C", doc, _DEFAULTS) == [
        "C: setting `epochs` (default 100) has no line in **Settings**"
    ]


def test_yaml_booleans_and_numbers_keep_their_type() -> None:
    assert render_docs.default_matches("true", True)
    assert not render_docs.default_matches("1", True)
    assert not render_docs.default_matches("0", 0.0)
    assert render_docs.default_matches("0.0", 0.0)
    assert render_docs.default_matches("finetune", "finetune")


def test_malformed_setting_line_and_missing_section_are_reported() -> None:
    malformed = _DOC.replace("- `epochs` (default `100`):", "- `epochs`: 100,")
    assert "not in the form" in render_docs.compare_settings("C", malformed, _DEFAULTS)[0]
    no_section = _DOC.replace("**Settings**", "Settings")
    problems = render_docs.compare_settings("C", no_section, _DEFAULTS)
    assert "no line reading **Settings**" in problems[0]


def test_rasa_settings_must_be_linked() -> None:
    assert render_docs.compare_settings("C", _DOC, _DEFAULTS, links_rasa=True) == [
        "C: takes Rasa's settings but does not link Rasa's docs"
    ]


def test_a_rasa_setting_may_be_listed_but_with_its_default() -> None:
    own = {"epochs": 100, "steps": []}
    assert render_docs.compare_settings("C", _DOC, own, optional={"model": None}) == []
    problems = render_docs.compare_settings("C", _DOC, own, optional={"model": "bert"})
    assert len(problems) == 1 and "says `model` defaults to `null`" in problems[0]


def test_rendering_replaces_a_stale_block_and_keeps_the_rest() -> None:
    start = "<!-- generated from C's docstring by scripts/render_docs.py: do not edit -->"
    page = f"# C\n\n{start}\nold text\n{render_docs.END_MARKER}\n\n## Design\nkept\n"
    rendered = render_docs.rendered_page(page, {"C": "new text"})
    assert rendered == f"# C\n\n{start}\nnew text\n{render_docs.END_MARKER}\n\n## Design\nkept\n"
    assert render_docs.rendered_page(rendered, {"C": "new text"}) == rendered
    with pytest.raises(ValueError, match="no block for D"):
        render_docs.rendered_page(page, {"C": "new text", "D": "more"})
    with pytest.raises(ValueError, match="names C, which is not documented"):
        render_docs.rendered_page(page, {})
