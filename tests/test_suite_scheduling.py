"""The order in which pytest-xdist hands out test groups (tests/conftest.py)."""
from tests.conftest import scheduling_rank


def test_demo_model_groups_go_last_and_slow_groups_first_within_each_half() -> None:
    queue = ["demo-model:launched_assistant", "tests/a.py", "slow:demo-model:tests/b.py",
             "slow:tests/c.py", "tests/d.py"]
    assert sorted(queue, key=scheduling_rank) == [
        "slow:tests/c.py", "tests/a.py", "tests/d.py",
        "slow:demo-model:tests/b.py", "demo-model:launched_assistant",
    ]
