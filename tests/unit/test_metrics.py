"""The domain metrics' logic, without a broker or a database: the live
picture of open cases and timescales, what a transition counts, and the
rejection reasons intake reports. Counters are read back from
prometheus-client's registry."""

import ast
import inspect
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import timescale_group
from contracts.codes import cin_referral_sources
from contracts.contact import Contact, Rag
from contracts.events import Destination, Outcome
from contracts.formats import AGENCY_FORMATS
from mash.report import performance
from plumbing import metrics as plumbing_metrics
from plumbing.guard import Unusable
from services.decision import domain
from services.decision import metrics as decision_metrics
from services.decision.metrics import Before, LiveCase, band, count_step, snapshot
from services.intake import formats, problems
from services.intake import metrics as intake_metrics
from tests import factories
from tests.unit.deploy.metrics_doc import Samples, exported_at_import
from tests.unit.test_decision_domain import finding
from tests.unit.test_decision_workflow import AUTO, FRIDAY_1655, MANUAL, all_in, new_case

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(("left", "expected"), [
    (timedelta(seconds=-1), "breached"), (timedelta(0), "breached"),
    (timedelta(minutes=29), "under-30m"), (timedelta(minutes=30), "under-1h"),
    (timedelta(hours=3, minutes=59), "under-4h"), (timedelta(hours=23), "under-24h"),
    (timedelta(hours=24), "later"),
])
def test_time_left_bands(left: timedelta, expected: str) -> None:
    assert band(left) == expected


def test_a_case_still_researching_is_counted_with_the_agencies_it_waits_for() -> None:
    step = domain.advance(new_case(triage=Rag.RED), FRIDAY_1655, MANUAL)
    step.case.findings["police"] = finding("police")
    shot = snapshot([LiveCase.of(step.case)], FRIDAY_1655 + timedelta(hours=3, minutes=40),
                    ["police", "health", "housing"])
    assert dict(shot.cases) == {("RED", "researching"): 1}
    assert dict(shot.awaiting) == {"police": 0, "health": 1, "housing": 0}
    # The RED window is 4 clock hours from receipt: 20 minutes left.
    assert shot.timescales[("decision-rag", "RED", "under-30m")] == 1
    assert shot.least_left[("decision-rag", "RED")] == pytest.approx(20 * 60)


def test_a_timescale_past_its_limit_stays_owed_until_met() -> None:
    case = domain.advance(new_case(triage=Rag.RED), FRIDAY_1655, MANUAL).case
    late = FRIDAY_1655 + timedelta(hours=5)
    swept = domain.sla(case, late, MANUAL).case  # the sweeper marks the breach
    rag = next(t for t in swept.timescales if t.timescale == "decision-rag")
    assert rag.breached_at is not None
    shot = snapshot([LiveCase.of(swept)], late, [])
    assert shot.timescales[("decision-rag", "RED", "breached")] == 1
    assert shot.least_left[("decision-rag", "RED")] == pytest.approx(-3600)


def test_a_decided_case_with_nothing_owed_is_not_open() -> None:
    step = all_in(AUTO)
    for ts in step.case.timescales:
        ts.met_at = FRIDAY_1655
    assert not snapshot([LiveCase.of(step.case)], FRIDAY_1655, []).cases


def test_a_decision_is_counted_once_with_its_time_and_the_timescales_it_met() -> None:
    case = new_case()
    labels = {"rag": "AMBER", "outcome": "nfa", "decided_by": "rules"}
    decisions = sample("mash_decisions_total", **labels)
    met = sample("mash_timescales_closed_total", timescale="decision-working-day", result="met")
    timed = sample("mash_time_to_decision_seconds_count", rag="AMBER")
    before = Before.of(case)
    step = all_in(AUTO)
    assert step.decisions, "the rules decide when auto-authorise is on"
    count_step(before, step)
    assert sample("mash_decisions_total", **labels) == decisions + 1
    assert sample("mash_time_to_decision_seconds_count", rag="AMBER") == timed + 1
    assert sample("mash_timescales_closed_total", timescale="decision-working-day",
                  result="met") == met + 1


def test_a_first_proposal_at_the_deadline_counts_the_silent_agencies() -> None:
    gathering = domain.advance(new_case(), FRIDAY_1655, MANUAL).case
    gathering.findings["police"] = finding("police")
    expiries = sample("mash_research_deadline_expiries_total", agency="health")
    before = Before.of(gathering)
    step = domain.sla(gathering, FRIDAY_1655 + timedelta(hours=6), MANUAL)
    count_step(before, step)
    assert sample("mash_research_deadline_expiries_total", agency="health") == expiries + 1
    count_step(Before.of(step.case), domain.sla(step.case, FRIDAY_1655 + timedelta(hours=7),
                                                MANUAL))
    assert sample("mash_research_deadline_expiries_total", agency="health") == expiries + 1


def test_a_manager_is_a_role_not_a_label() -> None:
    step = all_in(AUTO)
    [made] = step.decisions
    assert decision_metrics.decided_by(made.data) == "rules"
    by_manager = made.data.model_copy(update={"decided_by": "mgr-bob"})
    assert decision_metrics.decided_by(by_manager) == "manager"


def rejection_of(parse: Callable[[], object]) -> str:
    try:
        parse()
    except (ValueError, ValidationError) as error:
        return intake_metrics.rejection_reason(error, problems.plain(error))
    raise AssertionError("expected a rejection")


def test_rejection_reasons_are_codes() -> None:
    assert rejection_of(lambda: json.loads(b"{not json")) == "unreadable"
    assert rejection_of(lambda: formats.parse({"type": "no.such.format"})) == "unknown-format"
    assert rejection_of(lambda: formats.parse(
        {"type": "mash.contact.submitted", "id": "x"})) == "invalid"
    forged = Unusable([("(message)", "signature does not match")], reason="not-authentic")
    assert intake_metrics.rejection_reason(forged, forged.problems) == "not-authentic"
    replayed = Unusable([("id", "already received")], reason="replayed")
    assert intake_metrics.rejection_reason(replayed, replayed.problems) == "replayed"


# --- Every series a panel or rule reads exists at zero from import ------------
#
# Read from a fresh process that has imported nothing but the four metrics
# modules, as each service's app does first: no other test can have counted.

@pytest.fixture(scope="module")
def at_import() -> Samples:
    return exported_at_import()


def zeroes(samples: Samples, name: str, label_sets: Iterable[dict[str, str]]) -> None:
    """Every label set has its series, at zero."""
    wanted = [frozenset(labels.items()) for labels in label_sets]
    assert wanted, name
    missing = [dict(labels) for labels in wanted if (name, labels) not in samples]
    assert not missing, f"{name}: no series for {missing[:5]} ({len(missing)} in all)"
    assert all(samples[(name, labels)] == 0.0 for labels in wanted), name


def test_intake_series_exist_at_zero(at_import: Samples) -> None:
    zeroes(at_import, "mash_contacts_rejected_total",
           [{"reason": reason} for reason in intake_metrics.REJECTION_REASONS])
    assert at_import[("mash_contacts_rejected_total", frozenset({("reason", "too-large")}))] == 0.0
    sources = intake_metrics.source_agencies()
    assert set(agencies()) <= set(sources)
    zeroes(at_import, "mash_cases_opened_total",
           [{"source_agency": a, "rag": rag.value} for a in sources for rag in Rag])
    zeroes(at_import, "mash_contacts_linked_total", [{"source_agency": a} for a in sources])
    zeroes(at_import, "mash_contacts_received_total", intake_metrics.received_label_sets())
    assert intake_metrics.CHANNELS == ("portal", "phone", "email", "notification")


def received_labels(contact: Contact) -> dict[str, str]:
    return {"source_agency": contact.referrer.agency, "channel": contact.channel,
            "source_code": contact.referrer.source_code}


def test_every_agency_format_names_the_sources_it_normalises_to(at_import: Samples) -> None:
    assert set(intake_metrics.FORMAT_SOURCES) == set(AGENCY_FORMATS)
    examples = sorted((ROOT / "tests" / "fixtures" / "contacts").glob("*.json"))
    assert len(examples) >= len(AGENCY_FORMATS)
    for path in examples:
        contact = formats.parse(json.loads(path.read_text(encoding="utf-8"))).data
        zeroes(at_import, "mash_contacts_received_total", [received_labels(contact)])
    # Each format's source codes are CIN referral sources.
    for _, channel, codes in intake_metrics.FORMAT_SOURCES.values():
        assert channel in intake_metrics.CHANNELS
        assert set(codes) <= set(cin_referral_sources())


def test_the_canonical_contacts_the_tests_and_social_care_send_exist(at_import: Samples) -> None:
    zeroes(at_import, "mash_contacts_received_total", [received_labels(factories.contact())])
    # Children's social care has no format of its own: any channel, any code.
    zeroes(at_import, "mash_contacts_received_total",
           [{"source_agency": "childrens-social-care", "channel": channel, "source_code": code}
            for channel in intake_metrics.CHANNELS for code in cin_referral_sources()])


def test_decision_series_exist_at_zero(at_import: Samples) -> None:
    zeroes(at_import, "mash_decisions_total",
           [{"rag": rag.value, "outcome": outcome.value, "decided_by": who}
            for rag in Rag for outcome in Outcome for who in ("rules", "manager")])
    zeroes(at_import, "mash_time_to_decision_seconds_count", [{"rag": rag.value} for rag in Rag])
    zeroes(at_import, "mash_time_to_decision_seconds_bucket",
           [{"rag": "RED", "le": "14400.0"}, {"rag": "GREEN", "le": "10.0"}])
    names = decision_metrics.TIMESCALES
    assert "la-enquiry-answer" in names
    zeroes(at_import, "mash_timescales_closed_total",
           [{"timescale": t, "result": r} for t in names for r in ("met", "breached")])
    zeroes(at_import, "mash_timescale_warnings_total", [{"timescale": t} for t in names])
    zeroes(at_import, "mash_timescale_breaches_total", [{"timescale": t} for t in names])
    zeroes(at_import, "mash_findings_received_total", [{"agency": a} for a in agencies()])
    zeroes(at_import, "mash_research_deadline_expiries_total",
           [{"agency": a} for a in agencies()])


def test_research_series_exist_at_zero_for_its_own_agency_only(at_import: Samples) -> None:
    zeroes(at_import, "mash_enquiries_received_total",
           [{"agency": "police", "rag": rag.value} for rag in Rag])
    zeroes(at_import, "mash_findings_disclosed_total",
           [{"agency": "police", "result": result, "disclosure": level}
            for result in ("trace", "no-trace") for level in ("known-only", "summary", "full")])
    zeroes(at_import, "mash_research_response_seconds_count", [{"agency": "police"}])
    # Another agency's series would collide with its own under the target's
    # `agency` label (deploy/prometheus/prometheus.yml).
    assert not [key for key in at_import if key[0].startswith("mash_enquiries_received")
                and ("agency", "police") not in key[1]]


def test_notify_series_exist_at_zero(at_import: Samples) -> None:
    zeroes(at_import, "mash_outcomes_routed_total",
           [{"destination": d.value, "rag": rag.value} for d in Destination for rag in Rag])
    zeroes(at_import, "mash_referrer_feedback_total", [{"agency": s} for s in topics.senders()])


def test_platform_series_exist_at_zero_for_every_topic(at_import: Samples) -> None:
    named = topics.all_topics()
    zeroes(at_import, "mash_dead_letters_total", [{"topic": t} for t in named])
    zeroes(at_import, "mash_handler_retries_total",
           [{"topic": t, "reason": r} for t in named for r in ("conflict", "outage")])
    zeroes(at_import, "mash_outbox_set_aside_total",
           [{"topic": topics.DLQ, "reason": "too-large"}, {"topic": topics.DECISIONS,
                                                          "reason": "refused"},
            {"topic": "other", "reason": "unknown-topic"}, {"topic": "other",
                                                            "reason": "unreadable"}])
    # Only what the relay can count: a named topic is never unknown, "other" never refused.
    pairs = {(dict(k[1])["topic"], dict(k[1])["reason"])
             for k in at_import if k[0] == "mash_outbox_set_aside_total"}
    assert (topics.DLQ, "unknown-topic") not in pairs
    assert ("other", "refused") not in pairs
    assert len(pairs) == 3 * len(named) + 3
    assert not [k for k in at_import if k[0].endswith("_created")], "no _created twins"


def test_the_set_aside_labels_are_the_outbox_relays() -> None:
    source = (ROOT / "plumbing" / "outbox.py").read_text()
    given = set(re.findall(r'Unpublishable\("([a-z-]+)"', source))
    given |= set(re.findall(r'return "([a-z-]+)"', source.split("def unpublishable", 1)[1]
                            .split("\ndef ", 1)[0]))
    assert given == set(plumbing_metrics.SET_ASIDE_REASONS)
    assert "metrics.UNNAMED_TOPIC" in source


def test_a_rejection_reason_is_always_one_of_the_known() -> None:
    odd = Unusable([("(message)", "something new")], reason="something-new")
    assert intake_metrics.rejection_reason(odd, odd.problems) == "invalid"
    large = Unusable([("(message)", "too large")], reason="too-large")
    assert intake_metrics.rejection_reason(large, large.problems) == "too-large"


@pytest.mark.parametrize(("name", "label"), [
    ("decision-rag", "decision-rag"), ("decision-rag-v3", "decision-rag-reopened"),
    ("review-17", "review"), ("icpc-15wd", "icpc-15wd"), ("la-enquiry-answer", "la-enquiry-answer"),
])
def test_numbered_timescales_are_labelled_as_the_board_report_counts_them(
        name: str, label: str) -> None:
    # One function, in the contracts, for both.
    assert decision_metrics.timescale_group is performance.timescale_group
    assert timescale_group(name) == label


def test_every_timescale_the_domain_can_start_has_its_label() -> None:
    """Read services/decision/domain.py's `_timescale(` calls: a literal name,
    a module constant, or an f-string (numbered: tried with a number)."""
    tree = ast.parse(inspect.getsource(domain))
    given: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_timescale":
            name = node.args[1]
            if isinstance(name, ast.Constant):
                given.append(str(name.value))
            elif isinstance(name, ast.Name):
                given.append(str(getattr(domain, name.id)))
            else:
                assert isinstance(name, ast.JoinedStr), ast.dump(name)
                given.append("".join(str(part.value) if isinstance(part, ast.Constant) else "7"
                                     for part in name.values))
    assert len(given) >= len(decision_metrics.TIMESCALES)
    labels = {timescale_group(name) for name in given}
    assert labels == set(decision_metrics.TIMESCALES)


def quantile(q: float, buckets: Sequence[float], values: Iterable[float]) -> float:
    """histogram_quantile as Prometheus computes it, over the given observations."""
    seen = sorted(values)
    counts = [sum(v <= le for v in seen) for le in buckets]
    rank = q * len(seen)
    for i, (le, count) in enumerate(zip(buckets, counts, strict=True)):
        if count >= rank:
            lower, below = (0.0, 0) if i == 0 else (buckets[i - 1], counts[i - 1])
            return lower + (le - lower) * (rank - below) / (count - below)
    raise AssertionError("no +Inf bucket")


def test_a_fast_decision_reads_true_on_the_histogram() -> None:
    """A demo's decisions took 2-9 s (p95 9 s); with 60 s as the first bucket
    the dashboard's p90 read 54 s."""
    decided_in = [2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 9, 9, 9]
    assert quantile(0.9, (60, float("inf")), decided_in) == 54
    assert quantile(0.9, plumbing_metrics.DEADLINE_BUCKETS, decided_in) <= 10
    assert {1, 2, 5, 10, 20, 30, 60, 4 * 3600, 24 * 3600, 72 * 3600} <= set(
        plumbing_metrics.DEADLINE_BUCKETS)
    assert {10, 20} <= set(plumbing_metrics.SECONDS_BUCKETS)
