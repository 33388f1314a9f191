"""What deploy/METRICS.md documents, and which metric names a PromQL expression uses.

Shared by the Prometheus rule and Grafana dashboard tests so that neither can use a
name the services do not expose (METRICS.md is the contract with them).
"""

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"
METRICS_MD = DEPLOY / "METRICS.md"

# Series Prometheus makes itself for every target; not the services' to document.
PROMETHEUS_BUILTINS = frozenset({"up"})
# Labels Prometheus puts on every scraped series (deploy/prometheus/*.yml).
TARGET_LABELS = frozenset({"job", "instance", "service", "agency"})

PROMQL_KEYWORDS = frozenset({
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "atan2",
})


@cache
def metrics_doc() -> str:
    return METRICS_MD.read_text()


@cache
def documented_metrics() -> frozenset[str]:
    """Every metric METRICS.md names, with _bucket/_sum/_count for its histograms."""
    text = metrics_doc()
    # Names are in backticks, FastStream's with their labels: `name{label}`.
    names = set(re.findall(r"`((?:mash|faststream)_[a-z0-9_]+)(?:\{[^}`]*\})?`", text))
    histograms = set(re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*histogram\s*\|", text, re.M))
    # FastStream's one histogram is not in a table.
    histograms |= {n for n in names if n.startswith("faststream_") and n.endswith("_seconds")}
    for name in histograms:
        # A histogram is only ever queried through its series.
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        names.discard(name)
    return frozenset(names)


@cache
def documented_labels() -> dict[str, frozenset[str]]:
    """Metric or recording rule name -> the labels METRICS.md gives it, plus the
    target labels every series gets and `le` on histogram buckets."""
    text = metrics_doc()
    labels: dict[str, set[str]] = {}
    for name, cells in re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|[^|]*\|([^|]*)\|", text, re.M):
        labels[name] = set(re.findall(r"`([a-z_]+)`", cells))
    for name, inner in re.findall(r"`(faststream_[a-z0-9_]+)(?:\{([^}`]*)\})?`", text):
        labels[name] = {*filter(None, inner.split(",")), "app_name", "broker", "handler"}
    for rule in recording_rules():
        by = re.search(rf"`{re.escape(rule)}` by `([a-z_]+)`", text)
        labels[rule] = {by.group(1)} if by else set()
    out: dict[str, frozenset[str]] = {}
    for name in documented_metrics() | recording_rules():
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name not in labels else name
        extra = {"le"} if name.endswith("_bucket") else set()
        # A recording rule aggregates the target labels away.
        target = set() if ":" in name else TARGET_LABELS
        out[name] = frozenset(labels.get(base, set()) | extra | target)
    out.update({name: frozenset(TARGET_LABELS) for name in PROMETHEUS_BUILTINS})
    return out


def label_names(expr: str) -> set[str]:
    """The label names an expression matches on or groups by."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    found: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", text):
        found |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        found |= {label.strip() for label in grouping.split(",") if label.strip()}
    return found


# How METRICS.md says a metric may have no series on a running stack.
MAY_BE_ABSENT = ("absent when none open", "absent until the first exception")


@cache
def may_be_absent() -> frozenset[str]:
    """Metrics METRICS.md says may have no series (in a table row's cells, or
    in a sentence outside the tables that names them)."""
    text = metrics_doc()
    found: set[str] = set()
    for name, rest in re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|(.*)$", text, re.M):
        if any(phrase in rest for phrase in MAY_BE_ABSENT):
            found.add(name)
    prose = " ".join(line for line in text.splitlines() if not line.startswith("|"))
    for sentence in re.split(r"(?<=\.)\s+", prose):
        if any(phrase in sentence for phrase in MAY_BE_ABSENT):
            found |= set(re.findall(r"`((?:mash|faststream)_[a-z0-9_]+)`", sentence))
    return frozenset(found)


@cache
def recording_rules() -> frozenset[str]:
    """The recording rules METRICS.md promises (names with a colon)."""
    return frozenset(re.findall(r"`(mash:[a-z0-9_:]+)`", metrics_doc()))


@cache
def alert_names() -> frozenset[str]:
    section = metrics_doc().split("## Alerts", 1)[1]
    return frozenset(re.findall(r"`(Mash[A-Za-z]+)`", section))


def allowed_names() -> frozenset[str]:
    return documented_metrics() | recording_rules() | PROMETHEUS_BUILTINS


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression selects.

    Strips what cannot be a metric name (string literals, label matchers, range and
    subquery brackets, grouping label lists, Grafana variables), then takes every
    identifier that is neither a keyword nor a function call.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text):
        name = match.group(1)
        if name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def undocumented_labels(expr: str) -> set[str]:
    """Labels the expression uses that none of the metrics it selects has."""
    known: set[str] = set()
    for name in metric_names(expr):
        known |= documented_labels().get(name, frozenset())
    return label_names(expr) - known


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SERVICE_METRICS = ("services.intake.metrics", "services.decision.metrics",
                   "services.research.metrics", "services.notify.metrics")


@cache
def exported_at_import() -> Samples:
    """Every sample /metrics would show before anything has happened: a fresh
    process that has imported the four services' metrics modules (as each
    app does first), with the packaged agencies; research as police."""
    code = (f"import {', '.join(SERVICE_METRICS)}\n"
            "from prometheus_client import REGISTRY, generate_latest\n"
            "print(generate_latest(REGISTRY).decode())")
    env = {k: v for k, v in os.environ.items() if k not in ("MASH_AGENCIES", "MASH_AGENCY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env=env, cwd=REPO_ROOT).stdout
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(out) for s in family.samples}


def counted_by_increase(expr: str) -> set[str]:
    """The metrics an expression reads through increase(), rate() or irate():
    a series born with its first step loses that step there."""
    return {name for name in re.findall(r"\b(?:increase|rate|irate)\(\s*([a-zA-Z_:][\w:]*)", expr)
            if not name.startswith("faststream_")}  # FastStream's, made at its first message
