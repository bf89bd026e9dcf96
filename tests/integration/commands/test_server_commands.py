"""`rasa run --enable-api` (the session's running assistant) and `rasa export` to RabbitMQ."""
import json
import uuid
from pathlib import Path

from tests.integration.commands.conftest import endpoints_file, rasa_env
from tests.integration.conftest import RASA, RunningAssistant, run
from tests.integration.test_assistant import get_json, post_json, say


def test_rasa_run_http_api_serves_rapports_parse_data(running_assistant: RunningAssistant) -> None:
    status = get_json(f"{running_assistant.url}/status")
    assert status["model_file"].endswith(".tar.gz") and status["model_id"]

    parse = post_json(f"{running_assistant.url}/model/parse",
                      {"text": "wheres my ordr A1001?? I'm so fed up"})
    assert parse["intent"]["name"] == "check_order_status"
    assert any(c["from"] == "ordr" and c["to"] == "order" for c in parse["noise_filter"]["corrections"])
    assert parse["emotion"]["name"] == parse["emotion_ranking"][0]["name"]
    assert [e["value"] for e in parse["entities"] if e["entity"] == "order_id"] == ["A1001"]

    sender = f"api-{uuid.uuid4().hex[:8]}"
    assert say(running_assistant, sender, "hi there")
    tracker = get_json(f"{running_assistant.url}/conversations/{sender}/tracker")
    assert tracker["slots"]["emotion"] == tracker["latest_message"]["emotion"]["name"]
    predicted = [e for e in tracker["events"] if e["event"] == "action" and e.get("policy")]
    assert predicted, tracker["events"]


def test_rasa_export_publishes_the_conversation_to_rabbitmq(
    running_assistant: RunningAssistant, tmp_path: Path
) -> None:
    """Events kept by the SQL tracker store, Rapport's parse data included, reach a queue of
    the machine's RabbitMQ through Rasa's pika event broker."""
    import pika

    sender = f"export-{uuid.uuid4().hex[:8]}"
    say(running_assistant, sender, "wheres my ordr A1001??")
    queue = f"rapport-drop-in-export-{uuid.uuid4().hex[:8]}"
    endpoints = endpoints_file(
        tmp_path,
        tracker_store={"type": "SQL", "dialect": "sqlite", "db": str(running_assistant.tracker_db)},
        # Rasa's pika broker, sending before it closes (brokers/pika.py: Rasa's own loses
        # `rasa export`'s events), on an exchange of its own: Rasa's default one fans out to
        # every queue bound to it on this RabbitMQ, other test runs' included
        event_broker={"type": "brokers.pika.FlushingPikaEventBroker", "url": "127.0.0.1",
                      "port": 5672, "username": "guest", "password": "guest",
                      "queues": [queue], "exchange_name": queue},
    )
    connection = pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest")))
    channel = connection.channel()
    try:
        channel.queue_declare(queue, durable=True)
        output = run([RASA, "export", "--endpoints", str(endpoints),
                      "--conversation-ids", sender], env=rasa_env())
        assert "Done! Successfully published" in output, output[-3000:]
        events = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            events.append(json.loads(body))
        assert {e["sender_id"] for e in events} == {sender}
        [user] = [e for e in events if e["event"] == "user"]
        assert user["text"] == "wheres my ordr A1001??"
        assert user["parse_data"]["emotion"]["name"]
        assert user["parse_data"]["noise_filter"]["corrections"]
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(queue)
        connection.close()
