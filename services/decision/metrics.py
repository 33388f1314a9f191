"""Decision's metrics (see deploy/METRICS.md): the live picture of open cases
and their timescales for the service lead, and the counts the board's
timeliness figures are recorded from.

Counters move after a transaction commits, once per message handled the
first time (a redelivery is skipped before it could count). The gauges are
recomputed from the database every few seconds by ``snapshot``, a pure
function of the open cases and the time, so a restarted service shows the
same picture at once. Labels are codes; never a case id or a name.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.agencies import agencies
from contracts.casework import SlaBreached, SlaWarning, timescale_group
from contracts.contact import Rag
from contracts.events import DecisionData, Outcome
from plumbing.metrics import DEADLINE_BUCKETS, expect_every_topic, zero
from services.decision.domain import LA_ENQUIRY, CaseRecord, Step, Timescale

FINDINGS_RECEIVED = Counter(
    "mash_findings_received", "Findings merged into cases.", ["agency"])
LAST_ANSWER = Gauge(
    "mash_agency_last_answer_timestamp_seconds",
    "Unix time of the agency's last finding (this service's start if none since).", ["agency"])
ENQUIRIES_AWAITING = Gauge(
    "mash_enquiries_awaiting", "Open cases still waiting for this agency's finding.", ["agency"])
DEADLINE_EXPIRIES = Counter(
    "mash_research_deadline_expiries",
    "Research deadlines that passed with this agency silent.", ["agency"])
DECISIONS = Counter(
    "mash_decisions", "Authorised decisions.", ["rag", "outcome", "decided_by"])
TIME_TO_DECISION = Histogram(
    "mash_time_to_decision_seconds", "Contact received to authorised decision.", ["rag"],
    buckets=DEADLINE_BUCKETS)
CASES_OPEN = Gauge("mash_cases_open", "Open cases by RAG and stage.", ["rag", "stage"])
TIMESCALES_OPEN = Gauge(
    "mash_timescales_open", "Outstanding timescales by time left.", ["timescale", "rag", "band"])
SECONDS_LEFT_MIN = Gauge(
    "mash_timescale_seconds_left_min",
    "Least time left among outstanding timescales (negative once past the limit).",
    ["timescale", "rag"])
WARNINGS = Counter("mash_timescale_warnings", "'Due soon' warnings raised.", ["timescale"])
BREACHES = Counter("mash_timescale_breaches", "Breaches raised.", ["timescale"])
CLOSED = Counter(
    "mash_timescales_closed", "Timescales met: in time ('met') or late ('breached').",
    ["timescale", "result"])

STAGES = {"gathering": "researching", "proposed": "awaiting-decision", "decided": "decided"}
# Upper edges of the time-left bands, in order; past the last, "later".
BANDS: tuple[tuple[str, timedelta], ...] = (
    ("breached", timedelta(0)), ("under-30m", timedelta(minutes=30)),
    ("under-1h", timedelta(hours=1)), ("under-4h", timedelta(hours=4)),
    ("under-24h", timedelta(hours=24)))


# The `timescale` label: every name services/decision/domain.py gives a
# timescale (its `_timescale(` calls), a numbered one under one name, as the
# board report counts them (mash/report/performance.py): a reopened case's
# decision-rag-v2 is decision-rag-reopened, review-<n> (a manager's review of
# late information) is review. A label per number would be a new series per
# case, each born with its first count. tests/unit/test_metrics.py reads the
# domain's calls and checks every name they can give is one of these.
TIMESCALES = ("decision-rag", "decision-working-day", "confidential-enquiry", LA_ENQUIRY,
              "s47-to-duty", "outcome-48h", "icpc-15wd", "assessment-45wd",
              "decision-rag-reopened", "review")
CLOSED_RESULTS = ("met", "breached")
DECIDED_BY = ("rules", "manager")


def _expect(names: Iterable[str]) -> None:
    """Every counter series a panel or rule reads, at zero: ``increase()``
    cannot see the first step of a series that appears with it, so the
    ratios and the counts by outcome would miss it."""
    zero(CLOSED, ({"timescale": t, "result": r} for t in TIMESCALES for r in CLOSED_RESULTS))
    zero(WARNINGS, ({"timescale": t} for t in TIMESCALES))
    zero(BREACHES, ({"timescale": t} for t in TIMESCALES))
    zero(TIME_TO_DECISION, ({"rag": rag.value} for rag in Rag))
    zero(DECISIONS, ({"rag": rag.value, "outcome": outcome.value, "decided_by": who}
                     for rag in Rag for outcome in Outcome for who in DECIDED_BY))
    zero(FINDINGS_RECEIVED, ({"agency": agency} for agency in names))
    zero(DEADLINE_EXPIRIES, ({"agency": agency} for agency in names))


def start(agencies: Iterable[str], now: float) -> None:
    """The agencies' last answers taken as now (the service's start), and
    their counters at zero (already so at import for the configured ones)."""
    names = tuple(agencies)
    _expect(names)
    for agency in names:
        LAST_ANSWER.labels(agency=agency).set(now)


def band(left: timedelta) -> str:
    for name, edge in BANDS:
        if left <= edge if name == "breached" else left < edge:
            return name
    return "later"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Rated(_Part):
    rag: Rag


class _Opened(_Part):
    triage_rag: Rag
    expected_agencies: list[str] = Field(default_factory=list)


class _Owed(_Part):
    timescale: str
    due_at: AwareDatetime
    met_at: AwareDatetime | None = None
    withdrawn_at: AwareDatetime | None = None


class LiveCase(_Part):
    """What the gauges read of one case: its document's paths that they use,
    no more. Read for every open case every few seconds, so a whole record
    (the contact, every finding's items, the history) each time cost the
    database time that grew with the backlog, and took it from the pipeline."""

    state: str
    decision: _Rated | None = None
    proposal: _Rated | None = None
    opened: _Opened | None = None
    findings: dict[str, Any] = Field(default_factory=dict)
    timescales: list[_Owed] = Field(default_factory=list)

    @classmethod
    def of(cls, case: CaseRecord) -> "LiveCase":
        return cls.model_validate(case.model_dump(mode="json", by_alias=True))

    @staticmethod
    def projection(agencies: Iterable[str]) -> dict[str, int]:
        """The database projection that reads just these paths; of each
        finding, only that it is there."""
        paths = ["state", "decision.rag", "proposal.rag", "opened.triage_rag",
                 "opened.expected_agencies",
                 *(f"timescales.{name}" for name in _Owed.model_fields),
                 *(f"findings.{agency}.agency" for agency in agencies)]
        return dict.fromkeys(paths, 1)


def rag_of(case: LiveCase) -> str:
    """The case's RAG as it stands: decided, else proposed, else triaged."""
    if case.decision is not None:
        return case.decision.rag.value
    if case.proposal is not None:
        return case.proposal.rag.value
    return case.opened.triage_rag.value if case.opened is not None else "unknown"


def outstanding(ts: Timescale | _Owed) -> bool:
    """Not met and not withdrawn: a breached timescale is still owed."""
    return ts.met_at is None and ts.withdrawn_at is None


@dataclass
class Snapshot:
    cases: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    timescales: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    least_left: dict[tuple[str, str], float] = field(default_factory=dict)
    awaiting: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def snapshot(cases: Iterable[LiveCase], now: datetime, agencies: Iterable[str]) -> Snapshot:
    out = Snapshot()
    for agency in agencies:
        out.awaiting[agency] = 0
    for case in cases:
        rag = rag_of(case)
        owed = [ts for ts in case.timescales if outstanding(ts)]
        if case.state == "decided" and not owed:
            continue
        out.cases[(rag, STAGES[case.state])] += 1
        if case.state == "gathering" and case.opened is not None:
            for agency in case.opened.expected_agencies:
                if agency not in case.findings:
                    out.awaiting[agency] += 1
        for ts in owed:
            left = ts.due_at - now
            key = (timescale_group(ts.timescale), rag)
            out.timescales[(*key, band(left))] += 1
            seconds = left.total_seconds()
            out.least_left[key] = min(out.least_left.get(key, seconds), seconds)
    return out


def publish(shot: Snapshot) -> None:
    # No await between clearing and setting: a scrape never sees the gap.
    for gauge in (CASES_OPEN, TIMESCALES_OPEN, SECONDS_LEFT_MIN):
        gauge.clear()
    # No open case at a RAG and stage reads 0, not a gap.
    zero(CASES_OPEN, ({"rag": rag.value, "stage": stage} for rag in Rag
                      for stage in STAGES.values()))
    for (rag, stage), count in shot.cases.items():
        CASES_OPEN.labels(rag=rag, stage=stage).set(count)
    for (name, rag, where), count in shot.timescales.items():
        TIMESCALES_OPEN.labels(timescale=name, rag=rag, band=where).set(count)
    for (name, rag), seconds in shot.least_left.items():
        SECONDS_LEFT_MIN.labels(timescale=name, rag=rag).set(seconds)
    for agency, count in shot.awaiting.items():
        ENQUIRIES_AWAITING.labels(agency=agency).set(count)


def decided_by(decision: DecisionData) -> str:
    """'rules' or 'manager': the manager's own id is not a label."""
    return "rules" if decision.decided_by == "rules" else "manager"


@dataclass(frozen=True)
class Before:
    """What the counters need of a case before a transition (the domain
    changes the record in place)."""

    owed: dict[str, bool]
    proposed: bool

    @classmethod
    def of(cls, case: CaseRecord) -> "Before":
        return cls({ts.timescale: outstanding(ts) for ts in case.timescales},
                   case.proposal is not None)


def count_step(before: Before, step: Step) -> None:
    """Counters for what one committed transition did."""
    for made in step.decisions:
        d = made.data
        DECISIONS.labels(rag=d.rag.value, outcome=d.outcome.value, decided_by=decided_by(d)).inc()
        if d.decision_version == 1:
            TIME_TO_DECISION.labels(rag=d.rag.value).observe(
                max(0.0, (d.decided_at - d.contact_received_at).total_seconds()))
    for _, event in step.emit:
        if isinstance(event, SlaWarning):
            WARNINGS.labels(timescale=timescale_group(event.data.timescale)).inc()
        elif isinstance(event, SlaBreached):
            BREACHES.labels(timescale=timescale_group(event.data.timescale)).inc()
    # Met in this step: owed before, or started and met within it.
    for ts in step.case.timescales:
        if ts.met_at is not None and before.owed.get(ts.timescale, True):
            CLOSED.labels(timescale=timescale_group(ts.timescale),
                          result="met" if ts.met_at <= ts.due_at else "breached").inc()
    first = step.case.proposal
    if first is not None and first.number == 1 and not before.proposed:
        for agency in first.agencies_missing:
            DEADLINE_EXPIRIES.labels(agency=agency).inc()


expect_every_topic()
_expect(agencies())
