"""The deployment files (deploy/) describe the stack `make cluster` starts (scripts/cluster.py):
the same variables for endpoints.production.yml, the same ports, the same health URLs, the same
commands. They cannot run here (no container engine), so this is what keeps them in step."""
import re
import shlex
from pathlib import Path
from typing import Dict, List, Set

import yaml

from scripts.cluster import (ACTIONS_HEALTH, ACTIONS_PORT, ENDPOINTS, RASA_HEALTH, RASA_PORT, Cluster,
                             Settings, haproxy_config)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Read by the replicas besides the endpoints file: the lock's lifetime and the action timeout.
REPLICA_EXTRA = {"TICKET_LOCK_LIFETIME", "RAPPORT_ACTION_TIMEOUT"}
ACTIONS_ENV = {"RAPPORT_DATABASE_URL", "RAPPORT_ACTION_SERVER_TOKEN"}


def endpoint_variables() -> Set[str]:
    """The ${VARIABLES} the endpoints file reads (outside its comments)."""
    lines = [line.split("#", 1)[0] for line in ENDPOINTS.read_text().splitlines()]
    return set(re.findall(r"\$\{(\w+)\}", "\n".join(lines)))


def compose() -> Dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def kubernetes() -> List[Dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "rapport.yml").read_text()) if d]


def k8s(kind: str, name: str) -> Dict:
    return next(d for d in kubernetes() if d["kind"] == kind and d["metadata"]["name"] == name)


def dockerfile(name: str) -> str:
    return (DEPLOY / name).read_text()


def test_the_endpoints_file_uses_the_production_stores() -> None:
    endpoints = yaml.safe_load(ENDPOINTS.read_text())
    # Personal data masked around both (docs/privacy.md; tested on the real services in
    # tests/privacy/test_production_stack.py).
    assert endpoints["tracker_store"]["type"] == "privacy.MaskingTrackerStore"
    assert endpoints["tracker_store"]["store"]["type"] == "SQL"
    assert endpoints["tracker_store"]["store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "redis"
    assert endpoints["event_broker"]["type"] == "privacy.MaskingEventBroker"
    broker = endpoints["event_broker"]["broker"]
    assert broker["type"] == "brokers.pika.FlushingPikaEventBroker"  # has flushed() for the channel
    assert broker["exchange_name"] == "${RAPPORT_BROKER_EXCHANGE}"
    assert endpoints["action_endpoint"]["headers"]["Authorization"] == "Bearer ${RAPPORT_ACTION_SERVER_TOKEN}"
    assert {"RAPPORT_TRACKER_DB_HOST", "RAPPORT_REDIS_DB", "RAPPORT_BROKER_QUEUE"} <= endpoint_variables()


def test_the_local_stack_sets_every_variable(tmp_path: Path) -> None:
    cluster = Cluster(Settings(model=tmp_path / "model.tar.gz", workdir=tmp_path, replicas=2))
    env = cluster.environment()
    assert endpoint_variables() | REPLICA_EXTRA | ACTIONS_ENV <= set(env)
    config = haproxy_config(cluster.s, cluster.rasa_ports, cluster.actions_port, cluster.action_ports)
    assert f"option httpchk GET {RASA_HEALTH}" in config and f"option httpchk GET {ACTIONS_HEALTH}" in config
    assert "cookie RAPPORT_REPLICA insert" in config
    assert env["RAPPORT_ACTION_URL"] == f"http://127.0.0.1:{cluster.actions_port}/webhook"


def test_compose_sets_the_same_variables_ports_and_health_checks() -> None:
    services = compose()["services"]
    rasa, actions = services["rasa"], services["actions"]
    assert endpoint_variables() | REPLICA_EXTRA <= set(rasa["environment"])
    assert ACTIONS_ENV <= set(actions["environment"])
    assert rasa["expose"] == [str(RASA_PORT)] and actions["expose"] == [str(ACTIONS_PORT)]
    assert f"127.0.0.1:{RASA_PORT}{RASA_HEALTH}'" in " ".join(rasa["healthcheck"]["test"])
    assert f"127.0.0.1:{ACTIONS_PORT}{ACTIONS_HEALTH}'" in " ".join(actions["healthcheck"]["test"])
    assert rasa["deploy"]["replicas"] >= 2
    for service in ("postgres", "redis", "rabbitmq"):
        assert services[service]["healthcheck"]["test"], service
        assert rasa["depends_on"][service] == {"condition": "service_healthy"}
    # the replicas reach the action servers through HAProxy's second frontend
    assert rasa["environment"]["RAPPORT_ACTION_URL"] == "http://haproxy:5056/webhook"
    assert services["haproxy"]["ports"] == [f"{RASA_PORT}:{RASA_PORT}"]


def test_compose_haproxy_matches_the_local_balancer() -> None:
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert f"bind :{RASA_PORT}" in config and "bind :5056" in config
    assert f"rasa:{RASA_PORT} check" in config and f"actions:{ACTIONS_PORT} check" in config
    assert f"option httpchk GET {RASA_HEALTH}" in config and f"option httpchk GET {ACTIONS_HEALTH}" in config
    assert "cookie RAPPORT_REPLICA insert" in config


def test_dockerfiles_serve_the_ports_and_health_urls_of_the_local_stack() -> None:
    assistant, actions = dockerfile("Dockerfile.assistant"), dockerfile("Dockerfile.actions")
    assert f"EXPOSE {RASA_PORT}" in assistant and f"EXPOSE {ACTIONS_PORT}" in actions
    assert f"http://127.0.0.1:{RASA_PORT}{RASA_HEALTH}'" in assistant
    assert f"http://127.0.0.1:{ACTIONS_PORT}{ACTIONS_HEALTH}'" in actions
    command = shlex.split(assistant.split("\nCMD ", 1)[1].replace("\\\n", " "))
    assert command[:2] == ["rasa", "run"]
    for flag, value in [("--endpoints", "endpoints.production.yml"), ("--credentials", "credentials.yml"),
                        ("--port", str(RASA_PORT)), ("--auth-token", "$RASA_TOKEN")]:
        assert command[command.index(flag) + 1] == value, flag
    assert "--enable-api" in command
    assert f"rasa run actions --port {ACTIONS_PORT}" in actions
    # what the images copy exists, so `docker build` finds it
    for line in (assistant + actions).splitlines():
        if line.startswith("COPY ") and "models/" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source


def test_the_assistant_image_holds_every_package_its_files_name() -> None:
    """`module.Class` types in endpoints.production.yml and channels in credentials.yml are
    imported by `rasa run` at start: their packages must be in the image."""
    def named(value: object) -> List[str]:
        if isinstance(value, dict):
            return [n for k, v in value.items() for n in ([k] if "." in str(k) else []) + named(v)]
        if isinstance(value, list):
            return [n for item in value for n in named(item)]
        return [value] if isinstance(value, str) and re.fullmatch(r"[a-z_]+(\.\w+)+", value) else []

    files = [yaml.safe_load(ENDPOINTS.read_text()), yaml.safe_load((REPO / "credentials.yml").read_text())]
    packages = {name.split(".")[0] for content in files for name in named(content)}
    copied = {line.split()[1].rstrip("/") for line in dockerfile("Dockerfile.assistant").splitlines()
              if line.startswith("COPY ")}
    assert {"privacy", "brokers", "channels"} <= packages
    assert packages <= copied, packages - copied


def test_kubernetes_sets_the_same_variables_ports_and_probes() -> None:
    config = k8s("ConfigMap", "rapport-config")["data"]
    rasa = k8s("Deployment", "rapport-assistant")["spec"]["template"]["spec"]["containers"][0]
    actions = k8s("Deployment", "rapport-actions")["spec"]["template"]["spec"]["containers"][0]
    rasa_env = set(config) | {e["name"] for e in rasa["env"]}
    assert endpoint_variables() | REPLICA_EXTRA <= rasa_env
    assert ACTIONS_ENV <= {e["name"] for e in actions["env"]}
    assert rasa["ports"][0]["containerPort"] == RASA_PORT
    assert actions["ports"][0]["containerPort"] == ACTIONS_PORT
    assert rasa["readinessProbe"]["httpGet"] == {"path": RASA_HEALTH, "port": RASA_PORT}
    assert actions["readinessProbe"]["httpGet"] == {"path": ACTIONS_HEALTH, "port": ACTIONS_PORT}
    assert config["RAPPORT_ACTION_URL"] == f"http://rapport-actions:{ACTIONS_PORT}/webhook"
    assert k8s("Service", "rapport-assistant")["spec"]["ports"][0]["port"] == RASA_PORT
    assert k8s("Deployment", "rapport-assistant")["spec"]["replicas"] >= 2
    ingress = k8s("Ingress", "rapport")["metadata"]["annotations"]
    assert ingress["nginx.ingress.kubernetes.io/affinity"] == "cookie"


def test_all_deployments_agree_on_the_lock_lifetime_and_broker_names() -> None:
    defaults = Settings(model=Path("m"), workdir=Path("w"))
    rasa_env = compose()["services"]["rasa"]["environment"]
    config = k8s("ConfigMap", "rapport-config")["data"]
    for env in (rasa_env, config):
        assert env["TICKET_LOCK_LIFETIME"] == str(defaults.lock_lifetime)
        assert env["RAPPORT_BROKER_EXCHANGE"] == defaults.exchange
        assert env["RAPPORT_BROKER_QUEUE"] == defaults.queue
