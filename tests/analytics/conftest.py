"""Real databases (a SQLite file, and PostgreSQL on 127.0.0.1:5432 in a database of our own)
and a real local HTTP server that records what a webhook receives."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Text

import pytest
import sqlalchemy as sa

from analytics import schema
from tests.services import postgres_database

# one database per pytest-xdist worker: each drops and recreates its tables
POSTGRES_DB = "rapport_analytics_test_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_url() -> Text:
    """A database of our own on the local PostgreSQL, created once."""
    return postgres_database(POSTGRES_DB)


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


def write_tracker_events(url: Text, events: List[dict]) -> int:
    """Rows in Rasa's own ``events`` table schema, as the SQL tracker store writes them;
    returns the highest id."""
    from rasa.core.tracker_store import SQLTrackerStore

    table = SQLTrackerStore.SQLEvent.__table__
    engine = sa.create_engine(url)
    table.create(engine, checkfirst=True)
    rows = [{
        "sender_id": e["sender_id"], "type_name": e["event"], "timestamp": e["timestamp"],
        "intent_name": (e.get("parse_data") or {}).get("intent", {}).get("name"),
        "action_name": e.get("name"),
        "data": json.dumps({k: v for k, v in e.items() if k != "sender_id"}),
    } for e in events]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
    engine.dispose()
    return last


class RunningService:
    """The analytics service on its own asyncio loop in a thread, on a free port."""

    def __init__(self, settings, prepare=None) -> None:
        import asyncio

        from analytics.service import Service

        self.settings = settings
        self._ready = threading.Event()
        self.error: List[BaseException] = []

        def main() -> None:
            async def run() -> None:
                self.service = Service(settings)
                if prepare:
                    prepare(self.service)
                self.loop = asyncio.get_running_loop()
                task = asyncio.create_task(self.service.run())
                while self.service.port is None and not task.done():
                    await asyncio.sleep(0.02)
                self._ready.set()
                await task

            try:
                asyncio.run(run())
            except BaseException as error:  # reported by stop()
                self.error.append(error)
                self._ready.set()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        assert self._ready.wait(30), "analytics service did not start"
        assert not self.error, self.error
        self.url = f"http://127.0.0.1:{self.service.port}"

    def stop(self, expect_error: bool = False) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.service.stop.set)
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert bool(self.error) == expect_error, self.error


def wait_until(predicate, timeout: float = 60, message: Text = "condition") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds (not a timing check)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)
