"""Prometheus metrics for `rasa run`, through Rasa's input-channel extension point.

Name it in credentials.yml (``channels.metrics.MetricsInput:``) and `rasa run` serves
``GET /metrics`` (Prometheus text format). Rasa builds every channel's blueprint before the
server starts; this one brings a ``before_server_start`` listener that adds a Sanic request
and response middleware to the whole app (requests and latency per channel), and an
``after_server_start`` one that instruments the agent's MessageProcessor once the model is
loaded (NLU confidence, intents, emotions, fallbacks, handoffs, actions, model version). A model
swapped in through the HTTP API is instrumented on the next request.

Labels are bounded: channel names, the domain's intents and actions, the emotion labels; never
a conversation id or text.
"""
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import rasa
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response

from components.shared.contracts import emotion_of
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

HANDOFF_ACTIONS = frozenset({"action_handoff"})
NLU_FALLBACK_INTENT = "nlu_fallback"
CORE_FALLBACK_ACTION = "action_default_fallback"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("rasa_http_requests_total", "HTTP requests answered by rasa run",
                   ["channel", "method", "status"])
LATENCY = Histogram("rasa_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["channel"], buckets=LATENCY_BUCKETS)
MESSAGES = Counter("rasa_user_messages_total", "User messages handled", ["channel"])
INTENTS = Counter("rasa_intents_total", "User messages by predicted intent", ["intent"])
CONFIDENCE = Histogram("rasa_nlu_intent_confidence", "Confidence of the predicted intent",
                       buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0))
EMOTIONS = Counter("rasa_emotions_total", "User messages by detected emotion", ["emotion"])
FALLBACKS = Counter("rasa_fallbacks_total", "Fallbacks: nlu (intent nlu_fallback) or core "
                    "(action_default_fallback)", ["kind"])
HANDOFFS = Counter("rasa_handoffs_total", "Conversations handed to a human")
ACTIONS = Counter("rasa_actions_total", "Actions run", ["action"])
MODEL = Gauge("rasa_model_info", "The loaded model (value 1)", ["model_id", "rasa_version"])


def channel_of(path: Text) -> Text:
    """The channel a request path belongs to: /webhooks/<name>/..., socket.io, or the API."""
    parts = path.strip("/").split("/")
    if parts[0] == "webhooks" and len(parts) > 1 and parts[1]:
        return parts[1][:50]
    if parts[0] == "socket.io":
        return "socketio"
    if parts[0] == "metrics":
        return "metrics"
    return "api"


def _name(entry: Any) -> Optional[Text]:
    return entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None


def observe_parse(parse_data: Dict[Text, Any], channel: Optional[Text]) -> None:
    MESSAGES.labels(channel or "unknown").inc()
    intent = parse_data.get("intent") or {}
    name = _name(intent)
    if name:
        INTENTS.labels(name).inc()
        if name == NLU_FALLBACK_INTENT:
            FALLBACKS.labels("nlu").inc()
    confidence = intent.get("confidence") if isinstance(intent, dict) else None
    if isinstance(confidence, (int, float)):
        CONFIDENCE.observe(float(confidence))
    emotion = emotion_of(parse_data)
    if emotion:
        EMOTIONS.labels(emotion).inc()


def observe_action(name: Text) -> None:
    ACTIONS.labels(name).inc()
    if name in HANDOFF_ACTIONS:
        HANDOFFS.inc()
    elif name == CORE_FALLBACK_ACTION:
        FALLBACKS.labels("core").inc()


def instrument(processor: Any) -> None:
    """Wrap the processor's parse_message and _run_action (once per processor)."""
    if processor is None or getattr(processor, "_rapport_metrics", False):
        return
    parse_message, run_action = processor.parse_message, processor._run_action

    async def counted_parse(message: UserMessage, tracker=None, only_output_properties=True):
        parse_data = await parse_message(message, tracker, only_output_properties)
        if tracker is not None:  # a conversation turn, not a /model/parse call
            try:
                observe_parse(parse_data, message.input_channel)
            except Exception:  # metrics never break a conversation
                logger.exception("Could not count a parsed message")
        return parse_data

    async def counted_action(action, *args, **kwargs):
        try:
            observe_action(action.name())
        except Exception:
            logger.exception("Could not count an action")
        return await run_action(action, *args, **kwargs)

    processor.parse_message = counted_parse
    processor._run_action = counted_action
    processor._rapport_metrics = True
    metadata = getattr(processor, "model_metadata", None)
    MODEL.clear()
    MODEL.labels(getattr(metadata, "model_id", "unknown") or "unknown", rasa.__version__).set(1)


def _agent_processor(app: Sanic) -> Any:
    agent = getattr(app.ctx, "agent", None)
    return getattr(agent, "processor", None)


def middlewares(app: Sanic) -> Dict[Text, Callable[[Request], Awaitable[None]]]:
    async def started(request: Request) -> None:
        request.ctx.rapport_started = time.perf_counter()
        instrument(_agent_processor(app))  # a model loaded later through the API

    async def answered(request: Request, reply: HTTPResponse) -> None:
        begun = getattr(request.ctx, "rapport_started", None)
        channel = channel_of(request.path)
        if begun is not None:
            LATENCY.labels(channel).observe(time.perf_counter() - begun)
        REQUESTS.labels(channel, request.method, str(getattr(reply, "status", 0))).inc()

    return {"request": started, "response": answered}


class MetricsInput(InputChannel):
    """Not a chat channel: serves /metrics and hooks the app's middleware and processor."""

    @classmethod
    def name(cls) -> Text:
        return "metrics"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def url_prefix(self) -> Text:
        return "/metrics"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        metrics_blueprint = Blueprint("rapport_metrics", __name__)

        @metrics_blueprint.listener("before_server_start")
        async def add_middleware(app: Sanic, _loop) -> None:
            for attach_to, middleware in middlewares(app).items():
                app.register_middleware(middleware, attach_to)

        @metrics_blueprint.listener("after_server_start")
        async def instrument_agent(app: Sanic, _loop) -> None:
            instrument(_agent_processor(app))

        @metrics_blueprint.route("", methods=["GET"])
        async def metrics(_request: Request) -> HTTPResponse:
            return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)

        return metrics_blueprint
