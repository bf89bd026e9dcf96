"""``python -m analytics [--config analytics.yml] [--port 8090] ...``: run the service."""
import argparse
import asyncio
import dataclasses
import logging
import signal
from pathlib import Path

from analytics import settings as settings_module
from analytics.service import Service


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("analytics.yml"))
    parser.add_argument("--endpoints", type=Path,
                        help="Rasa's endpoints file: read events from its event_broker (pika) or "
                             "its SQL tracker_store (the environment still wins)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--database-url")
    parser.add_argument("--tracker-store-url")
    parser.add_argument("--rasa-url")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = settings_module.load(args.config, endpoints=args.endpoints)
    overrides = {k: v for k, v in {
        "host": args.host, "port": args.port, "database_url": args.database_url,
        "tracker_store_url": args.tracker_store_url, "rasa_url": args.rasa_url,
    }.items() if v is not None}
    settings = dataclasses.replace(settings, **overrides)

    async def run() -> None:
        service = Service(settings)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, service.stop.set)
        await service.run()

    asyncio.run(run())


if __name__ == "__main__":
    main()
