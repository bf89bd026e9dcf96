"""`rasa visualize` with the full Rapport config (`rasa data validate` is in
tests/integration/test_assistant.py: `test_training_data_validates_without_warnings`)."""
from pathlib import Path

from tests.integration.commands.conftest import rasa_env
from tests.integration.conftest import RASA, run


def test_rasa_visualize_draws_the_demo_stories(tmp_path: Path) -> None:
    graph = tmp_path / "graph.html"
    # BROWSER=true: Rasa opens the page in a browser; `true` stands in for one
    run([RASA, "visualize", "--out", str(graph)], env=rasa_env(BROWSER="true"))
    html = graph.read_text()
    for node in ("action_order_status", "utter_offer_handoff", "change_address_form"):
        assert node in html
