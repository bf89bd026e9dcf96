"""What the analytics service reads, where it writes, and its alert rules.

Loaded from a YAML file (``analytics.yml`` at the project root, every key optional) and from
environment variables for what differs per deployment or is secret; command-line flags win.
"""
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, Optional, Text, Tuple

import yaml


@dataclass(frozen=True)
class SpikeRule:
    """Alert when the share of ``emotions`` among an intent's messages in the last
    ``current_minutes`` exceeds ``k`` times its share in the ``baseline_minutes`` before."""

    emotions: Tuple[Text, ...] = ("anger", "disgust")
    current_minutes: int = 5
    baseline_minutes: int = 15
    k: float = 3.0
    min_count: int = 5  # messages about the intent in the current window
    baseline_floor: float = 0.05  # a calm intent with no anger at all still needs this share x k
    clear_minutes: int = 5  # calm minutes in a row that end an episode (and re-arm the alert)
    # ...and the rise must be unlikely by chance: P(at least that many | baseline) below this
    # (binomial tail), or a small intent with 15 messages in the window alerts every few hours.
    max_p_value: float = 0.0001


@dataclass(frozen=True)
class StreakRule:
    """Alert when a customer's last ``turns`` messages were all one of ``emotions`` and no
    handoff happened since."""

    emotions: Tuple[Text, ...] = ("anger",)
    turns: int = 3


@dataclass(frozen=True)
class BrokerSettings:
    url: Text = "amqp://guest:guest@127.0.0.1:5672/"
    exchange: Text = "rasa-exchange"  # Rasa's PikaEventBroker default
    queue: Text = "rapport-analytics"  # our own durable queue, bound to the exchange


@dataclass(frozen=True)
class Settings:
    database_url: Text = "sqlite:///analytics.db"
    broker: Optional[BrokerSettings] = None  # events from RabbitMQ when set...
    tracker_store_url: Text = "sqlite:///trackers.db"  # ...else from Rasa's SQL tracker store
    rasa_url: Text = "http://127.0.0.1:5005"  # transcripts, read through Rasa's HTTP API
    rasa_token: Optional[Text] = None
    webhook_url: Optional[Text] = None  # Slack incoming webhook
    dashboard_url: Text = ""  # public address of the dashboard, for links in alerts
    dashboard_token: Optional[Text] = None  # when set, the page and its API need it
    host: Text = "127.0.0.1"
    port: int = 8090
    batch_size: int = 500
    poll_seconds: float = 0.5
    handoff_actions: Tuple[Text, ...] = ("action_handoff",)
    fallback_intents: Tuple[Text, ...] = ("nlu_fallback",)
    fallback_actions: Tuple[Text, ...] = ("action_default_fallback",)
    spike: SpikeRule = field(default_factory=SpikeRule)
    streak: StreakRule = field(default_factory=StreakRule)


ENVIRONMENT = {
    "ANALYTICS_DATABASE_URL": "database_url",
    "ANALYTICS_TRACKER_STORE_URL": "tracker_store_url",
    "ANALYTICS_RASA_URL": "rasa_url",
    "RASA_AUTH_TOKEN": "rasa_token",
    "ANALYTICS_WEBHOOK_URL": "webhook_url",
    "ANALYTICS_DASHBOARD_URL": "dashboard_url",
    "ANALYTICS_DASHBOARD_TOKEN": "dashboard_token",
}


def _build(cls: type, values: Dict[Text, Any]) -> Any:
    """A frozen dataclass from a mapping; unknown keys are an error, lists become tuples."""
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def from_mapping(values: Dict[Text, Any]) -> Settings:
    values = dict(values or {})
    nested = {"spike": SpikeRule, "streak": StreakRule, "broker": BrokerSettings}
    for key, cls in nested.items():
        if isinstance(values.get(key), dict):
            values[key] = _build(cls, values[key])
    return _build(Settings, values)


def load(path: Optional[Path] = None, environ: Optional[Dict[Text, Text]] = None,
         endpoints: Optional[Path] = None) -> Settings:
    """Settings from the YAML file (if it exists), then Rasa's endpoints file (where the events
    are), then the environment."""
    environ = os.environ if environ is None else environ
    values: Dict[Text, Any] = {}
    if path and path.exists():
        values = yaml.safe_load(path.read_text()) or {}
    settings = from_mapping(values)
    if endpoints:
        settings = replace(settings, **from_endpoints(endpoints))
    overrides = {attr: environ[var] for var, attr in ENVIRONMENT.items() if environ.get(var)}
    if environ.get("ANALYTICS_BROKER_URL"):
        overrides["broker"] = replace(settings.broker or BrokerSettings(),
                                      url=environ["ANALYTICS_BROKER_URL"])
    return replace(settings, **overrides)


def _unwrapped(endpoint: Any, inner: Text) -> Optional[Dict[Text, Any]]:
    """An endpoint's config as a dict (type, url, the rest), looking inside a wrapper such as
    privacy.MaskingTrackerStore (``store:``) or privacy.MaskingEventBroker (``broker:``)."""
    if endpoint is None:
        return None
    config = {"type": endpoint.type, "url": endpoint.url, **endpoint.kwargs}
    if isinstance(config.get(inner), dict):
        config = dict(config[inner])
    return config


def _is_pika(broker_type: Any) -> bool:
    """Rasa's `pika` broker, or a class built on it (brokers.pika.FlushingPikaEventBroker)."""
    if str(broker_type or "").lower() == "pika":
        return True
    from rasa.core.brokers.pika import PikaEventBroker
    from rasa.shared.utils.common import class_from_module_path

    try:
        found = class_from_module_path(str(broker_type))
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(found, type) and issubclass(found, PikaEventBroker)


def from_endpoints(path: Path) -> Dict[Text, Any]:
    """Where Rasa's events are, read from a Rasa endpoints file: the SQL tracker store's URL
    and, when ``event_broker`` is a pika broker, its RabbitMQ address and exchange."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(path))
    found: Dict[Text, Any] = {}
    store = _unwrapped(endpoints.tracker_store, "store")
    if store and str(store.get("type", "")).lower() == "sql":
        keys = ("dialect", "host", "port", "db", "username", "password", "login_db", "query")
        config = {"host": store.get("url"), **store}
        found["tracker_store_url"] = str(SQLTrackerStore.get_db_url(
            **{k: config[k] for k in keys if config.get(k) is not None}))
    broker = _unwrapped(endpoints.event_broker, "broker")
    if broker and _is_pika(broker.get("type")):
        host = str(broker.get("url") or "localhost")
        if not host.startswith("amqp"):
            credentials = f"{broker.get('username', 'guest')}:{broker.get('password', 'guest')}@"
            host = f"amqp://{credentials}{host}:{broker.get('port', 5672)}/"
        found["broker"] = BrokerSettings(
            url=host, exchange=broker.get("exchange_name") or BrokerSettings.exchange)
    return found
