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
    counted_by_increase,
    documented_metrics,
    exported_at_import,
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
        assert ('mash_timescale_seconds_left_min{timescale=~"decision-rag|decision-rag-reopened",'
                f'rag="{rag}"}}') in exprs
    assert re.search(r"sum by \(source_agency, channel\) \(rate\(mash_contacts_received_total", exprs)
    assert re.search(r"histogram_quantile\(0\.9, sum by \(le, agency\)", exprs)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_mash_metric_a_panel_queries_is_documented_by_name(path: Path) -> None:
    """Not only allowed: each mash_ metric a panel reads is one METRICS.md names."""
    for title, expr in queries(load(path)):
        for name in metric_names(expr):
            if name.startswith("mash_"):
                assert name in documented_metrics(), f"panel {title!r}: {name} not in METRICS.md"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_what_a_panel_counts_with_increase_or_rate_exists_before_its_first_step(
        path: Path) -> None:
    """A counter series born with its first increment loses that increment in
    increase() and rate(): 16.7 contacts read for 29 sent. Every counter a panel
    reads so has series at 0 as soon as the services' metrics are imported."""
    exported = {name for name, _ in exported_at_import()}
    for title, expr in queries(load(path)):
        for name in counted_by_increase(expr):
            assert name in exported, f"panel {title!r}: {name} has no series at start"


def test_the_plumbing_panels_show_set_aside_events_and_dead_letters() -> None:
    exprs = " ".join(expr for _, expr in queries(load(GRAFANA / "dashboards" / "mash.json")))
    used = metric_names(exprs)
    assert {"mash_outbox_set_aside_total", "mash_dlq_depth", "mash_dead_letters_total",
            "mash_outbox_oldest_unpublished_age_seconds"} <= used
    # Every topic's series is there at 0; draw only those that moved.
    for name in ("mash_dead_letters_total", "mash_outbox_set_aside_total"):
        for _, expr in queries(load(GRAFANA / "dashboards" / "mash.json")):
            if name in expr and "by (" in expr and "topic" in expr:
                assert expr.rstrip().endswith("> 0"), expr


def test_provisioning_points_at_prometheus_and_the_mounted_dashboards() -> None:
    datasource = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert re.search(rf"^\s*uid: {DATASOURCE_UID}$", datasource, re.M)
    assert re.search(r"^\s*type: prometheus$", datasource, re.M)
    assert re.search(r"^\s*url: http://prometheus:9090$", datasource, re.M)
    provider = (GRAFANA / "provisioning" / "dashboards" / "mash.yml").read_text()
    assert re.search(r"^\s*type: file$", provider, re.M)
    assert re.search(r"^\s*path: /etc/grafana/dashboards$", provider, re.M)
