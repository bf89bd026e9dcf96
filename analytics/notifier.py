"""Deliver alerts to a Slack incoming webhook, each once: an alert is marked delivered only when
the webhook answered 2xx, and one that failed is tried again on the next round."""
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Text

import sqlalchemy as sa

from analytics import schema
from analytics.alerts import slack_message
from analytics.settings import Settings

logger = logging.getLogger(__name__)


def post_json(url: Text, payload: dict, timeout: float = 5.0) -> bool:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError) as error:
        logger.warning("Webhook did not take the alert: %s", error)
        return False


def deliver_pending(engine: sa.engine.Engine, settings: Settings) -> int:
    """Post every undelivered alert, oldest first; stop at the first failure. Returns how many."""
    if not settings.webhook_url:
        return 0
    table = schema.alerts
    with engine.connect() as conn:
        pending = conn.execute(sa.select(table).where(table.c.delivered_at.is_(None))
                               .order_by(table.c.id)).fetchall()
    delivered = 0
    for alert in pending:
        if not post_json(settings.webhook_url, slack_message(alert._mapping, settings.dashboard_url)):
            break
        with engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == alert.id)
                         .values(delivered_at=time.time()))
        delivered += 1
    return delivered
