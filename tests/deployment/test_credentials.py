"""credentials.yml opens the channels the web chat and the tests need, and its commented
Telegram and Slack sections are ready to fill: uncommented, with the environment set, Rasa
builds both channels from them."""
import re
from pathlib import Path

import pytest
from rasa.core.channels.rest import RestInput
from rasa.core.channels.slack import SlackInput
from rasa.core.channels.socketio import SocketIOInput
from rasa.core.channels.telegram import TelegramInput
from rasa.core.run import create_http_input_channels
from rasa.shared.utils.io import read_config_file

from channels.rest import LimitedRestInput

REPO = Path(__file__).resolve().parents[2]
CREDENTIALS = REPO / "credentials.yml"


def uncommented(text: str) -> str:
    """The file as a deployer would edit it: the Telegram and Slack sections switched on."""
    text = re.sub(r"^# ((telegram|slack):)", r"\1", text, flags=re.M)
    return re.sub(r"^#   ", "  ", text, flags=re.M)


def test_rest_and_socketio_are_open_with_session_persistence() -> None:
    channels = {type(c).__name__: c for c in create_http_input_channels(None, str(CREDENTIALS))}
    assert set(channels) == {"IdempotentRestInput", "PersistentSocketIOInput", "MetricsInput"}
    assert isinstance(channels["IdempotentRestInput"], LimitedRestInput)
    assert channels["IdempotentRestInput"].name() == "rest"  # same URL: /webhooks/rest/webhook
    socketio = channels["PersistentSocketIOInput"]
    assert isinstance(socketio, SocketIOInput)
    assert socketio.session_persistence is True
    assert (socketio.user_message_evt, socketio.bot_message_evt) == ("user_uttered", "bot_uttered")


def test_telegram_and_slack_sections_fill_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "TELEGRAM_ACCESS_TOKEN": "123456789:AAtest", "TELEGRAM_BOT_USERNAME": "rapport_bot",
        "PUBLIC_HOST": "chat.example.com", "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing-secret", "SLACK_CHANNEL": "C0123",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    edited = tmp_path / "credentials.yml"
    edited.write_text(uncommented(CREDENTIALS.read_text()))

    credentials = read_config_file(str(edited))

    assert credentials["telegram"] == {
        "access_token": "123456789:AAtest",
        "verify": "rapport_bot",
        "webhook_url": "https://chat.example.com/webhooks/telegram/webhook",
    }
    telegram = TelegramInput.from_credentials(credentials["telegram"])
    assert telegram.webhook_url.startswith("https://")
    slack = SlackInput.from_credentials(credentials["slack"])
    assert slack.slack_token == "xoxb-test"
    assert slack.slack_signing_secret == "signing-secret"
    assert slack.slack_channel == "C0123"
