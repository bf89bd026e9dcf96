"""The spike rule on hand-made minute counts, and the Slack message."""
from analytics.alerts import Episode, check_spike, slack_message
from analytics.settings import SpikeRule

RULE = SpikeRule(current_minutes=5, baseline_minutes=15, k=3.0, min_count=5,
                 baseline_floor=0.05, clear_minutes=3)


def calm(minutes, angry_every=20):
    """10 messages a minute, one angry every ``angry_every`` messages (5% by default)."""
    counts, n = {}, 0
    for minute in minutes:
        angry = sum(1 for i in range(10) if (n + i) % angry_every == 0)
        counts[minute] = (angry, 10)
        n += 10
    return counts


def run(rule, counts, minutes):
    episode, fired = None, []
    for minute in minutes:
        spike, episode = check_spike(rule, counts, minute, episode)
        if spike:
            fired.append(spike)
    return fired, episode


def test_spike_fires_once_at_its_first_minute_and_the_episode_ends():
    counts = calm(range(0, 100))
    for minute in range(40, 50):
        counts[minute] = (9, 12)
    fired, episode = run(RULE, counts, range(20, 100))
    assert [s.minute for s in fired] == [40]
    assert fired[0].count == 4 * 10 + 12 and abs(fired[0].baseline - 0.05) < 1e-9
    assert episode is None  # calm again long before minute 99


def test_calm_stream_and_a_spike_below_min_count_do_not_fire():
    counts = calm(range(0, 60))
    assert run(RULE, counts, range(20, 60))[0] == []
    quiet = {m: (0, 0) for m in range(60)}
    quiet[30] = (4, 4)  # every message angry, but only four of them
    assert run(RULE, quiet, range(20, 60))[0] == []


def test_baseline_floor_stops_a_silent_intent_from_alerting_on_one_angry_message():
    counts = {m: (0, 10) for m in range(40)}
    counts[30] = (1, 10)  # 1/50 in the window: above 3 x 0, not above 3 x floor
    assert run(RULE, counts, range(20, 40))[0] == []


def test_a_second_spike_after_the_episode_cleared_fires_again():
    counts = calm(range(0, 200))
    for minute in list(range(40, 45)) + list(range(120, 125)):
        counts[minute] = (10, 12)
    fired, _ = run(RULE, counts, range(20, 200))
    assert [s.minute for s in fired] == [40, 120]


def test_episode_needs_clear_minutes_in_a_row_to_end():
    spike, episode = check_spike(RULE, {0: (0, 0)}, 10, Episode(0.15, calm_minutes=2))
    assert spike is None and episode is None
    spike, episode = check_spike(RULE, {10: (9, 10)}, 10, Episode(0.15, calm_minutes=2))
    assert spike is None and episode == Episode(0.15, 0)


def test_slack_message_has_labels_counts_and_the_link():
    spike = slack_message({"kind": "spike", "subject": "order_status", "minute": 29_000_000,
                           "share": 0.42, "baseline": 0.05, "count": 52},
                          "http://dash.example")
    assert spike["text"].startswith(":rotating_light: Anger spike on intent `order_status`: 42%")
    assert "52 messages" in spike["text"] and "baseline 5%" in spike["text"]
    assert "2025-02-19 21:20 UTC" in spike["text"]
    assert spike["blocks"][0]["text"]["text"] == spike["text"]
    streak = slack_message({"kind": "streak", "subject": "user 7", "minute": 0, "count": 3,
                            "share": None, "baseline": None}, "http://dash.example/")
    assert "`user 7` has been angry for 3 turns" in streak["text"]
    assert "<http://dash.example/#conversation=user%207|Open the dashboard>" in streak["text"]


def test_a_small_intent_needs_a_rise_unlikely_by_chance():
    counts = {m: (0, 3) for m in range(40)}
    counts[30] = (3, 3)  # 3 of 15 in the window: 20% > 3 x 5%, but P(>=3 | 5%) = 0.036
    rule = SpikeRule(min_count=5, max_p_value=0.0001)
    assert run(rule, counts, range(20, 40))[0] == []
    counts[31] = (3, 3)  # 6 of 15: P = 5e-5, below max_p_value 1e-4
    assert [s.minute for s in run(rule, counts, range(20, 40))[0]] == [31]
