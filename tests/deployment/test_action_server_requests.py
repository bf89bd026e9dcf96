"""rasa_sdk_plugins/request_checks.py: what the action server refuses before rasa_sdk reads it
(rasa_sdk answered 500 to a JSON list and logged a traceback for invalid JSON)."""
import json
from typing import Optional

import pytest

from rasa_sdk_plugins.request_checks import problem_with
from tests.deployment.test_security import order_status_call


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"{}", "`next_action`"),
        (b'{"next_action": 5}', "`next_action`"),
        (b'{"next_action": "action_order_status", "tracker": []}', "`tracker` must be an object"),
        (b'{"next_action": "action_order_status", "domain": "x"}', "`domain` must be an object"),
        (b'{"next_action": "x", "tracker": {"events": [[1], "slot"]}}', "every tracker event"),
        (b'{"next_action": "x", "tracker": {"events": [{"event": "slot"}]}}', "slot event"),
        (b'{"next_action": "x", "tracker": {"events": {}}}', "must be a list"),
        (b'{"next_action": "x", "tracker": {"slots": []}}', "`tracker.slots`"),
    ],
)
def test_malformed_action_calls_are_refused(body: bytes, problem: Optional[str]) -> None:
    assert problem in problem_with(body)


def test_a_real_action_call_passes() -> None:
    assert problem_with(json.dumps(order_status_call()).encode()) is None
