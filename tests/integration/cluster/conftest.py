"""The production stack for the cluster tests: 2 replicas + action server behind HAProxy, on a
private PostgreSQL and Redis (the fault test restarts them; the machine's own serve other tests)
and the machine's RabbitMQ (an exchange and queue of its own). One stack for the module."""
from pathlib import Path
from typing import Iterator

import pytest

from bench.fault_tolerance import Stack, start_stack


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(trained_model, tmp_path_factory.mktemp("cluster"), replicas=2)
    try:
        yield running
    finally:
        running.stop()
