"""Real databases (a SQLite file, and PostgreSQL on 127.0.0.1:5432 in a database of our own)
and a real local HTTP server that records what a webhook receives."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Text

import pytest
import sqlalchemy as sa

from analytics import schema

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_DB = "rapport_analytics_test"


@pytest.fixture(scope="session")
def postgres_url() -> Text:
    """A database of our own on the local PostgreSQL, created once."""
    admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": POSTGRES_DB}).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{POSTGRES_DB}"'))
    admin.dispose()
    return f"{POSTGRES_SERVER}/{POSTGRES_DB}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[Text]:
    """An empty analytics database: a fresh SQLite file, or PostgreSQL with our tables dropped."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'analytics.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    schema.metadata.drop_all(engine)
    engine.dispose()
    yield url


class WebhookReceiver:
    def __init__(self) -> None:
        self.payloads: List[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                receiver.payloads.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/alerts"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
