"""deploy/grafana/rapport-dashboard.json parses, is laid out, and every panel's query reads a
metric one of the three exporters serves (rasa run, the action server, the analytics service)."""
import json
import re
from dataclasses import replace
from pathlib import Path

from prometheus_client import REGISTRY

import channels.metrics  # noqa: F401  (registers rasa run's metrics)
import rasa_sdk_plugins.metrics  # noqa: F401  (registers the action server's)
from analytics.service import Service
from analytics.settings import Settings

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "rapport-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",), "info": ("_info",)}


def exported_series(*registries):
    names = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def test_every_panel_reads_an_exported_metric(tmp_path):
    service = Service(replace(Settings(), database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    exported = exported_series(REGISTRY, service.registry)
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] == "rapport-overview"
    panels = dashboard["panels"]
    assert len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels)
    used = set()
    for panel in panels:
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "table"}
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            metrics = set(re.findall(r"\b(?:rasa|rapport)_[a-z_]+", target["expr"]))
            assert metrics, f"{panel['title']}: no Rapport metric in {target['expr']}"
            missing = metrics - exported
            assert not missing, f"{panel['title']}: {missing} is not exported"
            used |= metrics
    # every family of the three exporters has a panel
    assert {"rasa_emotions_total", "rasa_handoffs_total", "rasa_model_info",
            "rasa_sdk_action_calls_total", "rapport_analytics_events_total"} <= used
