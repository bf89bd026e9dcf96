"""The message-length limit on Rasa's HTTP API, where the API parses text.

`POST /model/parse` and `POST /conversations/<id>/messages` run the text they are given through
the whole NLU pipeline, and Rasa 3.6 sets no limit on its length: a 1 MB text is tokenized,
featurized and classified for seconds of CPU (the /messages one is then stored, too). Rasa has no
setting for it, and Sanic's only knob, the request size (`SANIC_REQUEST_MAX_SIZE`), holds for
every route, including the model upload and training routes, whose bodies are big by nature.

So the REST channel (channels/rest.py) installs `refuse_long_text` as a Sanic request middleware
on the whole app when the server starts (as channels/metrics.py does), with the channel's own
`max_message_chars`: one limit for every way a text reaches the model. A longer text gets 413 in
Rasa's API error format, saying the length and the limit. The check runs before the route's
authentication (it costs less than the token check and tells nothing but the documented limit).
"""
import re
from typing import Any, Awaitable, Callable, Optional

import rasa
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

# The API routes that parse their `text` (rasa/server.py); a conversation id may contain "/".
PARSING_ROUTES = re.compile(r"^/(model/parse|conversations/.+/messages)/?$")


def text_of(body: Any) -> Optional[str]:
    """The text Rasa would parse from this body (its emulators take the first of a list)."""
    if not isinstance(body, dict):
        return None
    text = body.get("text")
    if isinstance(text, list) and text:
        text = text[0]
    return text if isinstance(text, str) else None


def too_long(request: Request, max_chars: int) -> Optional[HTTPResponse]:
    """413 for a parsing route's text over `max_chars` characters; None for anything else
    (other routes, malformed bodies: Rasa answers those itself)."""
    if request.method != "POST" or not PARSING_ROUTES.match(request.path):
        return None
    try:
        text = text_of(request.json)
    except Exception:  # invalid JSON: Rasa's route says so
        return None
    if text is None or len(text) <= max_chars:
        return None
    return response.json(
        {
            "version": rasa.__version__,
            "status": "failure",
            "message": f"The text is too long ({len(text)} characters); the limit is "
                       f"{max_chars} characters.",
            "reason": "MessageTooLong",
            "details": {"parameter": "text", "in": "body", "length": len(text), "limit": max_chars},
            "help": None,
            "code": 413,
        },
        status=413,
    )


def refuse_long_text(max_chars: int) -> Callable[[Request], Awaitable[Optional[HTTPResponse]]]:
    """The request middleware: a response ends the request before its route runs."""

    async def middleware(request: Request) -> Optional[HTTPResponse]:
        return too_long(request, max_chars)

    return middleware
