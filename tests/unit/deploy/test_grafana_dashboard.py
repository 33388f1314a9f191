"""The Grafana dashboard and its provisioning.

Every query on the dashboard may use only the metrics and recording rules in
deploy/METRICS.md, so a renamed metric breaks this test instead of silently
emptying a panel.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.metrics_doc import (
    DEPLOY,
    allowed_names,
    metric_names,
    recording_rules,
    undocumented_labels,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "prometheus"


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target.get("expr", "")


def test_the_mash_dashboard_exists() -> None:
    assert GRAFANA / "dashboards" / "mash.json" in DASHBOARDS


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_uses_only_documented_metrics(path: Path) -> None:
    allowed = allowed_names()
    found = list(queries(load(path)))
    assert found, "the dashboard has no queries"
    for title, expr in found:
        used = metric_names(expr)
        assert used, f"panel {title!r}: no metric in {expr!r}"
        assert used <= allowed, (
            f"panel {title!r} uses {sorted(used - allowed)}, not in deploy/METRICS.md")
        assert not undocumented_labels(expr), (
            f"panel {title!r} uses labels {sorted(undocumented_labels(expr))} that "
            f"{sorted(used)} do not have in deploy/METRICS.md")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_has_a_unique_id_fits_the_grid_and_uses_the_provisioned_datasource(
        path: Path) -> None:
    dashboard = load(path)
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    occupied: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard["panels"]):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']!r} overlaps {occupied[(x, y)]!r}"
                occupied[(x, y)] = panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_the_dashboard_covers_what_the_hub_is_asked_about() -> None:
    exprs = " ".join(expr for _, expr in queries(load(GRAFANA / "dashboards" / "mash.json")))
    used = metric_names(exprs)
    assert recording_rules() <= used
    assert {
        "mash_timescales_open", "mash_timescale_seconds_left_min",       # open cases, time left
        "mash_contacts_received_total", "mash_cases_opened_total",       # by source
        "mash_decisions_total",                                          # outcome mix
        "mash_research_response_seconds_bucket", "mash_enquiries_awaiting",  # agencies
        "mash_dlq_depth", "mash_outbox_backlog", "mash_consumer_lag",    # plumbing
    } <= used
    for rag in ("RED", "AMBER", "GREEN"):
        assert f'mash_timescale_seconds_left_min{{timescale="decision-rag",rag="{rag}"}}' in exprs
    assert re.search(r"sum by \(source_agency, channel\) \(rate\(mash_contacts_received_total", exprs)
    assert re.search(r"histogram_quantile\(0\.9, sum by \(le, agency\)", exprs)


def test_provisioning_points_at_prometheus_and_the_mounted_dashboards() -> None:
    datasource = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert re.search(rf"^\s*uid: {DATASOURCE_UID}$", datasource, re.M)
    assert re.search(r"^\s*type: prometheus$", datasource, re.M)
    assert re.search(r"^\s*url: http://prometheus:9090$", datasource, re.M)
    provider = (GRAFANA / "provisioning" / "dashboards" / "mash.yml").read_text()
    assert re.search(r"^\s*type: file$", provider, re.M)
    assert re.search(r"^\s*path: /etc/grafana/dashboards$", provider, re.M)
