"""Refuse action calls that cannot be one, before rasa_sdk's webhook reads them.

rasa_sdk 3.6 answers a body that is not JSON with 400 but logs a traceback at ERROR, and a JSON
body that is not an object (a list, a string) with an HTTP 500 (`'list' object has no attribute
'get'`); the fuzz run (bench/fuzz.py) found both. This middleware answers 400 with what is wrong
and logs one line at WARNING: the body must be a JSON object with `next_action` as text and,
when present, `tracker` and `domain` as objects, the tracker's slots and latest message objects,
and its events objects with an `event` type (slot events with a `name`).
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
    return _problem_with_tracker(call.get("tracker") or {})


def _problem_with_tracker(tracker: Any) -> Optional[Text]:
    """rasa_sdk reads these without checking (a form's validation indexes every event by
    "event" and slot events by "name")."""
    for key in ("slots", "latest_message"):
        if tracker.get(key) is not None and not isinstance(tracker[key], dict):
            return f"`tracker.{key}` must be an object"
    events = tracker.get("events")
    if events is None:
        return None
    if not isinstance(events, list):
        return "`tracker.events` must be a list"
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            return "every tracker event must be an object with an `event` type"
        if event["event"] == "slot" and not isinstance(event.get("name"), str):
            return "every slot event must name its slot"
    return None


async def check_action_call(request: Request) -> Optional[HTTPResponse]:
    if request.method != "POST" or request.path != WEBHOOK_PATH:
        return None
    problem = problem_with(request.body or b"")
    if problem is None:
        return None
    logger.warning("Refused an action call from %s: %s.", request.ip, problem)
    return response.json({"error": problem}, status=400)
