"""The desk's view of a case: built from the decision service's own events,
in any order, it says what the decision service's record says."""

import itertools
import random
from datetime import timedelta
from typing import Any

import pytest

from contracts.caseview import CaseView, Stage
from contracts.casework import Actor, CaseChanged, Role, SlaBreached, SlaWarning
from contracts.contact import Rag
from contracts.events import CaseOpenedData, DecisionMade, Outcome
from services.decision import domain as decision
from services.desk import domain
from tests.unit.test_decision_workflow import (
    FRIDAY_1655,
    MANUAL,
    decide,
    finding,
    new_case,
    recommend,
)

W = domain.Windows()
SW = Actor(actor_id="sw-ann", role=Role.SOCIAL_WORKER)
MGR = Actor(actor_id="mgr-bob", role=Role.MANAGER)
POLICE = Actor(actor_id="pc-dee", role=Role.RESEARCHER, agency="police")
OPERATOR = Actor(actor_id="op-eve", role=Role.OPERATOR)


def events_of(*commands: Any, auto: bool = False, findings: bool = True
              ) -> tuple[CaseOpenedData, list[Any]]:
    """A case through the decision service's real rules, and every event it emitted."""
    policy = decision.Policy(**{**MANUAL.__dict__, "auto_authorise": auto}) if auto else MANUAL
    case = new_case()
    assert case.opened is not None
    emitted: list[Any] = []
    step = decision.advance(case, FRIDAY_1655, policy)
    emitted += [e for _, e in step.emit]
    if findings:
        for agency in ("police", "health"):
            rec = step.case.model_copy(deep=True)
            rec.findings[agency] = finding(agency)
            step = decision.finding(rec, agency, FRIDAY_1655, policy, f"f-{agency}")
            emitted += [e for _, e in step.emit]
    for i, cmd in enumerate(commands):
        step = decision.command(step.case, cmd, FRIDAY_1655 + timedelta(minutes=5 * (i + 1)),
                                policy)
        emitted += [e for _, e in step.emit]
    return case.opened, emitted


def fold(opened: CaseOpenedData, emitted: list[Any]) -> CaseView:
    view = domain.opened(domain.new("CASE-1"), opened, W)
    return fold_into(view, emitted)


def fold_into(view: CaseView, emitted: list[Any]) -> CaseView:
    for e in emitted:
        if isinstance(e, CaseChanged):
            view = domain.changed(view, e.id, e.data, e.causation_id, W)
        elif isinstance(e, DecisionMade):
            view = domain.decided(view, e.data, W)
        elif isinstance(e, SlaWarning | SlaBreached):
            view = domain.timescale(view, e.data, isinstance(e, SlaBreached), W)
    return view


def test_a_proposed_case_waits_for_a_recommendation_with_its_explanation() -> None:
    opened, emitted = events_of()
    view = fold(opened, emitted)
    assert view.stage is Stage.AWAITING_DECISION
    assert view.proposal is not None
    assert view.proposal.explanation is not None
    assert view.rag is view.proposal.rag
    assert view.due_at == opened.contact.received_at + W.of(view.proposal.rag)
    assert [s.stage for s in view.trail()] == ["referrer", "triage", "proposed"]


def test_recommended_then_decided_by_another_manager() -> None:
    opened, emitted = events_of(recommend(Rag.RED, Outcome.STRATEGY_DISCUSSION),
                                decide("authorise"))
    view = fold(opened, emitted)
    assert view.stage is Stage.DECIDED
    assert view.decision is not None
    assert view.decision.rag is Rag.RED
    assert view.due_at is None
    trail = view.trail()
    assert [s.stage for s in trail] == ["referrer", "triage", "proposed", "recommended",
                                        "final"]
    assert trail[-2].who == "sw-ann"
    assert trail[-1].who == view.decision.decided_by


def test_the_same_view_whatever_order_the_events_arrive_in() -> None:
    opened, emitted = events_of(recommend(Rag.AMBER, Outcome.ASSESSMENT), decide("authorise"))
    expected = fold(opened, emitted).model_dump(exclude={"updated_at"})
    rng = random.Random(7)
    for _ in range(25):
        shuffled = emitted[:]
        rng.shuffle(shuffled)
        # The case-opened event may come last as well.
        view = fold_into(domain.new("CASE-1"), shuffled)
        view = domain.opened(view, opened, W)
        assert view.model_dump(exclude={"updated_at"}) == expected


def test_a_redelivered_history_line_changes_nothing() -> None:
    opened, emitted = events_of(recommend(Rag.AMBER, Outcome.ASSESSMENT))
    once = fold(opened, emitted)
    twice = fold_into(once, emitted)
    assert len(twice.history) == len(once.history)


def test_the_rules_authorising_amber_still_wait_for_a_manager() -> None:
    opened, emitted = events_of(auto=True)
    view = fold(opened, emitted)
    assert view.decision is not None
    assert view.decision.decided_by == "rules"
    expected = Stage.DECIDED if view.decision.rag is Rag.GREEN else Stage.AWAITING_CONFIRMATION
    assert view.stage is expected
    assert domain.waits_for(view, MGR) is (expected is Stage.AWAITING_CONFIRMATION)


def test_a_gathering_case_waits_for_the_agencies() -> None:
    opened, emitted = events_of(findings=False)
    view = fold(opened, emitted)
    assert view.stage is Stage.GATHERING
    assert domain.waiting_for(view) == "agencies' research"
    assert [a.agency for a in view.agencies] == sorted(opened.expected_agencies)
    assert all(a.answered_at is None and a.answer_by == opened.research_deadline
               for a in view.agencies)


def at(rag: Rag, hours_left: float, case_id: str) -> CaseView:
    now = FRIDAY_1655
    view = CaseView(case_id=case_id, stage=Stage.AWAITING_DECISION, rag=rag,
                    rag_order={Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2}[rag],
                    due_at=now + timedelta(hours=hours_left))
    return view


def test_the_tray_orders_red_then_amber_then_green_then_by_time_left() -> None:
    views = [at(Rag.GREEN, 1, "g1"), at(Rag.RED, 3, "r3"), at(Rag.AMBER, 2, "a2"),
             at(Rag.RED, 1, "r1"), at(Rag.AMBER, -1, "a-late"), at(Rag.GREEN, 70, "g70")]
    ordered = [v.case_id for v in sorted(views, key=domain.tray_key)]
    assert ordered == ["r1", "r3", "a-late", "a2", "g1", "g70"]


def test_gauges_count_answered_waiting_and_silent() -> None:
    opened, emitted = events_of(findings=False)
    view = fold(opened, emitted)
    answered = domain.finding(view, finding("police"), W)
    before = domain.gauges([answered], opened.research_deadline - timedelta(hours=1))
    police = next(g for g in before if g.agency == "police")
    health = next(g for g in before if g.agency == "health")
    assert (police.answered, police.waiting, police.silent) == (1, 0, 0)
    assert (health.answered, health.waiting, health.silent) == (0, 1, 0)
    assert health.least_left == timedelta(hours=1)
    after = domain.gauges([answered], opened.research_deadline + timedelta(minutes=1))
    assert next(g for g in after if g.agency == "health").silent == 1


@pytest.mark.parametrize(("actor", "recommend_ok", "decide_ok"), [
    (SW, True, False), (MGR, True, True), (POLICE, False, False), (OPERATOR, False, False)])
def test_who_may_do_what(actor: Actor, recommend_ok: bool, decide_ok: bool) -> None:
    opened, emitted = events_of()
    view = fold(opened, emitted)
    assert (domain.may_recommend(actor, view) is None) is recommend_ok
    assert (domain.may_decide(actor, view) is None) is decide_ok
    assert domain.may_work_cases(actor) is (actor.role is not Role.RESEARCHER)


def test_a_researcher_sees_their_own_agencys_enquiries_only() -> None:
    assert domain.may_see_enquiry(POLICE, "police")
    assert not domain.may_see_enquiry(POLICE, "health")
    assert not domain.may_see_enquiry(SW, "police")


@pytest.mark.parametrize(("seconds", "said"), [
    (3 * 3600 + 5 * 60, "3 h 05 m left"), (59, "0 m left"), (-12 * 60, "overdue by 12 m"),
    (2 * 86400 + 3600, "2 d 1 h left")])
def test_time_left_in_words(seconds: int, said: str) -> None:
    assert domain.time_left(FRIDAY_1655 + timedelta(seconds=seconds), FRIDAY_1655) == said


def test_every_order_of_recommend_and_propose_ends_recommended() -> None:
    opened, emitted = events_of(recommend(Rag.AMBER, Outcome.ASSESSMENT))
    lines = [e for e in emitted if isinstance(e, CaseChanged)]
    for order in itertools.permutations(lines):
        view = fold(opened, list(order))
        assert view.stage is Stage.RECOMMENDED
        assert view.recommendation is not None


def test_a_later_answer_after_a_note_replaces_the_agencys_line_an_older_one_does_not() -> None:
    opened, emitted = events_of(findings=False)
    view = fold(opened, emitted)
    first = finding("police")
    again = first.model_copy(update={"answered_at": first.answered_at + timedelta(hours=1),
                                     "items": []})
    view = domain.finding(view, first, W)
    view = domain.finding(view, again, W, caused_by="note-1")
    police = view.agency("police")
    assert police is not None
    assert (police.caused_by, police.items) == ("note-1", [])
    late = domain.finding(view, first, W)  # the older answer redelivered
    assert late.agency("police") == police


def test_every_fold_is_idempotent_so_no_processed_record_is_needed() -> None:
    opened, emitted = events_of(recommend(Rag.AMBER, Outcome.ASSESSMENT), decide("authorise"))
    once = fold(opened, emitted)
    twice = domain.opened(fold_into(once, emitted), opened, W)
    twice = domain.finding(twice, finding("police"), W)
    again = domain.finding(domain.finding(once, finding("police"), W), finding("police"), W)
    assert twice.model_dump(exclude={"updated_at"}) == \
        domain.finding(once, finding("police"), W).model_dump(exclude={"updated_at"})
    assert again == domain.finding(once, finding("police"), W)
