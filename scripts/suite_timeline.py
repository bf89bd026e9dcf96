"""Where the test suite's time goes: each test's wall time, worker and CPU, its child processes'
included (the Rasa commands and servers the integration tests start).

    SUITE_TIMELINE=/tmp/suite.jsonl make test PYTEST_ARGS="-p scripts.suite_timeline"
    python -m scripts.suite_timeline /tmp/suite.jsonl

The suite is CPU-bound on two cores (README, "Tests"), so its length is about its CPU seconds
over two; the report says which modules spend them and when each worker ran what. A child's CPU
counts once it has exited and been waited for: a session server's lands on the test that was
running when it stopped.
"""
import collections
import json
import os
import resource
import sys
import time
from typing import Dict, Iterator, List, Text

import pytest


def _cpu_seconds() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    path = os.environ.get("SUITE_TIMELINE")
    started, cpu = time.time(), _cpu_seconds()
    yield
    if path:
        record = {"test": item.nodeid.split("@")[0], "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                  "start": started, "end": time.time(), "cpu": _cpu_seconds() - cpu}
        with open(path, "a") as out:  # one short line per write: workers may append at once
            out.write(json.dumps(record) + "\n")


def report(records: List[Dict], top: int = 15) -> Text:
    """CPU seconds per module, largest first, and each worker's busy time and last end."""
    first = min(r["start"] for r in records)
    per_module: Dict[Text, float] = collections.Counter()
    for r in records:
        per_module[r["test"].split("::")[0]] += r["cpu"]
    lines = [f"{sum(per_module.values()):.0f} CPU s in {len(records)} tests", "", "| module | CPU s |", "|---|---:|"]
    lines += [f"| {module} | {cpu:.0f} |" for module, cpu in per_module.most_common(top)]
    lines += ["", "| worker | busy (s) | last test ends at (s) |", "|---|---:|---:|"]
    for worker in sorted({r["worker"] for r in records}):
        mine = [r for r in records if r["worker"] == worker]
        lines.append(f"| {worker} | {sum(r['end'] - r['start'] for r in mine):.0f} | "
                     f"{max(r['end'] for r in mine) - first:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as lines:
        print(report([json.loads(line) for line in lines if line.strip()]))
