"""Fixtures shared by the whole suite: build components the way Rasa's graph does."""
from pathlib import Path
from typing import Any, Dict, Iterator, List, Text, Tuple

import pytest
from playwright.sync_api import Browser, sync_playwright
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from scripts.environment import apply_rapport_env
from tests.integration import demo_model
from tests.tiny_models import write_tiny_bert

apply_rapport_env()


INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


# Session servers: the tests that use one run on the same pytest-xdist worker, so it starts once.
SHARED_SERVERS = ("launched_assistant", "guarded_assistant")
# Prefixes of xdist group names: the group's tests wait for the demo model (scheduled last),
# and the group holds a test marked slow (scheduled first within its half, below).
NEEDS_DEMO_MODEL = "demo-model:"
HOLDS_A_SLOW_TEST = "slow:"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the groups
def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Everything under tests/integration/ is an integration test; `make test-fast` leaves it out.

    With pytest-xdist (`--dist loadgroup`, as `make test` runs), each test's group is the session
    server it uses, else its module, so that server and module fixtures start once; the tests of a
    module that wait for the demo model form a group of their own. The name says both, and
    whether the group holds a slow test, for the scheduler below."""
    groups: Dict[pytest.Item, Text] = {}
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
        server = next((name for name in SHARED_SERVERS if name in item.fixturenames), None)
        waits = NEEDS_DEMO_MODEL if demo_model.NEEDS_MODEL in item.fixturenames else ""
        groups[item] = f"{waits}{server or item.nodeid.split('::')[0]}"
    slow = {group for item, group in groups.items() if item.get_closest_marker("slow")}
    for item, group in groups.items():
        item.add_marker(pytest.mark.xdist_group(f"{HOLDS_A_SLOW_TEST if group in slow else ''}{group}"))


def scheduling_rank(group: Text) -> Tuple[bool, bool]:
    """Where a group goes in xdist's queue: the demo model's groups last, so that the workers run
    everything else while it trains; within each half, groups holding a slow test first, so that
    no worker starts a minutes-long test when the rest is done (longest first)."""
    slow = group.startswith(HOLDS_A_SLOW_TEST)
    return group.removeprefix(HOLDS_A_SLOW_TEST).startswith(NEEDS_DEMO_MODEL), not slow


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's loadgroup, with its queue in `scheduling_rank`'s order."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class RankedGroups(LoadGroupScheduling):
        def _assign_work_unit(self, node: Any) -> None:
            # xdist 3.6 queues the groups by size and hands out the queue's head; sorted() is
            # stable, so groups of one rank keep that order
            for scope in sorted(self.workqueue, key=scheduling_rank):
                self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return RankedGroups(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start training the demo model now if a selected test needs it (tests/integration/demo_model.py)."""
    if session.config.option.collectonly:
        return
    if any(demo_model.NEEDS_MODEL in getattr(item, "fixturenames", ()) for item in session.items):
        demo_model.start(session.config._tmp_path_factory)


def pytest_sessionfinish() -> None:
    demo_model.finish()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Text:
    """The one tiny random BERT every unit test shares (tests/tiny_models.py)."""
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture
def model_storage(tmp_path_factory: pytest.TempPathFactory) -> ModelStorage:
    """A fresh on-disk model storage, as `rasa train` uses."""
    return LocalModelStorage(tmp_path_factory.mktemp("model_storage"))


@pytest.fixture
def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), model_id="rapport-test")


@pytest.fixture
def resource(request: pytest.FixtureRequest) -> Resource:
    return Resource(f"resource_{request.node.name}")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by scripts/install_browser.sh
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium driven by Playwright, one per test module (the `browser` tests)."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/install_browser.sh"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()
