"""A private PostgreSQL and a private Redis on free ports, for tests and benchmarks that restart them.

The machine's own PostgreSQL and Redis serve every other test and helper; restarting them would
break those. These instances run from the same Debian binaries, in a temporary directory, and
stop with their owner (scripts/servers.py's `Server`: own process group, SIGTERM if the owner dies).
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Text

import psycopg2
import redis

from scripts.servers import Server, free_port


def _postgres_bin(name: Text) -> Text:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} not found (scripts/install_services.sh installs it)")
    return found[-1]


def _as_postgres(args: List[Text]) -> List[Text]:
    """PostgreSQL refuses to run as root: run as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--"] + args if os.geteuid() == 0 else args


def _wait(check, what: Text, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as error:  # noqa: BLE001 - any failure means "not up yet"
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not answer within {timeout:.0f} s: {error}")
            time.sleep(0.2)


class PrivatePostgres:
    """`initdb` into a new directory under the system's temp dir (the `postgres` user must reach it,
    which pytest's private tmp dirs do not allow), trust auth on 127.0.0.1:`port`; user postgres.
    `stop()` removes the directory."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="rapport-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.log = self.directory / "postgres.log"
        self.server = None

    @property
    def url(self) -> Text:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 60) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        if not self.data.exists():
            subprocess.run(_as_postgres([_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                                         "--auth=trust", "-E", "UTF8"]),
                           check=True, capture_output=True)
        self._launch()
        _wait(lambda: psycopg2.connect(self.url, connect_timeout=1).close(), "PostgreSQL", timeout)

    def _launch(self) -> None:
        self.server = Server(
            _as_postgres([_postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
                          "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.directory}",
                          "-c", "fsync=off", "-c", "max_connections=200"]),
            dict(os.environ), self.log, cwd=self.directory,
        )
        self.server.launch()

    def restart(self, timeout: float = 60) -> None:
        """Stop (`pg_ctl stop -m fast`: clients are disconnected) and start again."""
        subprocess.run(_as_postgres([_postgres_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                                     "-w", "-t", str(int(timeout))]), check=True, capture_output=True)
        self.server.stop()
        self._launch()
        _wait(lambda: psycopg2.connect(self.url, connect_timeout=1).close(), "PostgreSQL", timeout)

    def stop(self) -> None:
        if self.server:
            self.server.stop(grace=20)
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """redis-server on 127.0.0.1:`port`, nothing on disk (as the machine's own)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.server = None

    def start(self, timeout: float = 30) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.server = Server(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            dict(os.environ), self.directory / "redis.log", cwd=self.directory,
        )
        self.server.launch()
        _wait(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), "Redis", timeout)

    def restart(self, timeout: float = 30) -> None:
        """Stop and start again; its keys (the conversations' locks) are gone, as after a crash."""
        self.server.stop()
        self.start(timeout)

    def stop(self) -> None:
        if self.server:
            self.server.stop(grace=10)
