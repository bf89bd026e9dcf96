"""The dashboard and its JSON API (aiohttp), served by the analytics service.

The transcript endpoint reads the conversation from Rasa's HTTP API with Rasa's token on each
request; analytics keeps no text. The transcript shows what customers wrote: the service binds
127.0.0.1 by default, and with ``dashboard_token`` set (ANALYTICS_DASHBOARD_TOKEN) the page and
its API answer only to ``?token=...`` or ``Authorization: Bearer ...`` (/health and /metrics,
which hold no personal data, stay open for probes and Prometheus).
"""
import hmac
import logging
import urllib.parse
from pathlib import Path
from typing import Text

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from analytics import queries
from analytics.settings import Settings

STATIC = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)


OPEN_PATHS = frozenset({"/health", "/metrics"})


def token_check(token: Text):
    @web.middleware
    async def check(request: web.Request, handler):
        if request.path in OPEN_PATHS or request.path.startswith("/static/"):
            return await handler(request)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            given = request.query.get("token", "")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        return await handler(request)

    return check


def make_app(engine, settings: Settings, registry=None) -> web.Application:
    middlewares = [token_check(settings.dashboard_token)] if settings.dashboard_token else []
    app = web.Application(middlewares=middlewares)

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def overview(request: web.Request) -> web.Response:
        try:
            minutes = int(request.query.get("minutes", 60))
        except ValueError:
            raise web.HTTPBadRequest(text="minutes must be a number")
        data = await _in_thread(queries.overview, engine, minutes)
        return web.json_response(data)

    async def transcript(request: web.Request) -> web.Response:
        sender = request.match_info["sender_id"]
        url = f"{settings.rasa_url.rstrip('/')}/conversations/{urllib.parse.quote(sender, safe='')}/tracker"
        params = {"token": settings.rasa_token} if settings.rasa_token else {}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                async with session.get(url, params=params) as response:
                    if response.status != 200:
                        return web.json_response(
                            {"error": f"Rasa answered {response.status}"}, status=502)
                    tracker = await response.json()
        except (aiohttp.ClientError, OSError) as error:
            logger.warning("Transcript of %s not readable: %s", sender, error)
            return web.json_response({"error": "Rasa is not reachable"}, status=502)
        return web.json_response(queries.transcript(tracker))

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(registry) if registry else generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/api/overview", overview)
    app.router.add_get("/api/conversations/{sender_id}", transcript)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static/", STATIC)
    return app


async def _in_thread(function, *args):
    import asyncio

    return await asyncio.to_thread(function, *args)
