"""Throughput of the analytics consumer, in events per second, against what the assistant
produces at its measured 16-client speed (BENCHMARKS.md, "End-to-end speed").

Replays the synthetic shop stream (analytics/synthetic.py: user message, action, reply,
action_listen per turn, with emotions and a planted spike) through each path, from a backlog:

- ``broker``: published to a RabbitMQ exchange of our own through Rasa's PikaEventBroker while
  the service's queue is bound but the service is stopped; then the service is started and timed
  until every event is committed (aggregates + dedup keys, acks after commit);
- ``tracker-store``: rows in Rasa's ``events`` table; the service reads them by cursor;
- ``aggregator``: the aggregation step alone (batches of 500), no transport;
- ``per-event commit``: the same step committing each event alone, the naive consumer, side by
  side to show what batching buys.

Two rates per path: events per wall-clock second (what this shared 2-core machine gave, load
average recorded with each row), and events per CPU second of the consumer process (the
service, its SQLite and its AMQP client; not RabbitMQ's or PostgreSQL's own CPU): what one free
core would give, and much steadier when other work shares the machine.

Each on SQLite (a file) and PostgreSQL (127.0.0.1:5432, database rapport_analytics_bench).
Events per assistant message are counted in a real tracker store (--tracker-db), if given.

    nice -n 10 .venv/bin/python -m bench.analytics_throughput --events 40000
"""
import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Text

import aio_pika
import sqlalchemy as sa
from tqdm import tqdm

from analytics import records, schema
from analytics.aggregator import Aggregator
from analytics.settings import BrokerSettings, Settings
from analytics.synthetic import PlantedSpike, stream

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
PG_DB = "rapport_analytics_bench"
E2E_MESSAGES_PER_SECOND = 6.43  # BENCHMARKS.md, End-to-end speed: Rapport, 16 clients
RESULTS = Path(__file__).parent / "results" / "analytics_throughput.json"
BATCH_SIZE = [Settings.batch_size]  # --batch-size


def events_for(count: int) -> List[Dict]:
    minutes = max(1, count // (23 * 4))  # 23 messages a minute, 4 events each
    events = stream(29_000_000, minutes, [PlantedSpike("order_status", minutes // 2)], seed=1)
    return events[:count]


def fresh_database(kind: Text, work: Path) -> Text:
    if kind == "sqlite":
        path = work / f"analytics-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    return f"{POSTGRES}/{PG_DB}"


def messages_in(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(schema.activity_minute.c.messages))).scalar()
    return int(total or 0)


def bench_aggregator(events, url: Text, batch: int) -> float:
    aggregator = Aggregator(schema.make_engine(url), Settings())
    recs = [records.from_event(e) for e in events]
    began, cpu = time.perf_counter(), time.process_time()
    for start in tqdm(range(0, len(recs), batch), desc=f"aggregator batch={batch}", leave=False):
        aggregator.apply(recs[start:start + batch])
    return len(recs) / (time.perf_counter() - began), len(recs) / (time.process_time() - cpu)


async def _publish(events, exchange: Text, queue: Text) -> None:
    import rasa.shared.core.events  # noqa: F401  (PikaEventBroker uses it without importing it)
    from rasa.core.brokers.pika import PikaEventBroker

    connection = await aio_pika.connect(AMQP)  # bind the service's queue first: a backlog
    async with connection:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
        q = await channel.declare_queue(queue, durable=True)
        await q.bind(ex, "")
    broker = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[f"{queue}-rasa"],
                             exchange_name=exchange)
    await broker.connect()
    for event in tqdm(events, desc="publishing via PikaEventBroker", leave=False):
        broker.publish(event)
        if len(broker._background_tasks) > 2000:
            await asyncio.sleep(0)
    while broker._background_tasks:
        await asyncio.sleep(0.01)
    await broker.close()


async def _cleanup(exchange: Text, queue: Text) -> None:
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}-rasa"):
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange)


def run_service_until(settings: Settings, expected: int, timeout: float):
    """(wall seconds, CPU seconds of this process) until ``expected`` messages are counted."""
    from tests.analytics.conftest import RunningService

    engine = sa.create_engine(settings.database_url)
    began, cpu = time.perf_counter(), time.process_time()
    service = RunningService(settings)
    try:
        with tqdm(total=expected, desc="consuming", leave=False) as bar:
            done = 0
            while done < expected:
                assert time.perf_counter() - began < timeout, "bench phase timed out"
                time.sleep(0.2)
                now = messages_in(engine)
                bar.update(now - done)
                done = now
        return time.perf_counter() - began, time.process_time() - cpu
    finally:
        service.stop()
        engine.dispose()


def bench_broker(events, url: Text) -> float:
    name = f"rapport-analytics-bench-{uuid.uuid4().hex[:6]}"
    asyncio.run(_publish(events, name, name))
    try:
        settings = replace(Settings(), database_url=url, port=0, batch_size=BATCH_SIZE[0],
                           broker=BrokerSettings(url=AMQP, exchange=name, queue=name))
        schema.make_engine(url)
        wall, cpu = run_service_until(settings, sum(e["event"] == "user" for e in events), 900)
    finally:
        asyncio.run(_cleanup(name, name))
    return len(events) / wall, len(events) / cpu


def bench_tracker_store(events, url: Text, work: Path) -> float:
    from tests.analytics.conftest import write_tracker_events

    tracker_url = f"sqlite:///{work / f'trackers-{uuid.uuid4().hex[:6]}.db'}"
    write_tracker_events(tracker_url, events)
    settings = replace(Settings(), database_url=url, tracker_store_url=tracker_url, port=0,
                       poll_seconds=0.05, batch_size=BATCH_SIZE[0])
    schema.make_engine(url)
    wall, cpu = run_service_until(settings, sum(e["event"] == "user" for e in events), 900)
    return len(events) / wall, len(events) / cpu


def events_per_message(tracker_db: Optional[Path]) -> Optional[float]:
    if not tracker_db:
        return None
    with sqlite3.connect(tracker_db) as conn:
        total, users = conn.execute(
            "SELECT COUNT(*), SUM(type_name = 'user') FROM events").fetchone()
    return total / users if users else None


def quiet_rasa_logs() -> None:
    """PikaEventBroker logs every publish at debug level through structlog; not here."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main() -> None:
    quiet_rasa_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--per-event-events", type=int, default=2_000,
                        help="events for the per-event-commit baseline (it is slow)")
    parser.add_argument("--tracker-db", type=Path, help="a real tracker store, to count events "
                        "per user message")
    parser.add_argument("--events-per-message", type=float, help="events Rasa stores per user "
                        "message, when no --tracker-db is given (default 4, the synthetic turn)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--batch-size", type=int, default=Settings.batch_size)
    parser.add_argument("--paths", nargs="+",
                        default=["broker", "tracker-store", "aggregator", "per-event commit"])
    args = parser.parse_args()
    BATCH_SIZE[0] = args.batch_size
    events = events_for(args.events)
    per_message = events_per_message(args.tracker_db) or args.events_per_message or 4.0
    produced = E2E_MESSAGES_PER_SECOND * per_message
    results = {"events": len(events), "events_per_message": round(per_message, 2),
               "load_average_at_start": os.getloadavg()[0],
               "assistant_events_per_second": round(produced, 1), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for database in args.databases:
            phases = [
                ("broker", lambda url: bench_broker(events, url)),
                ("tracker-store", lambda url: bench_tracker_store(events, url, work)),
                ("aggregator", lambda url: bench_aggregator(events, url, 500)),
                ("per-event commit", lambda url: bench_aggregator(
                    events[:args.per_event_events], url, 1)),
            ]
            for phase, run in phases:
                if phase not in args.paths:
                    continue
                rate, per_cpu_second = run(fresh_database(database, work))
                row = {"path": phase, "database": database, "events_per_second": round(rate),
                       "x_assistant": round(rate / produced, 1),
                       "events_per_cpu_second": round(per_cpu_second),
                       "load_average": round(os.getloadavg()[0], 1)}
                results["runs"].append(row)
                print(json.dumps(row), flush=True)
                args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"assistant at 16 clients: {E2E_MESSAGES_PER_SECOND} msg/s x {per_message:.2f} "
          f"events/msg = {produced:.1f} events/s")


if __name__ == "__main__":
    main()
