"""scripts/suite_timeline.py: the record of where the suite's time goes."""
import json
from pathlib import Path

import pytest

from scripts.servers import REPO
from scripts.suite_timeline import report

BUSY_AND_CHILD = """
import subprocess, sys

def test_spins():
    sum(i * i for i in range(3_000_000))

def test_child_spins():
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)

def test_sleeps():
    import time; time.sleep(0.3)
"""


def test_records_each_tests_cpu_with_its_children_and_reports_per_module(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = tmp_path / "suite.jsonl"
    monkeypatch.setenv("SUITE_TIMELINE", str(timeline))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this run's own worker, if any
    pytester.makepyfile(test_work=BUSY_AND_CHILD)
    pytester.runpytest_subprocess("-p", "scripts.suite_timeline").assert_outcomes(passed=3)
    records = {r["test"].split("::")[1]: r for r in map(json.loads, timeline.read_text().splitlines())}
    assert set(records) == {"test_spins", "test_child_spins", "test_sleeps"}
    # the child's work is counted; sleeping is wall time, not CPU
    assert records["test_child_spins"]["cpu"] > 0.1 and records["test_spins"]["cpu"] > 0.1
    assert records["test_sleeps"]["cpu"] < 0.1 <= records["test_sleeps"]["end"] - records["test_sleeps"]["start"]
    text = report(list(records.values()))
    total = sum(r["cpu"] for r in records.values())
    assert f"| test_work.py | {total:.0f} |" in text
    assert "| main |" in text
