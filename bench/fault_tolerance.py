"""Fault tolerance of the production stack: kill its parts under load, then count what was lost.

The stack is scripts/cluster.py's (replicas behind HAProxy, action server, PostgreSQL tracker
store, RedisLockStore, Pika broker), on a private PostgreSQL and Redis started here (restarting
the machine's own would break everything else using them; RabbitMQ is the machine's, with a
fresh exchange and queue per run). 16 clients replay the user turns of tests/test_stories.yml as
conversations through the load balancer over REST. A client retries a failed request (connection
error, 5xx, timeout) with the same message id, as a channel would, and times each reply from the
first attempt to the answer. Mid-run, in turn: kill -9 one replica (then start it again), kill -9
the action server (down a few seconds, then started again), restart PostgreSQL, restart Redis.

Afterwards every conversation is read back from PostgreSQL and from the RabbitMQ queue, and each
one gets one more message: lost / duplicated / reordered user messages, turns without a reply,
events missing from the broker, conversations that could not continue; latency and errors per
phase; recovery time per fault (fault -> every conversation answered again).

`--stock` runs the same scenario side by side with Rasa's own REST channel (message ids ignored,
in-memory fallback of the tracker store, no apology). `--throughput` measures 1, 2 and 4 replicas
without faults, with the CPU time of every process.

    nice -n 10 .venv/bin/python -m bench.fault_tolerance --model /work/models/demo.tar.gz \\
        --messages 2000 --stock --throughput
"""
import argparse
import asyncio
import json
import logging
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Text, Tuple

import aio_pika
import aiohttp
import psycopg2
import yaml
from tqdm import tqdm

from channels.action_outage import APOLOGY
from privacy.masking import MaskingConfig, mask_text
from scripts.cluster import Cluster, Settings, postgres_url
from scripts.private_services import PrivatePostgres, PrivateRedis
from scripts.servers import REPO, group_members

logger = logging.getLogger("bench.fault_tolerance")

STORIES = REPO / "tests" / "test_stories.yml"
RESULTS = REPO / "bench" / "results"
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
ATTEMPT_TIMEOUT = 60.0  # one request
MESSAGE_DEADLINE = 240.0  # all attempts of one message
PROBE_TEXT = "where is my order A1001?"
MASKING = MaskingConfig()  # what endpoints.production.yml masks (every kind)


def user_turns(stories_file: Path = STORIES) -> List[List[Text]]:
    """Each story's user messages, entity markup removed (what a user would type)."""
    stories = yaml.safe_load(stories_file.read_text())["stories"]
    conversations = []
    for story in stories:
        turns = [ENTITY_MARKUP.sub(r"\1", step["user"]).strip() for step in story["steps"] if "user" in step]
        if turns:
            conversations.append(turns)
    return conversations


@dataclass
class Reply:
    """One user message as the client saw it."""

    sender: Text
    index: int  # position in its conversation
    message_id: Text
    text: Text
    phase: Text  # at the first attempt
    sent: float  # first attempt (monotonic)
    done: float = 0.0
    attempts: int = 0
    errors: List[Text] = field(default_factory=list)
    replies: List[Dict] = field(default_factory=list)
    ok: bool = False

    @property
    def apologised(self) -> bool:
        """The bot stood in for a failed action with the outage apology."""
        return any(m.get("text") == APOLOGY for m in self.replies)

    @property
    def latency(self) -> float:
        return self.done - self.sent


class Load:
    """16 (or `clients`) conversations at a time through the load balancer, with retries."""

    def __init__(self, url: Text, run_id: Text, clients: int, send_ids: bool = True) -> None:
        self.url = f"{url}/webhooks/rest/webhook"
        self.run_id = run_id
        self.clients = clients
        self.send_ids = send_ids
        self.phase = "steady"
        self.replies: List[Reply] = []
        self.finished = threading.Event()  # every client stopped
        self.progress: Optional[tqdm] = None

    async def send(self, session: aiohttp.ClientSession, reply: Reply) -> Reply:
        body: Dict[Text, Any] = {"sender": reply.sender, "message": reply.text}
        if self.send_ids:
            body["message_id"] = reply.message_id
        backoff = 0.25
        while time.monotonic() - reply.sent < MESSAGE_DEADLINE:
            reply.attempts += 1
            try:
                async with session.post(self.url, json=body,
                                        timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT)) as response:
                    if response.status == 200:
                        reply.replies = await response.json()
                        reply.ok = True
                        break
                    reply.errors.append(f"HTTP {response.status}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                reply.errors.append(type(error).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        reply.done = time.monotonic()
        return reply

    async def conversation(self, session: aiohttp.ClientSession, sender: Text, turns: List[Text]) -> None:
        for index, text in enumerate(turns):
            reply = Reply(sender, index, f"{sender}-{index}", text, self.phase, time.monotonic())
            self.replies.append(reply)
            await self.send(session, reply)
            if self.progress is not None:
                self.progress.update(1)
            if not reply.ok:
                return  # the conversation could not go on; counted as such

    async def run(self, conversations: List[List[Text]], messages: int,
                  keep_going: Callable[[], bool] = lambda: False) -> None:
        """Send at least `messages` user messages, and more while `keep_going()` (faults pending)."""
        counter = iter(range(10 ** 9))
        connector = aiohttp.TCPConnector(limit=self.clients * 2)
        # no cookies: HAProxy's stickiness cookie is for socket.io; REST requests spread
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
            async def client(worker: int) -> None:
                while len(self.replies) < messages or keep_going():
                    n = next(counter)
                    turns = conversations[n % len(conversations)]
                    await self.conversation(session, f"ft-{self.run_id}-{worker}-{n}", turns)

            await asyncio.gather(*(client(w) for w in range(self.clients)))

    def sent_in_phase(self, phase: Text) -> int:
        return sum(1 for r in self.replies if r.phase == phase)

    def apologised_senders(self) -> set:
        """Conversations that got the outage apology at least once."""
        return {r.sender for r in self.replies if r.apologised}


@dataclass
class Fault:
    name: Text
    inject: Callable[[], None]
    restore: Callable[[], None]
    down_seconds: float = 0.0
    started: float = 0.0
    restored: float = 0.0
    wall_started: float = 0.0  # time.time(), to place tracker events (their timestamps)
    wall_restored: float = 0.0


def faults_for(cluster: Cluster, postgres: PrivatePostgres, redis_server: PrivateRedis,
               which: List[Text]) -> List[Fault]:
    nothing = lambda: None  # noqa: E731
    every = {
        "replica kill -9": Fault("replica kill -9", lambda: cluster.kill_replica(0),
                                 lambda: cluster.restart_replica(0)),
        "action server kill -9": Fault("action server kill -9", cluster.kill_action_server,
                                       cluster.restart_action_server, down_seconds=5.0),
        "PostgreSQL restart": Fault("PostgreSQL restart", postgres.restart, nothing),
        "Redis restart": Fault("Redis restart", redis_server.restart, nothing),
    }
    return [every[name] for name in which]


def inject_faults(load: Load, faults: List[Fault], steady: int, after: int) -> None:
    """Steady load first, then each fault in turn, each followed by `after` messages.

    Runs in the main thread while the load runs in another: a process started again here must be
    started by a thread that outlives it (servers.py's PR_SET_PDEATHSIG fires when the starting
    *thread* ends)."""
    def wait_for_messages(phase: Text, count: int) -> None:
        while load.sent_in_phase(phase) < count and not load.finished.is_set():
            time.sleep(0.1)

    wait_for_messages("steady", steady)
    for fault in faults:
        load.phase = f"{fault.name}: down"
        fault.started, fault.wall_started = time.monotonic(), time.time()
        fault.inject()
        time.sleep(fault.down_seconds)
        fault.restore()
        fault.restored, fault.wall_restored = time.monotonic(), time.time()
        load.phase = f"after {fault.name}"
        wait_for_messages(load.phase, after)


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def phase_table(replies: List[Reply]) -> List[Dict[Text, Any]]:
    phases: Dict[Text, List[Reply]] = {}
    for reply in replies:
        phases.setdefault(reply.phase, []).append(reply)
    rows = []
    for phase, group in phases.items():
        latencies = [r.latency * 1000 for r in group if r.ok]
        rows.append({
            "phase": phase, "messages": len(group),
            "p50_ms": round(percentile(latencies, 50)), "p95_ms": round(percentile(latencies, 95)),
            "p99_ms": round(percentile(latencies, 99)),
            "retried": sum(1 for r in group if r.attempts > 1),
            "failed_attempts": sum(len(r.errors) for r in group),
            "unanswered": sum(1 for r in group if not r.ok),
            "apologies": sum(1 for r in group for m in r.replies if m.get("text") == APOLOGY),
        })
    return rows


def recovery(load: Load, fault: Fault) -> Dict[Text, Any]:
    """Fault -> the moment every conversation that was going on when it struck (a message before
    it, another at or after it) had an answer to a message sent at or after it."""
    before = {r.sender for r in load.replies if r.sent < fault.started}
    first_answer: Dict[Text, float] = {}
    for reply in load.replies:
        if reply.ok and reply.sent >= fault.started and reply.sender in before:
            first_answer[reply.sender] = min(first_answer.get(reply.sender, reply.done), reply.done)
    apologies = [r.latency for r in load.replies if r.apologised]
    return {
        "fault": fault.name,
        "process_back_s": round(fault.restored - fault.started, 1),
        "all_conversations_answered_s": round(max(first_answer.values()) - fault.started, 1) if first_answer else None,
        "slowest_apology_s": round(max(apologies), 2) if apologies and "action" in fault.name else None,
    }


def tracker_events(database_url: Text, prefix: Text) -> Dict[Text, List[Dict]]:
    """Every stored event of the run's conversations, in storage order."""
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sender_id, data FROM events WHERE sender_id LIKE %s ORDER BY id",
                           (prefix + "%",))
            events: Dict[Text, List[Dict]] = {}
            for sender, data in cursor.fetchall():
                events.setdefault(sender, []).append(json.loads(data))
            return events
    finally:
        connection.close()


async def broker_events(settings: Settings, prefix: Text) -> Dict[Text, List[Dict]]:
    """Drain the run's queue (Rasa declared and bound it): every published event, by conversation."""
    connection = await aio_pika.connect_robust(
        host=settings.rabbitmq_host, port=settings.rabbitmq_port,
        login=settings.rabbitmq_user, password=settings.rabbitmq_password)
    events: Dict[Text, List[Dict]] = {}
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(settings.queue, durable=True, passive=True)
        while True:
            message = await queue.get(no_ack=True, fail=False, timeout=10)
            if message is None:
                break
            event = json.loads(message.body)
            if str(event.get("sender_id", "")).startswith(prefix):
                events.setdefault(event["sender_id"], []).append(event)
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(settings.exchange)
    return events


def event_key(event: Dict) -> Tuple:
    return (event.get("event"), event.get("timestamp"))


def as_stored(text: Text) -> Text:
    """A sent text as the stack stores it: endpoints.production.yml masks personal data."""
    return mask_text(text, MASKING)


def occurrences(texts: List[Text]) -> List[Tuple[Text, int]]:
    """Each text with how often it came before: equal texts become distinct keys, in order."""
    seen: Counter = Counter()
    keyed = []
    for text in texts:
        keyed.append((text, seen[text]))
        seen[text] += 1
    return keyed


def healthy_silent_texts(load: Load) -> set:
    """Texts left without a reply while nothing was down (steady or after a recovery): the demo's
    behaviour in some states of the shared orders database (e.g. a form for an order that another
    conversation has cancelled meanwhile), not a fault's."""
    return {r.text for r in load.replies if r.ok and not r.replies and not r.phase.endswith(": down")}


def expected_silence(load: Load, reference: "Reference") -> set:
    """Texts, as stored, that the healthy stack leaves without a reply too."""
    return {as_stored(t) for t in reference.empty_texts | healthy_silent_texts(load)}


def turns_left_silent(events: List[Dict], expected_silent: set) -> List[Text]:
    """Stored user turns with no bot event before the next user turn, leaving out the texts
    (as stored) that the healthy stack leaves silent too."""
    silent = []
    for i, event in enumerate(events):
        if event.get("event") != "user" or event.get("text") in expected_silent:
            continue
        rest = events[i + 1:]
        upto = next((j for j, e in enumerate(rest) if e.get("event") == "user"), len(rest))
        if not any(e.get("event") == "bot" for e in rest[:upto]):
            silent.append(event.get("text"))
    return silent


def silent_turn_samples(load: Load, stored: Dict[Text, List[Dict]], reference: "Reference",
                        limit: int = 5) -> List[Dict[Text, Any]]:
    """The turns `integrity` counts as without reply, each with its conversation's turns."""
    expected = expected_silence(load, reference)
    return [{"sender": sender, "text": text, "turns": turns_of(load, sender)}
            for sender, events in sorted(stored.items())
            for text in turns_left_silent(events, expected)][:limit]


def integrity(load: Load, stored: Dict[Text, List[Dict]], published: Dict[Text, List[Dict]],
              reference: "Reference") -> Dict[Text, int]:
    """What the client sent against what PostgreSQL and the broker hold. A turn without a reply
    counts only where the healthy stack did reply (the reference pass)."""
    counts = dict(lost=0, duplicated=0, reordered=0, turns_without_reply=0,
                  turns_without_reply_after_outage=0, events_out_of_time_order=0,
                  missing_from_broker=0, duplicated_in_broker=0, broker_events_not_stored=0,
                  unanswered_by_client=0, empty_replies=0)
    silent = reference.empty_texts | healthy_silent_texts(load)
    stored_silent = expected_silence(load, reference)
    # A conversation that got the outage apology went on without one of its actions: from then on
    # its state is not the healthy stack's, and a turn it leaves silent is not a lost reply.
    apologised = load.apologised_senders()
    by_sender: Dict[Text, List[Reply]] = {}
    for reply in load.replies:
        by_sender.setdefault(reply.sender, []).append(reply)
    for sender, sent in by_sender.items():
        events = stored.get(sender, [])
        # Matched by text as the store keeps it (Rasa's own channel keeps no message ids), with
        # its occurrence: two turns of a story may be stored alike ("[ADDRESS]" twice).
        stored_texts = [e.get("text") for e in events if e.get("event") == "user"]
        in_order = sorted(sent, key=lambda r: r.index)
        answered = [as_stored(r.text) for r in in_order if r.ok]
        counts["unanswered_by_client"] += sum(1 for r in sent if not r.ok)
        counts["empty_replies"] += sum(1 for r in sent if r.ok and not r.replies
                                       and r.text not in silent)
        counts["lost"] += sum((Counter(answered) - Counter(stored_texts)).values())
        counts["duplicated"] += sum(
            (Counter(stored_texts) - Counter(as_stored(r.text) for r in in_order)).values())
        stored_keys, answered_keys = occurrences(stored_texts), occurrences(answered)
        first_seen = [k for k in stored_keys if k in answered_keys]
        expected = [k for k in answered_keys if k in stored_keys]
        counts["reordered"] += sum(1 for a, b in zip(first_seen, expected) if a != b)
        timestamps = [e.get("timestamp") or 0 for e in events]
        counts["events_out_of_time_order"] += sum(1 for a, b in zip(timestamps, timestamps[1:]) if b < a)
        key = "turns_without_reply_after_outage" if sender in apologised else "turns_without_reply"
        counts[key] += len(turns_left_silent(events, stored_silent))
        stored_keys = [event_key(e) for e in events]
        published_keys = [event_key(e) for e in published.get(sender, [])]
        counts["missing_from_broker"] += len(set(stored_keys) - set(published_keys))
        counts["duplicated_in_broker"] += len(published_keys) - len(set(published_keys))
        counts["broker_events_not_stored"] += len(set(published_keys) - set(stored_keys))
    return counts


@dataclass
class Reference:
    """What the healthy stack answers, one conversation per story, before any load or fault:
    turns it leaves without a reply (the demo model's own behaviour, not a fault's)."""

    empty_texts: set
    empty_probe_stories: set


def story_of(sender: Text, stories: int) -> int:
    return int(sender.rsplit("-", 1)[1]) % stories


async def reference_pass(url: Text, run_id: Text, clients: int) -> Reference:
    conversations = user_turns()
    load = Load(url, f"ref-{run_id}", clients)
    queue = list(enumerate(conversations))

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            n, turns = queue.pop()
            sender = f"ref-{run_id}-0-{n}"
            await load.conversation(session, sender, turns + [PROBE_TEXT])

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    empty = [r for r in load.replies if r.ok and not r.replies]
    return Reference({r.text for r in empty if r.text != PROBE_TEXT},
                     {story_of(r.sender, len(conversations)) for r in empty if r.text == PROBE_TEXT})


def missing_by_phase(stored: Dict[Text, List[Dict]], published: Dict[Text, List[Dict]],
                     faults: List[Fault]) -> Dict[Text, int]:
    """Events in PostgreSQL but not in the broker, by the fault window their timestamp falls in."""
    counts: Dict[Text, int] = {}
    for sender, events in stored.items():
        sent = {event_key(e) for e in published.get(sender, [])}
        for event in events:
            if event_key(event) in sent:
                continue
            at, phase = event.get("timestamp") or 0, "steady"
            for fault in faults:
                if at >= fault.wall_started:
                    phase = f"{fault.name}: down" if at < fault.wall_restored else f"after {fault.name}"
            counts[phase] = counts.get(phase, 0) + 1
    return counts


async def continue_every_conversation(url: Text, senders: List[Text], clients: int, send_ids: bool,
                                      reference: Reference, apologised: Set[Text]) -> List[Dict[Text, Any]]:
    """One more message in each conversation (the probe); those that got no answer, or none
    where the healthy stack answered the same story's probe. A conversation in `apologised` went
    on without one of its actions (the action server was down), so its state is no longer the
    healthy stack's: its probe must be answered, but may be answered by silence (a form left
    half-validated can ignore it), as it would be without any fault from that state."""
    probe = Load(url, "probe", clients, send_ids)
    queue = list(senders)

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            sender = queue.pop()
            reply = Reply(sender, 10 ** 6, f"{sender}-probe", PROBE_TEXT, "probe", time.monotonic())
            probe.replies.append(await probe.send(session, reply))

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    stories = len(user_turns())
    return [{"sender": r.sender, "errors": r.errors[-3:], "replies": r.replies} for r in probe.replies
            if not r.ok or (not r.replies and r.sender not in apologised
                            and story_of(r.sender, stories) not in reference.empty_probe_stories)]


def turns_of(load: Load, sender: Text) -> List[Dict[Text, Any]]:
    """What one conversation sent and got back, in order (for a report's samples)."""
    return [{"text": r.text, "phase": r.phase, "ok": r.ok, "errors": r.errors[-3:],
             "replies": [m.get("text") for m in r.replies]}
            for r in sorted((r for r in load.replies if r.sender == sender), key=lambda r: r.index)]


def stock_credentials(workdir: Path) -> Path:
    """Rasa's own REST channel only: the baseline."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "credentials.stock.yml"
    path.write_text("rest:\n")
    return path


async def warm_up(cluster: Cluster) -> None:
    """One message per replica, straight to it: the first message pays for TensorFlow's tracing."""
    async with aiohttp.ClientSession() as session:
        for i in range(len(cluster.replicas)):
            async with session.post(f"{cluster.replica_url(i)}/webhooks/rest/webhook",
                                    json={"sender": f"warmup-{uuid.uuid4().hex[:8]}", "message": "hi"},
                                    timeout=aiohttp.ClientTimeout(total=300)) as response:
                await response.read()


def settings_for(model: Path, workdir: Path, postgres: PrivatePostgres, redis_server: PrivateRedis,
                 replicas: int, run_id: Text, credentials: Optional[Path] = None) -> Settings:
    settings = Settings(
        model=model, workdir=workdir, replicas=replicas, postgres_port=postgres.port,
        redis_port=redis_server.port, redis_db=3, lock_key_prefix=f"ft{run_id}",
        tracker_db=f"ft_trackers_{run_id}", orders_db=f"ft_orders_{run_id}",
        exchange=f"rapport-ft-{run_id}", queue=f"rapport-ft-{run_id}",
    )
    if credentials:
        settings.credentials = credentials
    return settings


@dataclass
class Stack:
    """A running cluster on its private PostgreSQL and Redis."""

    cluster: Cluster
    postgres: PrivatePostgres
    redis: PrivateRedis
    run_id: Text

    def stop(self) -> None:
        self.cluster.stop()
        self.redis.stop()
        self.postgres.stop()


def start_stack(model: Path, workdir: Path, replicas: int, credentials: Optional[Path] = None) -> Stack:
    """Private PostgreSQL and Redis, then the cluster on them, warmed up."""
    run_id = uuid.uuid4().hex[:8]
    postgres, redis_server = PrivatePostgres(), PrivateRedis(workdir / "redis")
    postgres.start()
    redis_server.start()
    cluster = Cluster(settings_for(model, workdir, postgres, redis_server, replicas, run_id, credentials))
    try:
        cluster.start()
        asyncio.run(warm_up(cluster))
    except BaseException:
        cluster.stop()
        redis_server.stop()
        postgres.stop()
        raise
    return Stack(cluster, postgres, redis_server, run_id)


DEFAULT_FAULTS = ["replica kill -9", "action server kill -9", "PostgreSQL restart", "Redis restart"]


def run_faults(stack: Stack, messages: int, clients: int = 16, faults: Optional[List[Fault]] = None,
               steady: int = 0, after: int = 0, stock: bool = False,
               show_progress: bool = True) -> Dict[Text, Any]:
    """Load with faults on a running stack, then read everything back; returns the report."""
    cluster, settings = stack.cluster, stack.cluster.s
    faults = faults if faults is not None else faults_for(cluster, stack.postgres, stack.redis, DEFAULT_FAULTS)
    steady = steady or max(clients * 2, messages // (2 * (len(faults) + 1)))
    after = after or max(clients * 2, messages // (2 * (len(faults) + 1)))
    reference = asyncio.run(reference_pass(cluster.url, stack.run_id, clients))
    load = Load(cluster.url, stack.run_id, clients, send_ids=True)
    faults_done = threading.Event()
    load.progress = tqdm(total=messages, desc=("stock " if stock else "") + "messages",
                         disable=not show_progress, file=sys.stderr)

    def send_load() -> None:
        try:
            asyncio.run(load.run(user_turns(), messages, keep_going=lambda: not faults_done.is_set()))
        finally:
            load.finished.set()

    started = time.monotonic()
    sender = threading.Thread(target=send_load, name="load")
    sender.start()
    try:
        inject_faults(load, faults, steady, after)
    finally:
        faults_done.set()
        sender.join()
    elapsed = time.monotonic() - started
    load.progress.close()
    senders = sorted({r.sender for r in load.replies})
    prefix = f"ft-{stack.run_id}-"
    time.sleep(2)  # let the replicas' broker connections publish what they hold
    stored = tracker_events(postgres_url(settings, settings.tracker_db), prefix)
    probe_started = time.time()
    apologised = load.apologised_senders()
    not_continued = asyncio.run(
        continue_every_conversation(cluster.url, senders, clients, True, reference, apologised))
    time.sleep(2)
    published = {sender: [e for e in events if (e.get("timestamp") or 0) < probe_started]
                 for sender, events in asyncio.run(broker_events(settings, prefix)).items()}
    return {
        "channel": "Rasa's rest (stock)" if stock else "channels.idempotent_rest (Rapport)",
        "replicas": len(cluster.replicas), "clients": clients, "messages": len(load.replies),
        "conversations": len(senders), "seconds": round(elapsed, 1),
        "throughput_msg_s": round(len(load.replies) / elapsed, 2),
        "faults": [f.name for f in faults],
        "integrity": integrity(load, stored, published, reference),
        "reference_turns_without_reply": sorted(reference.empty_texts),
        "silent_turn_samples": silent_turn_samples(load, stored, reference),
        "conversations_not_continued": len(not_continued),
        "not_continued_samples": [{**sample, "turns": turns_of(load, sample["sender"])}
                                  for sample in not_continued[:5]],
        "missing_from_broker_by_phase": missing_by_phase(stored, published, faults),
        "missing_from_broker_samples": [
            {"sender": sender, "event": e.get("event"), "timestamp": e.get("timestamp"), "text": e.get("text")}
            for sender, events in stored.items()
            for e in events if event_key(e) not in {event_key(p) for p in published.get(sender, [])}][:12],
        "silent_texts_when_healthy": sorted(healthy_silent_texts(load)),
        "empty_reply_samples": [{"sender": r.sender, "text": r.text, "phase": r.phase, "attempts": r.attempts}
                                for r in load.replies if r.ok and not r.replies][:10],
        "phases": phase_table(load.replies),
        "recovery": [recovery(load, f) for f in faults],
    }


def fault_run(model: Path, workdir: Path, messages: int, clients: int = 16, replicas: int = 2,
              stock: bool = False, steady: int = 0, after: int = 0) -> Dict[Text, Any]:
    """One fault-tolerance run on a fresh stack (all four faults)."""
    stack = start_stack(model, workdir, replicas, stock_credentials(workdir) if stock else None)
    try:
        return run_faults(stack, messages, clients, steady=steady, after=after, stock=stock)
    finally:
        stack.stop()


def cpu_seconds(pids: List[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            continue
    return total / 100.0  # USER_HZ


def throughput_run(model: Path, workdir: Path, replicas: int, messages: int, clients: int = 16,
                   show_progress: bool = True) -> Dict[Text, Any]:
    """No faults: messages per second and CPU seconds per process kind over the measured window."""
    stack = start_stack(model, workdir, replicas)
    cluster, postgres, run_id = stack.cluster, stack.postgres, stack.run_id
    try:
        kinds = {
            "replicas": lambda: [p for r in cluster.replicas for p in group_members(r.pid)],
            "action_server": lambda: [p for a in cluster.action_servers for p in group_members(a.pid)],
            "haproxy": lambda: group_members(cluster.balancer.pid),
            "postgresql": lambda: group_members(postgres.server.pid),
        }
        before = {k: cpu_seconds(f()) for k, f in kinds.items()}
        load = Load(cluster.url, run_id, clients)
        load.progress = tqdm(total=messages, desc=f"{replicas} replica(s)", disable=not show_progress,
                             file=sys.stderr)
        started = time.monotonic()
        asyncio.run(load.run(user_turns(), messages))
        elapsed = time.monotonic() - started
        load.progress.close()
        cpu = {k: round(cpu_seconds(f()) - before[k], 1) for k, f in kinds.items()}
        latencies = [r.latency * 1000 for r in load.replies if r.ok]
        done = len(load.replies)
        return {
            "replicas": replicas, "messages": done, "seconds": round(elapsed, 1),
            "throughput_msg_s": round(done / elapsed, 2),
            "p50_ms": round(percentile(latencies, 50)), "p95_ms": round(percentile(latencies, 95)),
            "cpu_s": cpu,
            "replica_cpu_ms_per_msg": round(1000 * cpu["replicas"] / done, 1),
            "other_cpu_ms_per_msg": round(1000 * (cpu["action_server"] + cpu["haproxy"] + cpu["postgresql"]) / done, 1),
            "unanswered": sum(1 for r in load.replies if not r.ok),
        }
    finally:
        stack.stop()


def markdown(report: Dict[Text, Any]) -> Text:
    lines = []
    for run in report.get("fault_runs", []):
        lines += [f"### {run['channel']}: {run['replicas']} replicas, {run['clients']} clients, "
                  f"{run['messages']} messages in {run['conversations']} conversations, {run['seconds']} s", "",
                  "| check | count |", "|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in run["integrity"].items()]
        lines += [f"| conversations that could not continue | {run['conversations_not_continued']} |", ""]
        lines += ["| phase | messages | p50 ms | p95 ms | p99 ms | retried | failed attempts | unanswered | apologies |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {p['phase']} | {p['messages']} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | "
                  f"{p['retried']} | {p['failed_attempts']} | {p['unanswered']} | {p['apologies']} |"
                  for p in run["phases"]]
        lines += ["", "| fault | process back after s | every conversation answered again after s | slowest apology s |",
                  "|---|---|---|---|"]
        lines += [f"| {r['fault']} | {r['process_back_s']} | {r['all_conversations_answered_s']} | "
                  f"{r['slowest_apology_s'] if r['slowest_apology_s'] is not None else '-'} |" for r in run["recovery"]]
        lines.append("")
    if report.get("throughput"):
        lines += ["| replicas | messages | msg/s | p50 ms | p95 ms | replica CPU ms/msg | other CPU ms/msg (actions, HAProxy, PostgreSQL) |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {t['replicas']} | {t['messages']} | {t['throughput_msg_s']} | {t['p50_ms']} | {t['p95_ms']} | "
                  f"{t['replica_cpu_ms_per_msg']} | {t['other_cpu_ms_per_msg']} |" for t in report["throughput"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "rapport.tar.gz")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--stock", action="store_true", help="also run the scenario with Rasa's own REST channel")
    parser.add_argument("--stock-messages", type=int, default=1000)
    parser.add_argument("--throughput", action="store_true", help="also measure 1, 2 and 4 replicas")
    parser.add_argument("--throughput-messages", type=int, default=600)
    parser.add_argument("--parts", default="faults", help="comma-separated: faults (always with Rapport's "
                        "channel), and with --stock/--throughput those; e.g. --parts none --throughput")
    parser.add_argument("--out", type=Path, default=RESULTS / "fault_tolerance")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report: Dict[Text, Any] = {"command": " ".join(sys.argv), "fault_runs": [], "throughput": [],
                               "complete": False}

    def save() -> None:
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
        args.out.with_suffix(".md").write_text(
            ("" if report["complete"] else "**Cut short: not every part ran.**\n\n") + markdown(report))

    with tempfile.TemporaryDirectory(prefix="fault-tolerance-") as work:
        work = Path(work)
        if "faults" in args.parts.split(","):
            report["fault_runs"].append(fault_run(args.model.resolve(), work / "rapport", args.messages,
                                                  args.clients))
            save()
        if args.stock:
            report["fault_runs"].append(fault_run(args.model.resolve(), work / "stock", args.stock_messages,
                                                  args.clients, stock=True))
            save()
        if args.throughput:
            for replicas in (1, 2, 4):
                report["throughput"].append(throughput_run(args.model.resolve(), work / f"tp{replicas}",
                                                           replicas, args.throughput_messages, args.clients))
                save()
    report["complete"] = True
    save()
    print(markdown(report))


if __name__ == "__main__":
    main()
