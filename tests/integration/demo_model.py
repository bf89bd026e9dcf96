"""The demo model, trained once per test run, in the background from the moment the tests that
need it are collected.

`rasa train` on the full config takes minutes; started at collection it runs while the unit
tests do, instead of in the first integration test's setup. With pytest-xdist the workers share
one training: the first to collect starts it (an exclusive lock file in the run's shared
temporary directory), every worker waits for the same archive. RAPPORT_TEST_MODEL=<archive>
skips training and uses that archive.
"""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import pytest

from scripts.servers import REPO, _terminate_with_parent

RASA = str(Path(sys.executable).parent / "rasa")
NEEDS_MODEL = "trained_model"
_started: Optional[subprocess.Popen] = None


def shared_directory(factory: pytest.TempPathFactory) -> Path:
    """The run's temporary directory, one for all xdist workers (each has a subdirectory)."""
    base = factory.getbasetemp()
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo_model"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def start(factory: pytest.TempPathFactory) -> None:
    """Start `rasa train` unless another worker has (or RAPPORT_TEST_MODEL names a model)."""
    global _started
    if os.environ.get("RAPPORT_TEST_MODEL"):
        return
    directory = shared_directory(factory)
    try:
        os.close(os.open(directory / "started", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    with (directory / "train.log").open("wb") as log:
        _started = subprocess.Popen(
            [RASA, "train", "--fixed-model-name", "demo", "--out", str(directory)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_terminate_with_parent,
        )
    threading.Thread(target=_record_exit, args=(_started, directory), daemon=True).start()


def _record_exit(process: subprocess.Popen, directory: Path) -> None:
    code = process.wait()
    (directory / "exit_code.tmp").write_text(str(code))
    (directory / "exit_code.tmp").rename(directory / "exit_code")


def model(factory: pytest.TempPathFactory, timeout: float = 1800) -> Path:
    """The trained archive, once `rasa train` has finished (starts it if nothing has)."""
    prebuilt = os.environ.get("RAPPORT_TEST_MODEL")
    if prebuilt:
        return Path(prebuilt)
    start(factory)
    directory = shared_directory(factory)
    deadline = time.monotonic() + timeout
    while not (directory / "exit_code").exists():
        if time.monotonic() > deadline:
            pytest.fail(f"rasa train did not finish within {timeout} s (log: {directory / 'train.log'})")
        time.sleep(1)
    if (directory / "exit_code").read_text() != "0":
        log = (directory / "train.log").read_text(errors="replace")
        pytest.fail(f"rasa train failed:\n{log[-6000:]}")
    return directory / "demo.tar.gz"


def finish() -> None:
    """At the end of the run: let a training this process started end (another worker may be
    waiting for it); the child dies with us if we are killed."""
    if _started is not None:
        _started.wait()
