"""Measured demand from hand-built case views, to the unit."""

from datetime import UTC, datetime, timedelta
from importlib.resources import files

import pytest

from contracts.caseview import AgencyLine, CaseView, ContactLine, Decided, HistoryLine, Proposed
from contracts.casework import Actor, HistoryKind, Role
from contracts.contact import Child, Consent, ConsentState, Contact, Rag, Referrer
from contracts.events import Outcome
from mash.report.workload.assumptions import parse
from mash.report.workload.demand import hour_of_week, measure, percentile

ASSUMED = parse(files("mash.report.workload").joinpath("assumptions.toml").read_text("utf-8"))
MANAGER = Actor(actor_id="mgr-ann", role=Role.MANAGER)
START = datetime(2026, 11, 2, tzinfo=UTC)   # a Monday; London is on GMT
END = START + timedelta(weeks=2)


def contact(n: str, at: datetime) -> Contact:
    return Contact(contact_id=n, referrer_reference=n, received_at=at, channel="notification",
                   referrer=Referrer(agency="police", source_code="6"),
                   children=[Child(given_name="Ava", family_name="Smith")], concerns=["3A"],
                   analysis="Not read.", consent=Consent(state=ConsentState.GIVEN))


def view(n: str, at: datetime, rag: Rag, *, answers: dict[str, float | None] | None = None,
         decided_after: float | None = None, by: str = "mgr-ann", first_after: float | None = None,
         contacts: int = 1) -> CaseView:
    """A case opened at ``at``; ``answers`` maps each agency asked to the
    minutes it took (None: silent); decided that many minutes after."""
    lines = [ContactLine(contact=contact(f"{n}-{i}", at), joined="opened" if i == 0 else
                         "re-contact", at=at) for i in range(contacts)]
    agencies = [AgencyLine(agency=a, answered_at=None if m is None else at + timedelta(minutes=m))
                for a, m in (answers or {}).items()]
    v = CaseView(case_id=n, received_at=at, opened_at=at, triage_rag=rag, rag=rag,
                 contacts=lines, agencies=agencies)
    if decided_after is not None:
        when = at + timedelta(minutes=decided_after)
        v.decision = Decided(rag=rag, outcome=Outcome.NFA, level_of_need=2, decided_by=by,
                             at=when, version=2 if first_after is not None else 1)
        if first_after is not None:
            v.history.append(HistoryLine(event_id=f"{n}-1", at=at + timedelta(minutes=first_after),
                                         kind=HistoryKind.AUTHORISED, actor=MANAGER, text="x"))
    return v


def test_hour_of_week_is_london_time() -> None:
    assert hour_of_week(datetime(2026, 11, 2, 0, 30, tzinfo=UTC)) == 0       # Mon 00:30 GMT
    assert hour_of_week(datetime(2026, 11, 8, 23, 59, tzinfo=UTC)) == 167    # Sun 23:59 GMT
    # 23:30 UTC on Sunday 5 July is 00:30 BST on Monday
    assert hour_of_week(datetime(2026, 7, 5, 23, 30, tzinfo=UTC)) == 0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0


def hub() -> list[CaseView]:
    mon9 = START + timedelta(hours=9)
    return [
        # RED at Monday 09:xx, decided in 3 h (in time); police 30 min, health silent
        view("R1", mon9 + timedelta(minutes=5), Rag.RED, answers={"police": 30, "health": None},
             decided_after=180),
        # RED the next Monday 09:xx, first decided after 5 h (late), re-decided later
        view("R2", mon9 + timedelta(weeks=1, minutes=10), Rag.RED, answers={"police": 150},
             decided_after=600, first_after=300, contacts=3),
        # AMBER decided by the rules in 2 h
        view("A1", START + timedelta(days=2, hours=14), Rag.AMBER, answers={"police": 60},
             decided_after=120, by="rules"),
        # GREEN undecided, within its 72 h at the end of the period
        view("G1", END - timedelta(hours=1), Rag.GREEN),
        # GREEN undecided and past 72 h: late
        view("G2", START + timedelta(days=3), Rag.GREEN, answers={"education": 20}),
        # outside the period: not counted
        view("X1", START - timedelta(minutes=1), Rag.RED, decided_after=10),
        view("X2", END, Rag.RED, decided_after=10),
    ]


def test_arrivals_are_counted_by_hour_of_week_and_averaged_over_the_weeks() -> None:
    d = measure(hub(), START, END, ASSUMED)
    assert d.weeks == 2
    assert d.cases == {Rag.RED: 2, Rag.AMBER: 1, Rag.GREEN: 2}
    assert d.arrivals[Rag.RED][9] == 1.0          # two Mondays 09:00, over two weeks
    assert sum(d.arrivals[Rag.RED]) == 1.0
    assert d.arrivals[Rag.AMBER][2 * 24 + 14] == 0.5
    assert d.per_week() == 2.5
    assert d.busiest_hours(1) == [(9, 1.0)]


def test_contacts_per_case_and_agencies_asked() -> None:
    d = measure(hub(), START, END, ASSUMED)
    assert d.contacts_per_case[Rag.RED] == 2.0    # one and three
    assert d.contacts == 1 + 3 + 1 + 1 + 1
    assert d.asked[Rag.RED] == {"health": 0.5, "police": 1.0}
    assert d.asked[Rag.GREEN] == {"education": 0.5}


def test_research_turnaround_from_the_opening() -> None:
    d = measure(hub(), START, END, ASSUMED)
    police = next(t for t in d.research if t.agency == "police")
    assert (police.asked, police.answered) == (3, 3)
    # RED window 2 h: 30 min in, 150 min out; AMBER window 6 h: 60 min in
    assert police.within_window == 2
    assert police.p50 == 60
    health = next(t for t in d.research if t.agency == "health")
    assert (health.asked, health.answered, health.p50) == (1, 0, None)


def test_decisions_seen_against_the_timescale_from_the_first_decision() -> None:
    d = measure(hub(), START, END, ASSUMED)
    red = d.decisions[Rag.RED]
    assert (red.within, red.late, red.open) == (1, 1, 0)
    assert red.share == 0.5
    assert red.p50 == 180
    assert red.p90 == 300
    assert d.decisions[Rag.AMBER].by_people == 0     # the rules decided it
    green = d.decisions[Rag.GREEN]
    assert (green.within, green.late, green.open) == (0, 1, 1)


def test_scaled_keeps_the_shape_and_flattened_keeps_the_volume() -> None:
    d = measure(hub(), START, END, ASSUMED)
    big = d.scaled(3000)
    assert big.contacts_per_month() == pytest.approx(3000)
    assert big.arrivals[Rag.RED][9] / big.arrivals[Rag.AMBER][62] == pytest.approx(2.0)
    flat = d.flattened()
    assert sum(flat.arrivals[Rag.RED]) == pytest.approx(sum(d.arrivals[Rag.RED]))
    assert len(set(flat.arrivals[Rag.RED])) == 1


def test_a_case_the_proposal_raised_to_red_counts_as_red() -> None:
    raised = view("R3", START + timedelta(hours=10), Rag.AMBER, decided_after=300)
    raised.proposal = Proposed(rag=Rag.RED, outcome=Outcome.STRATEGY_DISCUSSION, text="x",
                               at=START + timedelta(hours=11))
    lowered = view("A2", START + timedelta(hours=10), Rag.AMBER, decided_after=300)
    lowered.proposal = Proposed(rag=Rag.GREEN, outcome=Outcome.NFA, text="x",
                                at=START + timedelta(hours=11))
    d = measure([raised, lowered], START, END, ASSUMED)
    assert d.cases == {Rag.RED: 1, Rag.AMBER: 1, Rag.GREEN: 0}
    assert d.decisions[Rag.RED].late == 1    # 5 hours against RED's 4
    assert d.decisions[Rag.AMBER].within == 1


def test_an_empty_period_measures_nothing_and_cannot_be_scaled() -> None:
    d = measure([], START, END, ASSUMED)
    assert d.per_week() == 0
    assert d.busiest_hours() == []
    with pytest.raises(ValueError, match="nothing to scale"):
        d.scaled(3000)
