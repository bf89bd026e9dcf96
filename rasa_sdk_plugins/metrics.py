"""Action-server plugin: Prometheus metrics at ``GET /metrics`` of `rasa run actions`.

Counts every call of ``POST /webhook`` by action and outcome, with its latency. An action name
becomes a label only when the server knew the action (status 200), so a caller cannot blow up
the label set with made-up names. With ``RAPPORT_ACTION_SERVER_TOKEN`` set, /metrics needs the
bearer token like every other path (Prometheus: ``authorization: {credentials: ...}``).
"""
import time
from typing import Optional, Text

import pluggy
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

hookimpl = pluggy.HookimplMarker("rasa_sdk")

CALLS = Counter("rasa_sdk_action_calls_total", "Action server calls by action and HTTP status",
                ["action", "status"])
LATENCY = Histogram("rasa_sdk_action_duration_seconds", "Time to run an action and answer",
                    ["action"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
UNKNOWN = "unknown"


def action_of(request: Request) -> Optional[Text]:
    try:
        body = request.json
    except Exception:  # not JSON: rasa_sdk answers it itself
        return None
    name = body.get("next_action") if isinstance(body, dict) else None
    return name[:100] if isinstance(name, str) and name else None


async def start_clock(request: Request) -> None:
    request.ctx.rapport_started = time.perf_counter()


async def count_call(request: Request, reply: HTTPResponse) -> None:
    if request.path != "/webhook":
        return
    status = getattr(reply, "status", 0)
    action = action_of(request) if status == 200 else None
    label = action or UNKNOWN
    CALLS.labels(label, str(status)).inc()
    begun = getattr(request.ctx, "rapport_started", None)
    if begun is not None:
        LATENCY.labels(label).observe(time.perf_counter() - begun)


async def metrics(_request: Request) -> HTTPResponse:
    return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    app.register_middleware(start_clock, "request")
    app.register_middleware(count_call, "response")
    app.add_route(metrics, "/metrics", methods=["GET"], name="rapport_metrics")
