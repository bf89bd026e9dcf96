"""Start and stop the assistant's servers (`rasa run`, `rasa run actions`) as tests and benchmarks do.

Each server runs in its own process group, so that stopping it also stops whatever it spawned,
and nothing outlives the test or benchmark that started it.
"""
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Text

from scripts.wait_for_http import wait_for_http

REPO = Path(__file__).resolve().parents[1]


class ServerDidNotStart(RuntimeError):
    """A server exited or did not answer its health URL in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _terminate_with_parent() -> None:
    """In the child before exec: get SIGTERM if the starting process dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG), so a killed test or benchmark leaves no server running."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def group_members(pgid: int) -> List[int]:
    """PIDs of the live (non-zombie) processes in process group `pgid`, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, process_group = fields[0], int(fields[2])
        if process_group == pgid and state != "Z":
            members.append(int(entry.name))
    return members


@dataclass
class Server:
    """A process started in its own process group, so that stopping it stops its children."""

    args: List[Text]
    env: Dict[Text, Text]
    log: Path
    cwd: Path = REPO
    process: Optional[subprocess.Popen] = field(default=None)

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def launch(self) -> None:
        """Start the process in a new session (its own process group), output to `log`."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_terminate_with_parent,
            )

    def start(self, health_url: Text, timeout: float = 240) -> None:
        """Start the process and return once `health_url` answers 200."""
        self.launch()
        self.wait_until_ready(health_url, timeout)

    def wait_until_ready(self, health_url: Text, timeout: float = 240) -> None:
        """Return once the launched process answers 200 at `health_url`; stop it if it cannot."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                wait_for_http(health_url, timeout=2)
                return
            except TimeoutError:
                continue
        self.stop()
        raise ServerDidNotStart(
            f"{' '.join(self.args[:3])} did not start:\n{self.log.read_text()[-4000:]}"
        )

    def stop(self, grace: float = 30) -> None:
        """SIGTERM the whole process group, SIGKILL whatever is left after `grace` seconds."""
        if not self.process:
            return
        pgid = self.process.pid
        if self.process.poll() is None or group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + grace
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        # While a member is alive the group id cannot be reused, so this cannot hit a stranger.
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()
