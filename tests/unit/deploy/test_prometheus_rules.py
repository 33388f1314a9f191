"""Prometheus configuration, rules and alerts, checked with the real promtool.

promtool comes with Prometheus (Debian/Ubuntu: `apt-get install prometheus`; CI
installs it). Without it these tests fail rather than skip: an untested alert is
one nobody will notice is broken until the night it should have fired.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.deploy.metrics_doc import (
    DEPLOY,
    alert_names,
    allowed_names,
    counted_by_increase,
    exported_at_import,
    metric_names,
    recording_rules,
    undocumented_labels,
)

PROMETHEUS = DEPLOY / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning"}


def promtool() -> str:
    """promtool's path; a failure (not a skip, not a setup error) without it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: `apt-get install prometheus` (it ships promtool; "
                    "CI installs it)", pytrace=False)
    return path


def run(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")


def rules_in(path: Path) -> dict[str, str]:
    """Rule name (record or alert) -> its expression, from a rule file.

    A deliberately small reader for the shape these files have (`- record:` or
    `- alert:` then `expr:` inline or as a block scalar); test_rule_files_are_read
    checks it found every rule promtool found.
    """
    lines = path.read_text().splitlines()
    found: dict[str, str] = {}
    name = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := re.match(r"\s*- (?:record|alert):\s*(\S+)", line):
            name = m.group(1)
        elif (m := re.match(r"(\s*)expr:\s*(.*)$", line)) and name is not None:
            indent, rest = len(m.group(1)), m.group(2).strip()
            if rest[:1] in ("|", ">"):
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip()
                                          or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i].strip())
                    i += 1
                found[name] = " ".join(body).strip()
                continue
            found[name] = rest.strip("'\"")
        i += 1
    return found


def alert_blocks(path: Path) -> dict[str, str]:
    """Alert name -> the text of its rule, up to the next rule or group."""
    parts = re.split(r"^\s*- (?:alert|record):\s*", path.read_text(), flags=re.M)
    return {part.split()[0]: part for part in parts[1:] if part.split()[0].startswith("Mash")}


ALL_RULES = {name: expr for path in RULES for name, expr in rules_in(path).items()}


def test_there_are_rule_files_and_rule_tests() -> None:
    assert {p.name for p in RULES} >= {"timeliness.yml", "alerts.yml"}
    assert RULE_TESTS, "no promtool rule tests in deploy/prometheus/tests/"


def test_production_config_is_valid() -> None:
    result = run(promtool(), "check", "config", "prometheus.yml")
    assert_ok(result)
    assert f"{len(RULES)} rule files found" in result.stdout, result.stdout


def test_embedded_config_is_valid(tmp_path: Path) -> None:
    """The embedded launcher writes targets.json next to the config; so does this test."""
    shutil.copy(PROMETHEUS / "prometheus.embedded.yml", tmp_path)
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    (tmp_path / "targets.json").write_text(
        '[{"targets": ["127.0.0.1:9101"], "labels": {"service": "intake"}},\n'
        ' {"targets": ["127.0.0.1:9102"], "labels": {"service": "decision"}},\n'
        ' {"targets": ["127.0.0.1:9104"], "labels": {"service": "research", "agency": "police"}}]\n')
    result = run(promtool(), "check", "config", "prometheus.embedded.yml", cwd=tmp_path)
    assert_ok(result)
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert f"{len(RULES)} rule files found" in result.stdout, result.stdout


def test_embedded_config_reads_file_sd_and_evaluates_every_second() -> None:
    text = (PROMETHEUS / "prometheus.embedded.yml").read_text()
    assert re.search(r'file_sd_configs:\s*\n\s*- files: \["targets.json"\]', text)
    assert re.search(r"^  scrape_interval: 1s$", text, re.M)
    assert re.search(r"^  evaluation_interval: 1s$", text, re.M)
    production = (PROMETHEUS / "prometheus.yml").read_text()
    assert re.search(r"^  scrape_interval: 15s$", production, re.M)
    assert re.search(r"^  evaluation_interval: 15s$", production, re.M)
    for config in (text, production):
        assert re.search(r"rule_files:\s*\n\s*- rules/\*\.yml", config)
        assert "job_name: mash\n" in config


def test_rule_files_are_valid() -> None:
    assert_ok(run(promtool(), "check", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULES)))


def test_rule_unit_tests_pass() -> None:
    result = run(promtool(), "test", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULE_TESTS))
    assert_ok(result)
    assert "FAILED" not in result.stdout + result.stderr


def test_rule_files_are_read() -> None:
    """rules_in() found as many rules as promtool did, each with an expression."""
    for path in RULES:
        result = run(promtool(), "check", "rules", str(path))
        assert_ok(result)
        count = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
        assert count, result.stdout
        found = rules_in(path)
        assert len(found) == int(count.group(1)), (path.name, sorted(found))
        assert all(found.values()), path.name


def test_rule_names_are_those_in_metrics_md() -> None:
    recorded = {name for name in ALL_RULES if ":" in name}
    alerts = {name for name in ALL_RULES if ":" not in name}
    assert recorded == recording_rules()
    assert alerts == alert_names()


def test_rules_use_only_documented_metrics() -> None:
    allowed = allowed_names()
    for name, expr in ALL_RULES.items():
        used = metric_names(expr)
        assert used, f"{name}: no metric found in {expr!r}"
        assert used <= allowed, f"{name} uses {sorted(used - allowed)}, not in deploy/METRICS.md"
        assert not undocumented_labels(expr), (
            f"{name} uses labels {sorted(undocumented_labels(expr))} not in deploy/METRICS.md")


def test_what_a_rule_counts_with_increase_or_rate_exists_before_its_first_step() -> None:
    """A counter series born with its first increment is invisible to
    increase(): an alert on it would never fire for the first event."""
    exported = exported_at_import()
    names = {name for name, _ in exported}
    for rule, expr in ALL_RULES.items():
        for name in counted_by_increase(expr):
            assert name in names, f"{rule}: {name} has no series at start"
    # The 4-hour bucket the RED ratio reads, for every RAG.
    assert ("mash_time_to_decision_seconds_bucket",
            frozenset({("rag", "RED"), ("le", "14400.0")})) in exported


def test_the_outbox_and_dead_letter_alerts_say_what_to_run() -> None:
    blocks = alert_blocks(PROMETHEUS / "rules" / "alerts.yml")
    for name in ("MashOutboxStalled", "MashOutboxEventSetAside", "MashDeadLettersWaiting"):
        assert "mash dlq" in blocks[name] or "mash reconcile" in blocks[name], name
    assert "mash reconcile" in blocks["MashOutboxStalled"]
    assert "mash_outbox_oldest_unpublished_age_seconds > 60" in blocks["MashOutboxStalled"]
    assert re.search(r"^\s*for: 2m$", blocks["MashOutboxStalled"], re.M)
    assert "increase(mash_outbox_set_aside_total[" in blocks["MashOutboxEventSetAside"]
    for name in ("MashOutboxEventSetAside", "MashDeadLettersWaiting"):
        assert "`mash dlq replay <id>`" in blocks[name], name
        assert '`mash dlq resolve <id> --reason "why"`' in blocks[name], name


def test_ratios_cannot_divide_by_zero() -> None:
    for name, expr in ALL_RULES.items():
        if name.endswith(":ratio"):
            assert re.search(r"/\s*\(.*\)\s*>\s*0\s*\)", expr), (
                f"{name}: guard the denominator with `> 0` so an empty day is a gap, not NaN")


def test_every_alert_tells_the_person_on_call_what_to_do() -> None:
    blocks = alert_blocks(PROMETHEUS / "rules" / "alerts.yml")
    assert set(blocks) == alert_names()
    for name, block in blocks.items():
        severity = re.search(r"^\s*severity:\s*(\S+)", block, re.M)
        assert severity, f"{name}: no severity label"
        assert severity.group(1) in SEVERITIES, name
        assert re.search(r"^\s*summary:\s*\S", block, re.M), f"{name}: no summary"
        description = re.search(r"^\s*description:\s*>-?\s*\n((?:\s{10,}.*\n?)+)", block, re.M)
        assert description, f"{name}: no description"
        assert len(description.group(1).split()) >= 12, f"{name}: describe what to do"


def test_every_rule_has_a_promtool_test() -> None:
    tests = "\n".join(p.read_text() for p in RULE_TESTS)
    for alert in alert_names():
        cases = re.findall(rf"alertname: {alert}\n\s*eval_time: .*\n\s*exp_alerts:(.*)", tests)
        quiet = [c for c in cases if c.strip().startswith("[]")]
        assert quiet, f"{alert}: no test that it stays quiet"
        assert len(quiet) < len(cases), f"{alert}: no test that it fires"
    for rule in recording_rules():
        assert re.search(rf"expr: {re.escape(rule)}\b", tests), f"{rule}: not tested"
