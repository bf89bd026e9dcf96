"""The end-to-end speed harness (bench/e2e_speed.py) on a tiny bot: it reports numbers for both
configs and leaves no process behind, also when it is stopped half-way. No timing assertions:
timings belong in BENCHMARKS.md.
"""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Text

import pytest

from scripts.servers import REPO, group_members

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, thank_you]
responses:
  utter_greet: [{text: "Hello! How can I help?"}]
  utter_goodbye: [{text: "Bye!"}]
  utter_welcome: [{text: "You're welcome."}]
session_config: {session_expiration_time: 60, carry_over_slots_to_new_session: true}
"""
NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
- intent: goodbye
  examples: |
    - bye
    - see you later
    - goodbye then
    - have a nice day
- intent: thank_you
  examples: |
    - thanks
    - thank you so much
    - cheers for the help
    - much appreciated
"""
STORIES = """
version: "3.1"
stories:
- story: greet, thank, leave
  steps:
  - intent: greet
  - action: utter_greet
  - intent: thank_you
  - action: utter_welcome
  - intent: goodbye
  - action: utter_goodbye
"""
RULES = """
version: "3.1"
rules:
- rule: say goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""
TEST_STORIES = """
version: "3.1"
stories:
- story: polite customer
  steps:
  - user: |
      hello
    intent: greet
  - action: utter_greet
  - user: |
      thanks a lot
    intent: thank_you
  - action: utter_welcome
  - user: |
      bye
    intent: goodbye
  - action: utter_goodbye
"""


# Small configs keep the test to a few CPU minutes; the real ones (bench/configs/stock.yml,
# config.yml) take the same code path in the benchmark itself.
TINY_STOCK = """
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 100
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
"""
TINY_RAPPORT = TINY_STOCK.replace(
    "  - name: DIETClassifier",
    "  - name: LexicalSyntacticFeaturizer\n"
    "  - name: components.fast_loading_diet.FastLoadingDIETClassifier",
)
TRAINED = {"stock": "DIETClassifier", "rapport": "components.fast_loading_diet.FastLoadingDIETClassifier"}


@pytest.fixture(scope="module")
def tiny_bot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bot = tmp_path_factory.mktemp("tiny_bot")
    (bot / "data").mkdir()
    (bot / "tests").mkdir()
    (bot / "domain.yml").write_text(DOMAIN)
    (bot / "data" / "nlu.yml").write_text(NLU)
    (bot / "data" / "stories.yml").write_text(STORIES)
    (bot / "data" / "rules.yml").write_text(RULES)
    (bot / "tests" / "test_stories.yml").write_text(TEST_STORIES)
    (bot / "stock.yml").write_text(TINY_STOCK)
    (bot / "rapport.yml").write_text(TINY_RAPPORT)
    return bot


def harness(bot: Path, out: Path, *extra: Text) -> List[Text]:
    return [sys.executable, "-m", "bench.e2e_speed", "--quick", "--epochs", "1",
            "--max-messages", "12", "--project", str(bot), "--stock", str(bot / "stock.yml"),
            "--rapport", str(bot / "rapport.yml"), "--out", str(out), *extra]


def assert_all_gone(pids: List[int]) -> None:
    assert pids, "the harness reported no processes"
    for pid in pids:
        assert group_members(pid) == [], f"process group {pid} is still alive"


def run_harness(args: List[Text], log: Path, timeout: float) -> int:
    """Run the harness; past `timeout`, SIGTERM it (so that it stops its servers) and fail."""
    with log.open("w") as output:
        process = subprocess.Popen(args, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        raise AssertionError(f"the harness took over {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def report(tiny_bot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    out = tmp_path_factory.mktemp("results")
    code = run_harness(harness(tiny_bot, out), out / "harness.log", timeout=1500)
    assert code == 0, (out / "harness.log").read_text()[-6000:]
    yield json.loads((out / "e2e_speed_quick.json").read_text())


@pytest.mark.slow  # the harness trains and serves two bots: about 1 min
def test_reports_latency_throughput_memory_and_times_for_both_configs(report: dict) -> None:
    for name in ("stock", "rapport"):
        result = report["configs"][name]
        assert "error" not in result
        for phase in ("sequential", "concurrent"):
            assert result[phase]["messages"] > 0
            assert result[phase]["errors"] == 0
            assert 0 < result[phase]["p50_ms"] <= result[phase]["p95_ms"] <= result[phase]["p99_ms"]
            assert result[phase]["throughput_msg_s"] > 0
        assert result["concurrent"]["clients"] == 16
        assert result["sequential"]["messages"] <= 12
        # A trained Rasa server holds far more than 100 MB: the memory reading saw the real process.
        assert result["peak_rss_mb"] > 100
        assert result["load_s"] > 0 and result["train_s"] > 0
        assert result["epochs_override"]  # --epochs reached the trained components
        assert result["epochs_override"] == {TRAINED[name]: 1}
    assert set(report["ratios"]) == {"rapport"}
    assert all(value is not None for value in report["ratios"]["rapport"].values())


def test_writes_a_markdown_table_with_the_ratios(report: dict, tmp_path: Path) -> None:
    from bench.e2e_speed import markdown

    table = markdown(report)
    p50 = next(line for line in table.splitlines() if line.startswith("| p50 latency, 1 client"))
    stock, rapport = report["configs"]["stock"], report["configs"]["rapport"]
    assert f"| {stock['sequential']['p50_ms']:g} | {rapport['sequential']['p50_ms']:g} | " in p50
    assert f"{report['ratios']['rapport']['p50_ms']:g}" in p50
    assert p50.endswith("| ≤ 1.25 |")


def test_leaves_no_process_behind(report: dict) -> None:
    # stock: train, rasa run; rapport: train, rasa run (the tiny bot needs no action server).
    assert len(report["pids"]) == 4
    assert_all_gone(report["pids"])


def test_stops_everything_when_terminated_half_way(tiny_bot: Path, tmp_path: Path) -> None:
    """SIGTERM while `rasa train` runs: the harness stops it and exits without a report."""
    log = tmp_path / "harness.log"
    with log.open("w") as output:
        process = subprocess.Popen(harness(tiny_bot, tmp_path / "out"), cwd=REPO, stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "rasa train runs as process group" not in log.read_text():
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the harness never started `rasa train`"
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # `rasa train` is running: its group exists
        assert process.wait(timeout=120) == 130
    finally:
        if process.poll() is None:
            process.kill()
    pids = [int(pid) for pid in re.findall(r"process group (\d+)", log.read_text())]
    assert pids
    assert_all_gone(pids)
    assert "everything this run started has been stopped" in log.read_text()
    assert not (tmp_path / "out" / "e2e_speed_quick.json").exists()
