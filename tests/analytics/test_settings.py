"""Settings: analytics.yml, then Rasa's endpoints file, then the environment."""
from pathlib import Path

import pytest

from analytics.settings import BrokerSettings, load

ENDPOINTS = """
tracker_store:
  type: SQL
  dialect: postgresql
  url: db.internal
  port: 5432
  db: rasa
  username: rasa
  password: ${RASA_DB_PASSWORD}
event_broker:
  type: pika
  url: rabbit.internal
  username: user
  password: pw
  exchange_name: shop-events
  queues: [rasa_events]
"""


def test_yaml_then_endpoints_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "analytics.yml"
    config.write_text("port: 9000\nspike:\n  k: 4\n  emotions: [anger]\nstreak: {turns: 5}\n")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(ENDPOINTS)
    monkeypatch.setenv("RASA_DB_PASSWORD", "s3cret")
    settings = load(config, environ={"ANALYTICS_WEBHOOK_URL": "http://hooks.local/x",
                                     "RASA_AUTH_TOKEN": "tok"}, endpoints=endpoints)
    assert settings.port == 9000 and settings.spike.k == 4 and settings.spike.emotions == ("anger",)
    assert settings.streak.turns == 5 and settings.spike.current_minutes == 5
    assert settings.tracker_store_url == "postgresql://rasa:s3cret@db.internal:5432/rasa"
    assert settings.broker == BrokerSettings(url="amqp://user:pw@rabbit.internal:5672/",
                                             exchange="shop-events", queue="rapport-analytics")
    assert (settings.webhook_url, settings.rasa_token) == ("http://hooks.local/x", "tok")
    moved = load(config, environ={"ANALYTICS_BROKER_URL": "amqp://a:b@mq:5672/"},
                 endpoints=endpoints)
    assert moved.broker.url == "amqp://a:b@mq:5672/" and moved.broker.exchange == "shop-events"


def test_the_projects_endpoints_read_the_sqlite_tracker_store():
    endpoints = Path(__file__).resolve().parents[2] / "endpoints.yml"
    settings = load(None, environ={}, endpoints=endpoints)
    assert settings.tracker_store_url == "sqlite:///trackers.db" and settings.broker is None


def test_unknown_keys_are_refused(tmp_path):
    config = tmp_path / "analytics.yml"
    config.write_text("spike:\n  kk: 4\n")
    with pytest.raises(ValueError, match="kk"):
        load(config, environ={})


def test_stores_and_brokers_wrapped_by_privacy_masking_are_looked_into(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("""
tracker_store:
  type: privacy.MaskingTrackerStore
  store:
    type: SQL
    dialect: sqlite
    db: masked.db
event_broker:
  type: privacy.MaskingEventBroker
  broker:
    type: pika
    url: mq.internal
    username: u
    password: p
    queues: [rapport-analytics]
""")
    settings = load(None, environ={}, endpoints=endpoints)
    assert settings.tracker_store_url == "sqlite:///masked.db"
    assert settings.broker.url == "amqp://u:p@mq.internal:5672/"


def test_the_production_endpoints_give_the_broker_and_the_tracker_store(monkeypatch):
    endpoints = Path(__file__).resolve().parents[2] / "endpoints.production.yml"
    values = {
        "RAPPORT_ACTION_URL": "http://actions:5055/webhook", "RAPPORT_ACTION_SERVER_TOKEN": "t",
        "RAPPORT_TRACKER_DB_HOST": "db", "RAPPORT_TRACKER_DB_PORT": "5432",
        "RAPPORT_TRACKER_DB_NAME": "rasa", "RAPPORT_TRACKER_DB_USER": "rasa",
        "RAPPORT_TRACKER_DB_PASSWORD": "pw", "RAPPORT_REDIS_HOST": "redis",
        "RAPPORT_REDIS_PORT": "6379", "RAPPORT_REDIS_DB": "1", "RAPPORT_REDIS_PASSWORD": "r",
        "RAPPORT_LOCK_KEY_PREFIX": "rapport", "RAPPORT_RABBITMQ_HOST": "mq",
        "RAPPORT_RABBITMQ_PORT": "5672", "RAPPORT_RABBITMQ_USER": "rabbit",
        "RAPPORT_RABBITMQ_PASSWORD": "secret", "RAPPORT_BROKER_EXCHANGE": "rasa-exchange",
        "RAPPORT_BROKER_QUEUE": "rapport-analytics", "VARIABLES": "",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load(None, environ={}, endpoints=endpoints)
    assert settings.broker == BrokerSettings(url="amqp://rabbit:secret@mq:5672/",
                                             exchange="rasa-exchange", queue="rapport-analytics")
    assert settings.tracker_store_url == "postgresql://rasa:pw@db:5432/rasa"
