"""A conversation with a card number, an e-mail address and a phone number, through the real
REST channel, tracker store (SQLite file), RabbitMQ queue and logs: none of them is kept
anywhere, and the order lookup in the same conversation still answers."""
import json
import re
import urllib.parse
import uuid
from typing import Any, List, Text

import requests

from tests.integration.hostile.conftest import GuardedAssistant

# Not in the fuzz corpus (tests/fuzz/inputs.py), whose conversations share this database.
CARD = "5555 5555 5555 4444"
EMAIL = "maria.lopez@example.org"
PHONE = "+49 30 9018 2733"
# Every digit sequence of the card (whole, grouped, and each group of four), the e-mail's parts,
# the phone number's digits.
FORBIDDEN = [
    "5555555555554444", "5555 5555", "5555 4444", "5555-5555", "maria.lopez", "example.org",
    "49309018", "9018 2733",
]


def say(assistant: GuardedAssistant, sender: Text, text: Text) -> List[Any]:
    reply = requests.post(
        f"{assistant.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=300
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def leaks(text: Text) -> List[Text]:
    found = [secret for secret in FORBIDDEN if secret in text]
    # A four-digit group of the card or the phone alone, not part of a longer token (a
    # timestamp such as 1796052733.1 holds "2733" by chance: regression, CI 2026-11-30).
    for group in ("5555", "4444", "9018", "2733"):
        if re.search(rf"(?<![0-9A-Za-z]){group}(?![0-9A-Za-z])", text):
            found.append(group)
    return found


def test_card_email_and_phone_are_stored_published_and_logged_masked(
    guarded_assistant: GuardedAssistant,
) -> None:
    assistant, sender = guarded_assistant, f"privacy-{uuid.uuid4().hex[:8]}"
    replies = say(assistant, sender, f"where is my order A1001? I paid with my card {CARD}")
    answer = " ".join(r.get("text", "") for r in replies)
    assert "A1001" in answer and "shipped" in answer.lower(), answer
    say(assistant, sender, f"you can email me at {EMAIL} or call {PHONE}")

    api = requests.get(
        f"{assistant.url}/conversations/{urllib.parse.quote(sender)}/tracker", timeout=60
    ).json()
    stored_texts = [e.get("text") for e in api["events"] if e["event"] == "user"]
    assert len(stored_texts) == 2 and "[CARD]" in stored_texts[0]
    assert "[EMAIL]" in stored_texts[1] and "[PHONE]" in stored_texts[1]
    assert "A1001" in stored_texts[0]  # an order id is not personal data

    database = assistant.tracker_db.read_bytes().decode("utf-8", errors="replace")
    assert sender in database
    # The REST channel answered only once RabbitMQ had confirmed the turn's events: no waiting.
    bodies = [body.decode("utf-8", errors="replace") for body in assistant.published_events()]
    assert [json.loads(b)["event"] for b in bodies if sender in b].count("user") == 2
    published = "\n".join(bodies)
    logs = assistant.rasa_log.read_text(errors="replace") + assistant.actions_log.read_text(errors="replace")
    for where, content in [("HTTP API tracker", json.dumps(api)), ("tracker database", database),
                           ("RabbitMQ queue", published), ("logs", logs)]:
        assert leaks(content) == [], f"{where} holds {leaks(content)}"

