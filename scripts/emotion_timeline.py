"""Draw one conversation's emotion timeline from the SQL tracker store, as a PNG.

    .venv/bin/python -m scripts.emotion_timeline SENDER_ID [--endpoints endpoints.yml] [--out FILE]

Reads the tracker store configured in endpoints.yml (SQL: SQLite or PostgreSQL), takes the
`emotion_ranking` that EmotionClassifier stored with every user message, and plots the
probability of each emotion per user turn (stacked), with the top emotion and the user's words
underneath. Writes SENDER_ID-emotions.png unless --out says otherwise.
"""
import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Text

import sqlalchemy as sa
import yaml

from components.shared.contracts import EMOTION_LABELS, emotion_scores

COLOURS = {
    "anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "joy": "#2ca02c",
    "neutral": "#c7c7c7", "sadness": "#1f77b4", "surprise": "#ff7f0e",
}


def database_url(endpoints: Path) -> Text:
    """The SQLAlchemy URL of the tracker store in endpoints.yml, built the way Rasa builds it."""
    from rasa.core.tracker_store import SQLTrackerStore

    config = (yaml.safe_load(endpoints.read_text()) or {}).get("tracker_store") or {}
    # privacy.MaskingTrackerStore (docs/privacy.md) keeps the SQL store's settings under `store`.
    config = config.get("store") or config
    if str(config.get("type", "")).lower() != "sql":
        raise SystemExit(f"{endpoints}: the tracker store is not of type SQL ({config.get('type')}).")
    keys = ("dialect", "host", "port", "db", "username", "password", "login_db", "query")
    return str(SQLTrackerStore.get_db_url(**{k: config[k] for k in keys if k in config}))


def user_turns(url: Text, sender_id: Text) -> List[Dict[Text, Any]]:
    """The user messages of a conversation, oldest first, with their stored parse data."""
    engine = sa.create_engine(url)
    query = sa.text(
        "SELECT data FROM events WHERE sender_id = :sender AND type_name = 'user' ORDER BY id"
    )
    with engine.connect() as connection:
        rows = connection.execute(query, {"sender": sender_id}).fetchall()
    return [json.loads(row[0]) for row in rows]


def probabilities(turn: Dict[Text, Any]) -> Dict[Text, float]:
    return emotion_scores(turn.get("parse_data") or {})


def draw(turns: List[Dict[Text, Any]], sender_id: Text, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [probabilities(turn) for turn in turns]
    x = range(1, len(turns) + 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(turns) + 2), 4.8))
    bottom = [0.0] * len(turns)
    for label in EMOTION_LABELS:
        heights = [s.get(label, 0.0) for s in scores]
        ax.bar(x, heights, bottom=bottom, color=COLOURS[label], label=label, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for position, (turn, score) in enumerate(zip(turns, scores), start=1):
        top = max(score, key=score.get) if score else "(none)"
        ax.text(position, 1.02, top, ha="center", va="bottom", fontsize=8, fontweight="bold")
    ax.set_xticks(list(x), [
        textwrap.shorten(turn.get("text") or "", 40, placeholder="…") for turn in turns
    ], rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("probability")
    ax.set_title(f"Emotion per user message: conversation '{sender_id}'")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sender_id")
    parser.add_argument("--endpoints", type=Path, default=Path("endpoints.yml"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    turns = user_turns(database_url(args.endpoints), args.sender_id)
    if not turns:
        sys.exit(f"No user messages for '{args.sender_id}' in the tracker store.")
    if not any(probabilities(turn) for turn in turns):
        sys.exit(f"'{args.sender_id}' has no emotion data: was EmotionClassifier in the pipeline?")
    out = args.out or Path(f"{args.sender_id}-emotions.png")
    draw(turns, args.sender_id, out)
    print(f"{len(turns)} user messages -> {out}")


if __name__ == "__main__":
    main()
