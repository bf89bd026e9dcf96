"""Full fuzz run: thousands of hostile cases against every entry point of the running assistant.

Starts its own action server (own orders database: fuzzing cancels orders) and `rasa run` with
the repository's endpoints.yml (masking SQL tracker store, on a temporary SQLite file) and
credentials.yml (the limited REST and socket.io channels), then sends cases drawn from
tests/fuzz/inputs.py to each entry point, in rounds of `--chunk` cases per entry point so that
a run cut short has covered every entry point evenly:

- rest:     POST /webhooks/rest/webhook (bodies: hostile texts, non-objects, wrong types, junk bytes)
- socketio: `user_uttered` events over socket.io (the web chat page's channel)
- parse:    POST /model/parse, i.e. `Agent.parse_message` on the whole trained pipeline
- actions:  POST /webhook of the action server (hostile trackers and slots, SQL/template text)

Counted per entry point: cases, crashes (5xx, dropped connection, or no answer in 120 s), the
slowest case, the resident memory of the server before and after; at the end, error lines and
tracebacks in both servers' logs. Results are rewritten after every round (JSON + Markdown).

    nice -n 10 .venv/bin/python -m bench.fuzz --model models/rapport.tar.gz --cases 10000
"""
import argparse
import datetime
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text

import requests
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from tqdm import tqdm

from scripts.servers import Server, free_port
from tests.fuzz import inputs, targets

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "fuzz"
BIN = Path(sys.executable).parent
# Unhandled exceptions: tracebacks and the servers' "exception occurred" lines. (An action's own
# ERROR message about a call Rasa would never make, e.g. a form submitted without slots, is not.)
ERROR_LINE = re.compile(r"Traceback \(most recent call last\)|Exception occurred|Exception in |Task exception")


@dataclass
class EntryPointStats:
    cases: int = 0
    crashes: int = 0
    http_5xx: int = 0
    statuses: Dict[Text, int] = field(default_factory=dict)
    slowest_s: float = 0.0
    slowest_case: Text = ""
    rss_mb_before: Optional[float] = None
    rss_mb_after: Optional[float] = None
    first_crashes: List[Text] = field(default_factory=list)

    def record(self, case: Any, seconds: float, status: Optional[int], failure: Optional[Text]) -> None:
        self.cases += 1
        if status is not None:
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if failure:
            self.crashes += 1
            self.http_5xx += int(" HTTP 5" in failure)
            if len(self.first_crashes) < 5:
                self.first_crashes.append(f"{failure[:300]} <- {describe(case)}")
        if seconds > self.slowest_s:
            self.slowest_s, self.slowest_case = round(seconds, 3), describe(case)


def describe(case: Any) -> Text:
    text = case.decode("utf-8", errors="replace") if isinstance(case, bytes) else repr(case)
    return f"{len(text)} chars: {text[:80]!r}"


def rss_mb(pid: Optional[int]) -> Optional[float]:
    """Resident memory of a process and its children (rasa run may fork), from /proc."""
    if pid is None:
        return None
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(entry.name) != pid and int(fields[2]) != pid:  # same process group
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return round(total / 1024, 1)


def start_servers(model: Path, work: Path) -> Dict[Text, Any]:
    env = os.environ.copy()
    env["RAPPORT_DATABASE_URL"] = f"sqlite:///{work / 'orders.db'}"
    env.pop("RAPPORT_ACTION_SERVER_TOKEN", None)
    import subprocess

    subprocess.run([sys.executable, "-m", "actions.db", "init"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    actions_port, rasa_port = free_port(), free_port()
    endpoints = yaml.safe_load((REPO / "endpoints.yml").read_text())
    endpoints["tracker_store"]["store"]["db"] = str(work / "trackers.db")
    endpoints["action_endpoint"] = {"url": f"http://127.0.0.1:{actions_port}/webhook"}
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
    actions = Server([str(BIN / "rasa"), "run", "actions", "--port", str(actions_port)], env,
                     work / "actions.log")
    rasa = Server(
        [str(BIN / "rasa"), "run", "-m", str(model), "--enable-api", "--port", str(rasa_port),
         "--endpoints", str(work / "endpoints.yml"), "--credentials", str(REPO / "credentials.yml")],
        env, work / "rasa.log",
    )
    actions.start(f"http://127.0.0.1:{actions_port}/health")
    rasa.start(f"http://127.0.0.1:{rasa_port}/status", timeout=1800)
    return {"actions": actions, "rasa": rasa, "url": f"http://127.0.0.1:{rasa_port}",
            "actions_url": f"http://127.0.0.1:{actions_port}"}


def run_chunk(strategy: Any, send: Callable[[Any], int], stats: EntryPointStats, count: int,
              progress: tqdm) -> None:
    """`count` cases drawn by hypothesis, each sent once; failures are counted, never raised."""

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(case: Any) -> None:
        began, status, failure = time.monotonic(), None, None
        try:
            status = send(case)
        except targets.EntryPointFailed as error:
            failure = str(error)
        stats.record(case, time.monotonic() - began, status, failure)
        progress.update(1)

    one()


# Not fuzz errors: what `rasa run` logs while the health check polls /status during the model
# load, and rasa_sdk's line for a call naming no registered action (answered with 404).
STARTUP_NOISE = ("No agent loaded", "No registered action found")


def log_errors(path: Path) -> List[Text]:
    if not path.exists():
        return []
    return [
        line[:300] for line in path.read_text(errors="replace").splitlines()
        if ERROR_LINE.search(line) and not any(noise in line for noise in STARTUP_NOISE)
    ]


def markdown(report: Dict[Text, Any]) -> Text:
    lines = [
        f"Fuzz run {report['started']} ({report['status']}), model {report['model']}",
        "",
        "| entry point | cases | crashes | 5xx | slowest case (s) | RSS before / after (MB) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, stats in report["entry_points"].items():
        lines.append(
            f"| {name} | {stats['cases']} | {stats['crashes']} | {stats['http_5xx']} | "
            f"{stats['slowest_s']} | {stats['rss_mb_before']} / {stats['rss_mb_after']} |"
        )
    lines += ["", f"Error lines in the logs: rasa {len(report['log_errors']['rasa'])}, "
                  f"actions {len(report['log_errors']['actions'])}"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[Text]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "rapport.tar.gz")
    parser.add_argument("--cases", type=int, default=10_000, help="per entry point")
    parser.add_argument("--chunk", type=int, default=250, help="cases per entry point per round")
    parser.add_argument("--entry-points", default="rest,socketio,parse,actions")
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rapport-fuzz-"))
    servers = start_servers(args.model, work)
    session = requests.Session()
    socket_state: Dict[Text, Any] = {"target": None, "sent": 0}

    def via_socketio(payload: Any) -> int:
        # A new conversation every 25 events: the channel allows 30 a minute per conversation.
        if socket_state["target"] is None or socket_state["sent"] >= 25:
            if socket_state["target"] is not None:
                socket_state["target"].close()
            socket_state["target"], socket_state["sent"] = targets.SocketIOTarget(servers["url"]), 0
        socket_state["sent"] += 1
        return socket_state["target"].send(payload)

    entry_points = {
        "rest": (inputs.rest_bodies(), lambda body: targets.rest(servers["url"], body, session),
                 "rasa"),
        "socketio": (inputs.socketio_payloads(), via_socketio, "rasa"),
        "parse": (inputs.texts(), lambda text: targets.parse(servers["url"], text, session), "rasa"),
        "actions": (inputs.action_server_bodies(),
                    lambda body: targets.action_server(servers["actions_url"], body, session),
                    "actions"),
    }
    chosen = [name for name in args.entry_points.split(",") if name]
    stats = {name: EntryPointStats() for name in chosen}
    report: Dict[Text, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"), "model": str(args.model),
        "cases_per_entry_point": args.cases, "status": "running",
        "command": " ".join(["python -m bench.fuzz"] + (argv or sys.argv[1:])),
    }

    def write(status: Text) -> None:
        report["status"] = status
        report["entry_points"] = {name: asdict(s) for name, s in stats.items()}
        report["log_errors"] = {"rasa": log_errors(work / "rasa.log"),
                                "actions": log_errors(work / "actions.log")}
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
        args.out.with_suffix(".md").write_text(markdown(report))

    for name in chosen:
        stats[name].rss_mb_before = rss_mb(servers[entry_points[name][2]].pid)
    progress = tqdm(total=args.cases * len(chosen), desc="fuzz", mininterval=10)
    status = "cut short"
    try:
        while any(stats[name].cases < args.cases for name in chosen):
            for name in chosen:
                strategy, send, server = entry_points[name]
                count = min(args.chunk, args.cases - stats[name].cases)
                if count > 0:
                    run_chunk(strategy, send, stats[name], count, progress)
                    stats[name].rss_mb_after = rss_mb(servers[server].pid)
            write("running")
        status = "complete"
    finally:
        progress.close()
        write(status)
        servers["rasa"].stop()
        servers["actions"].stop()


if __name__ == "__main__":
    main()
