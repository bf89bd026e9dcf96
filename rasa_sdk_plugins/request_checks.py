"""Refuse action calls that cannot be one, before rasa_sdk's webhook reads them.

rasa_sdk 3.6 answers a body that is not JSON with 400 but logs a traceback at ERROR, and a JSON
body that is not an object (a list, a string) with an HTTP 500 (`'list' object has no attribute
'get'`); the fuzz run (bench/fuzz.py) found both. This middleware answers 400 with what is wrong
and logs one line at WARNING: the body must be a JSON object with `next_action` as text and,
when present, `tracker` and `domain` as objects.
"""
import json
import logging
from typing import Any, Optional, Text

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"


def problem_with(body: bytes) -> Optional[Text]:
    """What makes `body` no action call, or None if it can be one."""
    try:
        call: Any = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        return "the body is not valid JSON"
    if not isinstance(call, dict):
        return "the body is not a JSON object"
    if not isinstance(call.get("next_action"), str) or not call["next_action"]:
        return "`next_action` must be the name of an action"
    for key in ("tracker", "domain"):
        if key in call and not isinstance(call[key], dict):
            return f"`{key}` must be an object"
    return None


async def check_action_call(request: Request) -> Optional[HTTPResponse]:
    if request.method != "POST" or request.path != WEBHOOK_PATH:
        return None
    problem = problem_with(request.body or b"")
    if problem is None:
        return None
    logger.warning("Refused an action call from %s: %s.", request.ip, problem)
    return response.json({"error": problem}, status=400)
