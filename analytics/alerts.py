"""Alert rules, as pure functions over per-minute counts, and their Slack messages.

Spike rule, for one intent at the close of minute m: ``current`` = the rule's emotions among
the intent's messages in the last ``current_minutes`` (m included), ``baseline`` = the same
share over the ``baseline_minutes`` before that (``baseline_floor`` when lower or empty). It
fires when current > k x baseline with at least ``min_count`` messages and the binomial tail
P(at least that many | baseline) < ``max_p_value`` (a small intent fluctuates a lot by chance),
and not again until the episode ends: ``clear_minutes`` minutes in a row at or under the threshold it fired at.
"""
import datetime
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Text, Tuple

from scipy.stats import binom

from analytics.settings import SpikeRule

Counts = Mapping[int, Tuple[int, int]]  # minute -> (messages with the rule's emotions, messages)


@dataclass(frozen=True)
class Episode:
    threshold: float
    calm_minutes: int = 0


@dataclass(frozen=True)
class Spike:
    minute: int
    share: float
    baseline: float
    count: int
    threshold: float


def _window(counts: Counts, first: int, last: int) -> Tuple[int, int]:
    emotional = total = 0
    for minute in range(first, last + 1):
        e, t = counts.get(minute, (0, 0))
        emotional += e
        total += t
    return emotional, total


def check_spike(rule: SpikeRule, counts: Counts, minute: int, episode: Optional[Episode]
                ) -> Tuple[Optional[Spike], Optional[Episode]]:
    """The spike that fires at the close of ``minute`` (if any) and the episode after it."""
    emotional, total = _window(counts, minute - rule.current_minutes + 1, minute)
    base_first = minute - rule.current_minutes - rule.baseline_minutes + 1
    base_emotional, base_total = _window(counts, base_first, minute - rule.current_minutes)
    share = emotional / total if total else 0.0
    baseline = max(base_emotional / base_total if base_total else 0.0, rule.baseline_floor)
    if episode is not None:
        if share <= episode.threshold:
            calm = episode.calm_minutes + 1
            return None, (None if calm >= rule.clear_minutes else Episode(episode.threshold, calm))
        return None, Episode(episode.threshold, 0)
    threshold = rule.k * baseline
    if (total >= rule.min_count and share > threshold
            and binom.sf(emotional - 1, total, baseline) < rule.max_p_value):
        return Spike(minute, share, baseline, total, threshold), Episode(threshold)
    return None, None


def minute_text(minute: int) -> Text:
    return datetime.datetime.fromtimestamp(minute * 60, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


def slack_message(alert: Mapping[Text, Any], dashboard_url: Text = "") -> Dict[Text, Any]:
    """A Slack incoming-webhook payload for an alert row: labels and counts, no message text."""
    when = minute_text(alert["minute"])
    if alert["kind"] == "spike":
        text = (
            f":rotating_light: Anger spike on intent `{alert['subject']}`: "
            f"{alert['share']:.0%} angry or disgusted among {alert['count']} messages "
            f"(baseline {alert['baseline']:.0%}), minute {when}."
        )
    else:
        text = (
            f":sos: Conversation `{alert['subject']}` has been angry for {alert['count']} "
            f"turns with no handoff ({when}): it needs a human now."
        )
    link = ""
    if dashboard_url:
        anchor = "#conversation=" + urllib.parse.quote(alert["subject"], safe="") if alert["kind"] == "streak" else ""
        link = f" <{dashboard_url.rstrip('/')}/{anchor}|Open the dashboard>"
    return {
        "text": text + link,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text + link}}],
    }
