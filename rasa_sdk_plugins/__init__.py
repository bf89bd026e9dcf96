"""Action-server plugin: accept action calls only from the assistant, when a token is configured.

rasa_sdk 3.6 looks for an importable package named ``rasa_sdk_plugins`` when the action server
starts (``rasa run actions``, from the project root) and calls its ``init_hooks``; our hook adds
a Sanic request middleware. With ``RAPPORT_ACTION_SERVER_TOKEN`` set, every request except
``GET /health`` must carry ``Authorization: Bearer <token>``, which Rasa sends when
``endpoints.yml`` says so (see docs/deploy.md)::

    action_endpoint:
      url: "http://actions:5055/webhook"
      headers:
        Authorization: Bearer ${RAPPORT_ACTION_SERVER_TOKEN}   # unquoted: Rasa expands ${...} only in plain scalars

Without the variable the server stays open, as stock rasa_sdk is (local development).
A header rather than Rasa's ``token:`` option, which puts the secret in the URL and in logs.
"""
import hmac
import logging
import os
import sys
from typing import Awaitable, Callable, Optional, Text

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_sdk_plugins.request_checks import check_action_call

TOKEN_ENV = "RAPPORT_ACTION_SERVER_TOKEN"
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")

Middleware = Callable[[Request], Awaitable[Optional[HTTPResponse]]]


def token_is_valid(authorization: Optional[Text], token: Text) -> bool:
    """True when the header is exactly ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


def require_token(token: Text) -> Middleware:
    """A request middleware that answers 401 to every call without the right bearer token."""

    async def check_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        if token_is_valid(request.headers.get("authorization"), token):
            return None
        logger.warning(
            "Refused %s %s from %s: missing or wrong bearer token.",
            request.method, request.path, request.ip,
        )
        return response.json({"error": "missing or wrong bearer token"}, status=401)

    return check_token


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        logger.info("%s is not set: the action server accepts calls from anyone.", TOKEN_ENV)
    else:
        app.register_middleware(require_token(token), "request")
        logger.info("Action server accepts calls only with the bearer token from %s.", TOKEN_ENV)
    # After the token check: a caller without the token learns nothing about the body format.
    app.register_middleware(check_action_call, "request")


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by rasa_sdk's plugin discovery: the token check, and /metrics (metrics.py)."""
    from rasa_sdk_plugins import metrics

    manager.register(sys.modules[__name__])
    manager.register(metrics)
