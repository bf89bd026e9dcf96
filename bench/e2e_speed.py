"""End-to-end speed of the running assistant: stock Rasa and Rapport side by side, in one run.

The CPU is shared, so absolute numbers drift from run to run; both configs are measured in the
same invocation, one after the other, and the ratios Rapport/stock are what to compare.

For each config: `rasa train` (timed, with an empty training cache), then the action server and
`rasa run` (REST channel, SQL tracker store in a temporary SQLite file, loopback only), the time
from starting `rasa run` until it answers (model load), and the user turns of the test stories
replayed twice: one message at a time, then as 16 concurrent conversations. Latency is measured
per message (request sent -> all bot replies received). Memory is the peak resident size of
`rasa run` and its children, read from /proc.

Everything it starts runs in its own process group and is stopped on the way out, also on
Ctrl-C or SIGTERM. Every phase is bounded in messages and seconds.

    nice -n 5 .venv/bin/python -m bench.e2e_speed            # full: each config's own epochs
    nice -n 5 .venv/bin/python -m bench.e2e_speed --quick    # 2 epochs, fewer messages

On an idle 2-core machine `--quick` takes a few minutes; when the CPU is shared, loading and
training slow down far more than serving (Rasa traces its TensorFlow graphs at load).
"""
import argparse
import asyncio
import datetime
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Text

import aiohttp
import yaml

from scripts.environment import rapport_env
from scripts.servers import REPO, Server, ServerDidNotStart, free_port, group_members

logger = logging.getLogger("bench.e2e_speed")

BIN = Path(sys.executable).parent
RASA = str(BIN / "rasa")
STOCK_CONFIG = REPO / "bench" / "configs" / "stock.yml"
RESULTS = REPO / "bench" / "results"

# Targets from issue 7 (2 cores, measured side by side): rapport / stock.
TARGETS = {"p50_ms": 1.25, "throughput_msg_s": 0.8, "peak_rss_mb": 1.5}
OFFLINE_ENV = {
    **rapport_env(),
    "SANIC_HOST": "127.0.0.1",  # the action server's bind address (rasa_sdk reads it)
}


@dataclass
class Settings:
    """How much work one run does; `--quick` trades precision for a run under five minutes."""

    epochs: Optional[int]  # None: train with each config's own epochs
    sequential_messages: int
    concurrent_messages: int
    concurrency: int
    phase_seconds: float  # each measured phase stops after this long, whatever the count
    warmup_messages: int
    train_timeout: float
    start_timeout: float


FULL = Settings(
    epochs=None, sequential_messages=300, concurrent_messages=960, concurrency=16,
    phase_seconds=240, warmup_messages=5, train_timeout=2400, start_timeout=900,
)
QUICK = Settings(
    epochs=2, sequential_messages=60, concurrent_messages=240, concurrency=16,
    phase_seconds=30, warmup_messages=3, train_timeout=900, start_timeout=900,
)


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP turned into an exception, so that `finally` blocks stop the servers."""


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


# --- conversations ---------------------------------------------------------------------------
def load_conversations(story_files: List[Path]) -> List[List[Text]]:
    """The user turns of each test story, with entity annotations like [A1001](order_id) removed."""
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    conversations = []
    for path in story_files:
        content = yaml.safe_load(path.read_text()) or {}
        for story in content.get("stories", []):
            turns = [
                replace_entities(str(step["user"]).strip())
                for step in story.get("steps", [])
                if isinstance(step, dict) and step.get("user")
            ]
            if turns:
                conversations.append(turns)
    return conversations


# --- configs and training --------------------------------------------------------------------
def _default_config(name: Text) -> Dict[Text, Any]:
    """A custom component's defaults (dotted class path), so that `--quick` sees its `epochs`."""
    if "." not in name:
        return {}
    try:
        from rasa.shared.utils.common import class_from_module_path

        return class_from_module_path(name).get_default_config()
    except Exception as error:  # an unimportable component fails `rasa train` with a clear error
        logger.warning("Could not read the defaults of %s: %s", name, error)
        return {}


def write_config(source: Path, target: Path, epochs: Optional[int]) -> Dict[Text, int]:
    """Copy `source` to `target`, setting `epochs` on every component that trains for epochs.

    Returns which components got which epochs, so that the report says what was trained.
    """
    config = yaml.safe_load(source.read_text())
    overridden = {}
    if epochs is not None:
        for key in ("pipeline", "policies"):
            for item in config.get(key) or []:
                if "epochs" in item or "epochs" in _default_config(item["name"]):
                    item["epochs"] = epochs
                    overridden[item["name"]] = epochs
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return overridden


def subprocess_env(work: Path) -> Dict[Text, Text]:
    env = {**os.environ, **OFFLINE_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["RASA_CACHE_DIRECTORY"] = str(work / "cache")  # a cold cache: honest training times
    return env


def train(config: Path, project: Path, work: Path, name: Text, timeout: float,
          started: List[Server]) -> float:
    """`rasa train` the project with `config` into work/<name>.tar.gz; returns seconds taken."""
    trainer = Server(
        [RASA, "train", "--config", str(config), "--domain", str(project / "domain.yml"),
         "--data", str(project / "data"), "--out", str(work), "--fixed-model-name", name],
        subprocess_env(work), work / f"train-{name}.log",
    )
    started.append(trainer)
    began = time.monotonic()
    trainer.launch()
    logger.info("[%s] rasa train runs as process group %d", name, trainer.pid)
    try:
        code = trainer.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        trainer.stop(grace=5)
        raise RuntimeError(f"rasa train ({name}) took longer than {timeout:.0f} s")
    finally:
        trainer.stop(grace=5)
    if code != 0:
        raise RuntimeError(f"rasa train ({name}) failed:\n{trainer.log.read_text()[-3000:]}")
    return time.monotonic() - began


# --- memory ----------------------------------------------------------------------------------
def _status_kb(pid: int, key: Text) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakMemory(threading.Thread):
    """Samples the summed VmRSS of a process group every 0.2 s and keeps the peak."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self._server = server
        self._stop_event = threading.Event()
        self.peak_kb = 0

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            if self._server.pid is None:
                continue
            members = group_members(self._server.pid)
            self.peak_kb = max(self.peak_kb, sum(_status_kb(pid, "VmRSS") for pid in members))

    def finish(self) -> Dict[Text, float]:
        """Stop sampling; the peak also counts the main process's own high-water mark."""
        hwm_kb = _status_kb(self._server.pid, "VmHWM") if self._server.pid else 0
        self._stop_event.set()
        self.join()
        return {"peak_rss_mb": max(self.peak_kb, hwm_kb) / 1024, "main_vmhwm_mb": hwm_kb / 1024}


# --- load generation -------------------------------------------------------------------------
@dataclass
class Phase:
    """Latencies of one measured phase."""

    latencies_ms: List[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> Dict[Text, float]:
        done = sorted(self.latencies_ms)
        if not done:
            return {"messages": 0, "errors": self.errors}
        cut = statistics.quantiles(done, n=100, method="inclusive") if len(done) > 1 else done * 99
        return {
            "messages": len(done), "errors": self.errors, "seconds": round(self.seconds, 2),
            "p50_ms": round(cut[49], 1), "p95_ms": round(cut[94], 1), "p99_ms": round(cut[98], 1),
            "mean_ms": round(statistics.fmean(done), 1),
            "throughput_msg_s": round(len(done) / self.seconds, 2) if self.seconds else 0.0,
        }


def _conversation_stream(conversations: List[List[Text]], prefix: Text) -> Iterator[tuple]:
    """Endless (sender id, turns): each replay of a story is a new conversation."""
    round_ = 0
    while True:
        for index, turns in enumerate(conversations):
            yield f"{prefix}-{round_}-{index}", turns
        round_ += 1


async def _say(session: aiohttp.ClientSession, url: Text, sender: Text, text: Text) -> float:
    began = time.perf_counter()
    async with session.post(url, json={"sender": sender, "message": text}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return (time.perf_counter() - began) * 1000


async def drive(url: Text, conversations: List[List[Text]], clients: int, max_messages: int,
                seconds: float, prefix: Text) -> Phase:
    """`clients` concurrent conversations, each sending its turns one reply at a time.

    Stops after `max_messages` messages or `seconds`, whichever comes first; a conversation cut
    short by the budget is simply left unfinished.
    """
    phase = Phase()
    stream = _conversation_stream(conversations, prefix)
    budget = {"left": max_messages}
    timeout = aiohttp.ClientTimeout(total=120)
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while budget["left"] > 0 and time.monotonic() < deadline:
            sender, turns = next(stream)
            for text in turns:
                if budget["left"] <= 0 or time.monotonic() >= deadline:
                    return
                budget["left"] -= 1
                try:
                    phase.latencies_ms.append(await _say(session, url, sender, text))
                except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as error:
                    phase.errors += 1
                    logger.warning("%s: %r -> %s", sender, text, error)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        began = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        phase.seconds = time.monotonic() - began
    return phase


# --- one config, end to end ------------------------------------------------------------------
def needs_action_server(domain: Path) -> bool:
    """Custom actions (anything in `actions:` that is not a response) need the action server."""
    actions = (yaml.safe_load(domain.read_text()) or {}).get("actions") or []
    return any(not str(name).startswith("utter_") for name in actions)


def measure(name: Text, config_source: Path, project: Path, conversations: List[List[Text]],
            settings: Settings, work: Path, started: List[Server]) -> Dict[Text, Any]:
    """Train, serve and drive one config; every server it starts is listed in `started`."""
    work.mkdir(parents=True)
    config = work / "config.yml"
    result: Dict[Text, Any] = {"config": str(config_source)}
    result["epochs_override"] = write_config(config_source, config, settings.epochs)

    logger.info("[%s] rasa train ...", name)
    result["train_s"] = round(train(config, project, work, name, settings.train_timeout, started), 1)
    logger.info("[%s] trained in %.0f s", name, result["train_s"])

    env = subprocess_env(work)
    endpoints: Dict[Text, Any] = {
        "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(work / "trackers.db")}
    }
    actions: Optional[Server] = None
    if needs_action_server(project / "domain.yml"):
        env["RAPPORT_DATABASE_URL"] = f"sqlite:///{work / 'orders.db'}"
        if (REPO / "actions" / "db.py").exists():
            subprocess.run([sys.executable, "-m", "actions.db", "init"], cwd=REPO, env=env,
                           check=True, capture_output=True, timeout=120)
        actions_port = free_port()
        actions = Server([RASA, "run", "actions", "--port", str(actions_port)], env,
                         work / "actions.log")
        started.append(actions)
        actions.start(f"http://127.0.0.1:{actions_port}/health", settings.start_timeout)
        logger.info("[%s] action server ready (process group %d)", name, actions.pid)
        endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{actions_port}/webhook"}
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
    (work / "credentials.yml").write_text("rest:\n")

    port = free_port()
    rasa = Server(
        [RASA, "run", "-m", str(work / f"{name}.tar.gz"), "--interface", "127.0.0.1",
         "--port", str(port), "--endpoints", str(work / "endpoints.yml"),
         "--credentials", str(work / "credentials.yml")],
        env, work / "rasa.log",
    )
    started.append(rasa)
    memory = PeakMemory(rasa)
    memory.start()
    began = time.monotonic()
    try:
        rasa.start(f"http://127.0.0.1:{port}/", settings.start_timeout)
        result["load_s"] = round(time.monotonic() - began, 1)
        logger.info("[%s] rasa run ready after %.1f s (process group %d)", name, result["load_s"],
                    rasa.pid)

        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        warmup = asyncio.run(drive(url, conversations[:1], 1, settings.warmup_messages, 120, "warmup"))
        result["first_reply_ms"] = round(warmup.latencies_ms[0], 1) if warmup.latencies_ms else None
        for phase_name, clients, count in (
            ("sequential", 1, settings.sequential_messages),
            ("concurrent", settings.concurrency, settings.concurrent_messages),
        ):
            phase = asyncio.run(drive(url, conversations, clients, count,
                                      settings.phase_seconds, f"{name}-{phase_name}"))
            result[phase_name] = {"clients": clients, **phase.summary()}
            logger.info("[%s] %s: %s", name, phase_name, result[phase_name])
    finally:
        result.update(memory.finish())
        rasa.stop()
        if actions:
            actions.stop()
    return result


# (label, phase or None, key in the result, key in the ratios)
HEADLINES = [
    ("p50 latency, 1 client (ms)", "sequential", "p50_ms", "p50_ms"),
    ("p95 latency, 1 client (ms)", "sequential", "p95_ms", "p95_ms"),
    ("p99 latency, 1 client (ms)", "sequential", "p99_ms", "p99_ms"),
    ("messages/s, 1 client", "sequential", "throughput_msg_s", "sequential_msg_s"),
    ("messages/s, 16 clients", "concurrent", "throughput_msg_s", "throughput_msg_s"),
    ("p50 latency, 16 clients (ms)", "concurrent", "p50_ms", "concurrent_p50_ms"),
    ("p95 latency, 16 clients (ms)", "concurrent", "p95_ms", "concurrent_p95_ms"),
    ("peak RSS of rasa run (MB)", None, "peak_rss_mb", "peak_rss_mb"),
    ("model load, start -> ready (s)", None, "load_s", "load_s"),
    ("first reply after ready (ms)", None, "first_reply_ms", "first_reply_ms"),
    ("rasa train (s)", None, "train_s", "train_s"),
]


def _value(result: Dict[Text, Any], phase: Optional[Text], key: Text) -> Optional[float]:
    return (result.get(phase) or {}).get(key) if phase else result.get(key)


def ratios(stock: Dict[Text, Any], other: Dict[Text, Any]) -> Dict[Text, Optional[float]]:
    """other / stock for each headline number (None where either side has no number)."""
    out = {}
    for _label, phase, key, ratio_key in HEADLINES:
        base, value = _value(stock, phase, key), _value(other, phase, key)
        out[ratio_key] = round(value / base, 2) if base and value is not None else None
    return out


def _verdict(ratio_key: Text, ratio: Optional[float]) -> Text:
    target = TARGETS.get(ratio_key)
    if target is None or ratio is None:
        return ""
    met = ratio >= target if ratio_key == "throughput_msg_s" else ratio <= target
    return " (met)" if met else " (**missed**)"


# --- report ----------------------------------------------------------------------------------
def markdown(report: Dict[Text, Any]) -> Text:
    """One table: every config's numbers, each compared with stock, and the issue's targets."""
    names = list(report["configs"])
    others = [name for name in names if name != "stock"]
    header = "| | " + " | ".join(
        name if name == "stock" else f"{name} | {name}/stock" for name in names
    ) + " | target |"
    lines = [
        f"Run {report['started']} ({report['mode']}{'' if report.get('complete') else ', cut short'}), "
        f"git {report['git_commit']}, "
        f"`{report['command']}`; load average {report['load_average_before']} before, "
        f"{report.get('load_average_after')} after.",
        "",
        header,
        "|---|" + "---:|" * (len(names) + len(others)) + "---|",
    ]
    for label, phase, key, ratio_key in HEADLINES:
        cells = []
        for name in names:
            value = _value(report["configs"][name], phase, key)
            cells.append("-" if value is None else f"{value:g}")
            if name != "stock":
                ratio = report["ratios"].get(name, {}).get(ratio_key)
                cells.append("-" if ratio is None else f"{ratio:g}{_verdict(ratio_key, ratio)}")
        target = TARGETS.get(ratio_key)
        sign = "≥" if ratio_key == "throughput_msg_s" else "≤"
        lines.append(f"| {label} | " + " | ".join(cells) +
                     f" | {f'{sign} {target}' if target else ''} |")
    for name, result in report["configs"].items():
        for phase in ("sequential", "concurrent"):
            if (result.get(phase) or {}).get("errors"):
                lines.append(f"\n{name} {phase}: {result[phase]['errors']} failed requests.")
        if result.get("error"):
            lines.append(f"\n{name} failed: {result['error'][:800]}")
    return "\n".join(lines) + "\n"


def configs_to_run(args: argparse.Namespace, work: Path) -> List[tuple]:
    """(name, config file) pairs: stock first, then rapport, then swapped variants of rapport."""
    configs = [("stock", Path(args.stock).resolve()), ("rapport", Path(args.rapport).resolve())]
    for swap in args.swap or []:
        name, _, change = swap.partition("=")
        old, _, new = change.partition(":")
        config = yaml.safe_load(Path(args.rapport).read_text())
        found = [item for key in ("pipeline", "policies") for item in config.get(key) or []
                 if item["name"] == old]
        if not name or not new or not found:
            raise SystemExit(f"--swap {swap}: expected NAME=OLD:NEW with OLD in {args.rapport}")
        for item in found:
            item["name"] = new
        work.mkdir(parents=True, exist_ok=True)
        target = work / f"{name}.source.yml"
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        configs.append((name, target))
    return configs


def _git_commit() -> Text:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save(report: Dict[Text, Any], out: Path, stem: Text) -> None:
    """Write the report as it stands (after every config, so a cut-short run keeps its numbers)."""
    stock = report["configs"].get("stock", {})
    report["ratios"] = {
        name: ratios(stock, result) for name, result in report["configs"].items() if name != "stock"
    }
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))


def run_benchmark(args: argparse.Namespace) -> Dict[Text, Any]:
    settings = QUICK if args.quick else FULL
    if args.max_messages is not None:
        settings = replace(
            settings, sequential_messages=min(settings.sequential_messages, args.max_messages),
            concurrent_messages=min(settings.concurrent_messages, args.max_messages),
        )
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    if args.phase_seconds is not None:
        settings = replace(settings, phase_seconds=args.phase_seconds)
    project = Path(args.project).resolve()
    story_files = sorted((project / "tests").glob("test_stories*.yml"))
    conversations = load_conversations(story_files)
    if not conversations:
        raise SystemExit(f"No test stories with user turns in {project}/tests/test_stories*.yml")

    report: Dict[Text, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": " ".join([Path(sys.executable).name, "-m", "bench.e2e_speed", *sys.argv[1:]]),
        "git_commit": _git_commit(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "settings": asdict(settings),
        "project": str(project),
        "conversations": len(conversations),
        "user_turns": sum(len(turns) for turns in conversations),
        "configs": {},
        "swaps": args.swap or [],
        "complete": False,
        "pids": [],
    }
    out, stem = Path(args.out), "e2e_speed_quick" if args.quick else "e2e_speed"
    started: List[Server] = []
    work_root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="e2e_speed-"))
    try:
        for name, source in configs_to_run(args, work_root):
            try:
                report["configs"][name] = measure(name, source, project, conversations,
                                                  settings, work_root / name, started)
            except (RuntimeError, ServerDidNotStart, subprocess.SubprocessError) as error:
                logger.error("[%s] %s", name, error)
                report["configs"][name] = {"config": str(source), "error": str(error)}
            save(report, out, stem)
    finally:
        for server in reversed(started):
            server.stop(grace=10)
        report["pids"] = [server.pid for server in started if server.pid]
        if not args.work:
            shutil.rmtree(work_root, ignore_errors=True)
    report["complete"] = True
    save(report, out, stem)
    return report


def parse_args(argv: Optional[List[Text]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs, fewer messages, 30 s per phase: under five minutes on an idle machine")
    parser.add_argument("--project", default=str(REPO),
                        help="directory with domain.yml, data/ and tests/test_stories*.yml")
    parser.add_argument("--stock", default=str(STOCK_CONFIG), help="the baseline config")
    parser.add_argument("--rapport", default=str(REPO / "config.yml"), help="the config to compare")
    parser.add_argument("--swap", action="append", metavar="NAME=OLD:NEW",
                        help="also measure the rapport config with component OLD replaced by NEW")
    parser.add_argument("--epochs", type=int, help="override the epochs of every trained component")
    parser.add_argument("--max-messages", type=int, help="cap on the messages of each phase")
    parser.add_argument("--phase-seconds", type=float, help="time limit of each measured phase")
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON and markdown go")
    parser.add_argument("--work", help="keep models and logs in this (new) directory")
    return parser.parse_args(argv)


def main(argv: Optional[List[Text]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    try:
        report = run_benchmark(args)
    except KeyboardInterrupt as interruption:  # Ctrl-C or Interrupted: servers already stopped
        logger.error("Interrupted (%s); everything this run started has been stopped.",
                     interruption or "Ctrl-C")
        return 130
    print(markdown(report))
    return 0 if all("error" not in result for result in report["configs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
