"""The production stack on one machine: N `rasa run` replicas and M action servers behind HAProxy,
on PostgreSQL, Redis and RabbitMQ (`make cluster REPLICAS=N`; tests and bench/fault_tolerance.py
start the same stack through `Cluster`).

What runs, each process in its own process group with its own log in the work directory:

- M action servers (`rasa run actions`, token from `RAPPORT_ACTION_SERVER_TOKEN`), orders in
  PostgreSQL (`RAPPORT_DATABASE_URL`);
- N replicas: `rasa run --enable-api --auth-token ...` with endpoints.production.yml, whose
  `${VARIABLES}` come from `Cluster.environment()`;
- HAProxy: one frontend for the replicas (round robin, a cookie keeps a socket.io client on one
  replica) and one for the action servers, both with health checks, so a dead process is taken
  out of rotation and a connection it refuses is retried on another.

The deployment files (deploy/) set the same variables, ports and health URLs; a test keeps them
in step with the names here (tests/deployment/test_deploy_files.py).
"""
import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Text

import psycopg2
from psycopg2 import sql

from scripts.servers import Server, free_port
from scripts.wait_for_http import wait_for_http

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENDPOINTS = REPO / "endpoints.production.yml"
CREDENTIALS = REPO / "credentials.yml"

# The ports and health URLs a container of each kind serves (deploy/ uses the same).
RASA_PORT = 5005
ACTIONS_PORT = 5055
RASA_HEALTH = "/"  # answers once the model is loaded (Rasa loads it before it listens)
ACTIONS_HEALTH = "/health"
HAPROXY = "/usr/sbin/haproxy"


@dataclass
class Settings:
    """Everything that differs between `make cluster`, a test and a benchmark run."""

    model: Path
    workdir: Path
    replicas: int = 2
    action_servers: int = 1
    host: Text = "127.0.0.1"
    port: int = 0  # the load balancer's; 0: a free port
    postgres_host: Text = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: Text = "postgres"
    postgres_password: Text = ""
    tracker_db: Text = "cluster_trackers"
    orders_db: Text = "cluster_orders"
    redis_host: Text = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 5
    lock_key_prefix: Text = "rapport"
    rabbitmq_host: Text = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_user: Text = "guest"
    rabbitmq_password: Text = "guest"
    exchange: Text = "rasa-exchange"
    queue: Text = "rapport-events"
    credentials: Path = CREDENTIALS
    lock_lifetime: int = 10  # TICKET_LOCK_LIFETIME: how long a dead replica's lock blocks
    action_timeout: float = 10.0  # RAPPORT_ACTION_TIMEOUT (channels/action_outage.py)
    api_token: Text = field(default_factory=lambda: os.environ.get("RASA_TOKEN") or secrets.token_hex(16))
    action_token: Text = field(
        default_factory=lambda: os.environ.get("RAPPORT_ACTION_SERVER_TOKEN") or secrets.token_hex(16)
    )


def postgres_url(s: Settings, database: Text) -> Text:
    auth = s.postgres_user + (f":{s.postgres_password}" if s.postgres_password else "")
    return f"postgresql://{auth}@{s.postgres_host}:{s.postgres_port}/{database}"


def create_database(s: Settings, name: Text, reset: bool = False) -> None:
    """Create PostgreSQL database `name` if it is missing (drop it first with `reset`)."""
    connection = psycopg2.connect(postgres_url(s, "postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            if reset:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def haproxy_config(s: Settings, rasa_ports: List[int], actions_port: int, action_ports: List[int]) -> Text:
    """HAProxy in front of the replicas (sticky by cookie for socket.io) and the action servers."""
    replicas = "\n".join(
        f"    server rasa{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1 cookie rasa{i}"
        for i, p in enumerate(rasa_ports)
    )
    actions = "\n".join(
        f"    server actions{i} 127.0.0.1:{p} check inter 1s fall 1 rise 1"
        for i, p in enumerate(action_ports)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    option httplog
    log stdout format raw local0 info
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    # a connection a dead server refuses is tried again on another one (nothing was sent yet)
    retries 2
    option redispatch

frontend assistant
    bind {s.host}:{s.port}
    default_backend replicas

backend replicas
    balance roundrobin
    cookie RAPPORT_REPLICA insert indirect nocache
    option httpchk GET {RASA_HEALTH}
{replicas}

frontend actions
    bind 127.0.0.1:{actions_port}
    default_backend action_servers

backend action_servers
    balance roundrobin
    option httpchk GET {ACTIONS_HEALTH}
{actions}
"""


class Cluster:
    """The stack of `Settings`, started and stopped as a whole; faults by process (benchmark)."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        settings.workdir.mkdir(parents=True, exist_ok=True)
        if not settings.port:
            settings.port = free_port()
        self.actions_port = free_port()  # the load balancer's frontend for the action servers
        self.rasa_ports = [free_port() for _ in range(settings.replicas)]
        self.action_ports = [free_port() for _ in range(settings.action_servers)]
        self.replicas = [self._replica(i) for i in range(settings.replicas)]
        self.action_servers = [self._action_server(i) for i in range(settings.action_servers)]
        config = settings.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(settings, self.rasa_ports, self.actions_port, self.action_ports))
        self.balancer = Server([HAPROXY, "-db", "-f", str(config)], self.environment(),
                               settings.workdir / "haproxy.log")

    @property
    def url(self) -> Text:
        return f"http://{self.s.host}:{self.s.port}"

    def environment(self) -> Dict[Text, Text]:
        """The environment of every process: the `${VARIABLES}` of endpoints.production.yml and more."""
        s = self.s
        env = os.environ.copy()
        env.update({
            "RAPPORT_ACTION_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "RAPPORT_ACTION_SERVER_TOKEN": s.action_token,
            "RAPPORT_TRACKER_DB_HOST": s.postgres_host,
            "RAPPORT_TRACKER_DB_PORT": str(s.postgres_port),
            "RAPPORT_TRACKER_DB_NAME": s.tracker_db,
            "RAPPORT_TRACKER_DB_USER": s.postgres_user,
            "RAPPORT_TRACKER_DB_PASSWORD": s.postgres_password,
            "RAPPORT_REDIS_HOST": s.redis_host,
            "RAPPORT_REDIS_PORT": str(s.redis_port),
            "RAPPORT_REDIS_DB": str(s.redis_db),
            "RAPPORT_REDIS_PASSWORD": "",
            "RAPPORT_LOCK_KEY_PREFIX": s.lock_key_prefix,
            "RAPPORT_RABBITMQ_HOST": s.rabbitmq_host,
            "RAPPORT_RABBITMQ_PORT": str(s.rabbitmq_port),
            "RAPPORT_RABBITMQ_USER": s.rabbitmq_user,
            "RAPPORT_RABBITMQ_PASSWORD": s.rabbitmq_password,
            "RAPPORT_BROKER_EXCHANGE": s.exchange,
            "RAPPORT_BROKER_QUEUE": s.queue,
            "RAPPORT_DATABASE_URL": postgres_url(s, s.orders_db),
            "RAPPORT_ACTION_TIMEOUT": str(s.action_timeout),
            "TICKET_LOCK_LIFETIME": str(s.lock_lifetime),
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        })
        return env

    def _replica(self, i: int) -> Server:
        args = [str(BIN / "rasa"), "run", "-m", str(self.s.model), "--enable-api",
                "--auth-token", self.s.api_token, "--port", str(self.rasa_ports[i]),
                "--interface", "127.0.0.1", "--endpoints", str(ENDPOINTS),
                "--credentials", str(self.s.credentials), "--cors", "*"]
        return Server(args, self.environment(), self.s.workdir / f"rasa-{i}.log")

    def _action_server(self, i: int) -> Server:
        args = [str(BIN / "rasa"), "run", "actions", "--port", str(self.action_ports[i])]
        env = self.environment()
        env["SANIC_HOST"] = "127.0.0.1"
        return Server(args, env, self.s.workdir / f"actions-{i}.log")

    def replica_url(self, i: int) -> Text:
        return f"http://127.0.0.1:{self.rasa_ports[i]}"

    def replica_ready_url(self, i: int) -> Text:
        return f"{self.replica_url(i)}/status?token={self.s.api_token}"

    def action_server_health_url(self, i: int) -> Text:
        return f"http://127.0.0.1:{self.action_ports[i]}{ACTIONS_HEALTH}"

    def prepare_databases(self, reset: bool = False) -> None:
        """The tracker and orders databases exist; the orders are seeded (idempotent)."""
        create_database(self.s, self.s.tracker_db, reset)
        create_database(self.s, self.s.orders_db, reset)
        subprocess.run([sys.executable, "-m", "actions.db", "init"], cwd=REPO,
                       env=self.environment(), check=True, capture_output=True)

    def start(self, timeout: float = 900) -> None:
        """Start everything and return once every replica answers; stop all if one cannot."""
        try:
            self.prepare_databases()
            for server in self.action_servers:
                server.launch()
            self.balancer.launch()
            for server in self.replicas:
                server.launch()
            for i, server in enumerate(self.action_servers):
                server.wait_until_ready(self.action_server_health_url(i), timeout)
            with ThreadPoolExecutor(len(self.replicas)) as pool:
                list(pool.map(lambda i: self.replicas[i].wait_until_ready(self.replica_ready_url(i), timeout),
                              range(len(self.replicas))))
            self.wait_until_balanced(timeout=30)
        except BaseException:
            self.stop()
            raise

    def wait_until_balanced(self, timeout: float = 30) -> None:
        """The load balancer answers for the replicas (its health checks have seen one up)."""
        wait_for_http(f"{self.url}/status?token={self.s.api_token}", timeout=timeout, interval=0.2)

    def kill_replica(self, i: int) -> None:
        """kill -9 replica `i` and everything it started."""
        os.killpg(self.replicas[i].pid, signal.SIGKILL)
        self.replicas[i].process.wait()

    def restart_replica(self, i: int, timeout: float = 900) -> None:
        """Start replica `i` again on its port; return once it answers."""
        self.replicas[i] = self._replica(i)
        self.replicas[i].start(self.replica_ready_url(i), timeout)

    def kill_action_server(self, i: int = 0) -> None:
        os.killpg(self.action_servers[i].pid, signal.SIGKILL)
        self.action_servers[i].process.wait()

    def restart_action_server(self, i: int = 0, timeout: float = 120) -> None:
        """Start action server `i` again; return once the load balancer routes to it (its health
        check marks a server up again within a second)."""
        self.action_servers[i] = self._action_server(i)
        self.action_servers[i].start(self.action_server_health_url(i), timeout)
        wait_for_http(f"http://127.0.0.1:{self.actions_port}{ACTIONS_HEALTH}", timeout=30, interval=0.2)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period), in parallel."""
        servers = self.replicas + self.action_servers + [self.balancer]
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda server: server.stop(grace=20), servers))

    def __enter__(self) -> "Cluster":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def watch(cluster: Cluster) -> None:
    """Like a container platform: start a replica or action server again when it died; stop all
    when the load balancer did."""
    if cluster.balancer.process.poll() is not None:
        print(f"HAProxy stopped (see {cluster.balancer.log}); stopping everything.", flush=True)
        raise SystemExit(1)
    for i, server in enumerate(cluster.action_servers):
        if server.process.poll() is not None:
            print(f"actions-{i} exited ({server.process.returncode}); starting it again.", flush=True)
            cluster.restart_action_server(i)
    for i, server in enumerate(cluster.replicas):
        if server.process.poll() is not None:
            print(f"rasa-{i} exited ({server.process.returncode}); starting it again.", flush=True)
            cluster.restart_replica(i)
            print(f"rasa-{i} is back.", flush=True)


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[List[Text]] = None) -> None:
    parser = argparse.ArgumentParser(description="Start the production stack locally (make cluster).")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "rapport.tar.gz")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--action-servers", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005, help="the load balancer's (0: a free port)")
    parser.add_argument("--logs", type=Path, default=REPO / "cluster-logs")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    settings = Settings(model=args.model.resolve(), workdir=args.logs.resolve(), replicas=args.replicas,
                        action_servers=args.action_servers, host=args.host, port=args.port)
    cluster = Cluster(settings)
    print(f"Starting {args.replicas} replica(s), {args.action_servers} action server(s) and HAProxy "
          f"(logs: {settings.workdir}/) ...", flush=True)
    try:
        cluster.start()
        print(f"Load balancer: {cluster.url}", flush=True)
        print(f"API token: {settings.api_token}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while True:
            watch(cluster)
            time.sleep(1)
    except KeyboardInterrupt:
        print("Stopping ...", flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
