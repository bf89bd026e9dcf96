"""The analytics process: one source loop, the alert notifier and the web server, on one
asyncio loop; SQL work runs in a worker thread so the dashboard stays responsive."""
import asyncio
import logging
import threading
from typing import Optional

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from analytics import notifier
from analytics.aggregator import Aggregator, BatchResult
from analytics.schema import make_engine
from analytics.settings import Settings
from analytics.sources import BrokerSource, TrackerStoreSource
from analytics.web import make_app

logger = logging.getLogger(__name__)
NOTIFY_EVERY_SECONDS = 1.0


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.aggregator = Aggregator(self.engine, settings)
        self.registry = CollectorRegistry()
        self.events = Counter("rapport_analytics_events_total",
                              "Events counted into the aggregates", registry=self.registry)
        self.duplicates = Counter("rapport_analytics_duplicates_total",
                                  "Redelivered broker messages skipped", registry=self.registry)
        self.alerts = Counter("rapport_analytics_alerts_total", "Alerts raised",
                              registry=self.registry)
        self.stop = asyncio.Event()
        self._alerts_waiting = asyncio.Event()
        self.port: Optional[int] = None
        self.source = (
            BrokerSource(settings.broker, self.aggregator, settings.batch_size) if settings.broker
            else TrackerStoreSource(settings.tracker_store_url, self.aggregator,
                                    settings.batch_size))

    def _on_batch(self, result: BatchResult) -> None:
        self.events.inc(result.counted)
        self.duplicates.inc(result.duplicates)
        if result.alerts:
            self.alerts.inc(len(result.alerts))
            self._alerts_waiting.set()

    async def _consume(self) -> None:
        if isinstance(self.source, BrokerSource):
            loop = asyncio.get_running_loop()
            stopping = threading.Event()

            def on_batch(result: BatchResult) -> None:
                loop.call_soon_threadsafe(self._on_batch, result)

            try:
                await asyncio.to_thread(self.source.run, on_batch, stopping)
            finally:
                stopping.set()  # also when cancelled: the consumer thread ends within 50 ms
        else:
            await self.source.run(self.settings.poll_seconds, self._on_batch, self.stop)

    async def _notify(self) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self._alerts_waiting.wait(), NOTIFY_EVERY_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._alerts_waiting.clear()
            await asyncio.to_thread(notifier.deliver_pending, self.engine, self.settings)

    async def run(self) -> None:
        runner = web.AppRunner(make_app(self.engine, self.settings, self.registry))
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = runner.addresses[0][1]
        logger.info("Dashboard on http://%s:%s/", self.settings.host, self.port)
        tasks = [asyncio.create_task(self._consume()), asyncio.create_task(self._notify())]
        try:
            done, _ = await asyncio.wait(
                tasks + [asyncio.create_task(self.stop.wait())],
                return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()
