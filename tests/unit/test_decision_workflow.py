"""A case from gathering to the manager's final word, late information, and
every timescale, on a controllable clock (no broker, no database)."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import topics
from contracts.casework import (
    Actor,
    CaseChanged,
    DecideCommand,
    DecideData,
    HistoryKind,
    RecommendationData,
    RecommendCommand,
    Role,
    SlaBreached,
    SlaWarning,
)
from contracts.contact import Rag
from contracts.events import CaseOpenedData, ContactAddedData, DecisionMade, FindingData, Outcome
from services.decision import domain
from services.decision.calendar import LONDON
from services.decision.domain import CaseRecord, Policy, Step
from tests.factories import contact
from tests.unit.test_decision_domain import finding

MANUAL = Policy(auto_authorise=False)
AUTO = Policy(auto_authorise=True)
AGENCIES = ["police", "health"]
SW = Actor(actor_id="sw-ann", role=Role.SOCIAL_WORKER)
MGR = Actor(actor_id="mgr-bob", role=Role.MANAGER)


def london(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


FRIDAY_1655 = london(2026, 11, 20, 16, 55)


def new_case(received: datetime = FRIDAY_1655, triage: Rag = Rag.AMBER,
             **overrides: Any) -> CaseRecord:
    c = contact(received_at=received.isoformat(), **overrides)
    opened = CaseOpenedData(case_id="CASE-1", contact=c, expected_agencies=AGENCIES,
                            triage_rag=triage, opened_at=received,
                            research_deadline=received + timedelta(hours=6))
    return CaseRecord.model_validate({"_id": "CASE-1", "opened": opened,
                                      "correlation_id": c.contact_id})


def answered(case: CaseRecord, now: datetime, policy: Policy,
             **findings: FindingData) -> Step:
    step = domain.advance(case, now, policy)
    for agency, f in findings.items():
        rec = step.case.model_copy(deep=True)
        rec.findings[agency] = f
        nxt = domain.finding(rec, agency, now, policy, f"f-{agency}")
        nxt.emit = step.emit + nxt.emit
        step = nxt
    return step


def all_in(policy: Policy = MANUAL, now: datetime = FRIDAY_1655, **overrides: Any) -> Step:
    return answered(new_case(**overrides), now, policy, police=finding("police"),
                    health=finding("health"))


def of(step: Step, cls: type[Any]) -> list[Any]:
    return [e for _, e in step.emit if isinstance(e, cls)]


def recommend(rag: Rag, outcome: Outcome, actor: Actor = SW) -> RecommendCommand:
    return RecommendCommand.new(
        RecommendationData(case_id="CASE-1", actor=actor, rag=rag, outcome=outcome,
                           rationale="Second incident this month; mother has asked for help."),
        id=f"rec-{rag}-{outcome}", source="/mash/cli", subject="CASE-1", correlation_id="C-0001")


def decide(action: str, actor: Actor = MGR, **kw: Any) -> DecideCommand:
    return DecideCommand.new(DecideData(case_id="CASE-1", actor=actor, action=action, **kw),
                             id=f"dec-{action}-{kw.get('rag')}", source="/mash/cli",
                             subject="CASE-1", correlation_id="C-0001")


# --- gathering and proposing -------------------------------------------------

def test_gathering_waits_for_every_agency() -> None:
    step = answered(new_case(), FRIDAY_1655, MANUAL, police=finding("police"))
    assert step.case.state == "gathering"
    assert not of(step, CaseChanged)


def test_without_auto_authorise_the_rules_only_propose() -> None:
    step = all_in()
    assert step.case.state == "proposed"
    assert step.case.proposal is not None
    assert step.case.proposal.rule_set_version == domain.RULE_SET_VERSION
    assert not of(step, DecisionMade), "nothing goes to notify without a manager"
    [proposed] = of(step, CaseChanged)
    assert proposed.data.kind is HistoryKind.PROPOSED
    # The police rated it AMBER and intake triaged it AMBER: floors the rules keep.
    assert proposed.data.rule_ids == ["L2", "FLOOR-REFERRER", "FLOOR-TRIAGE"]


def test_the_research_deadline_completes_gathering_with_who_is_missing() -> None:
    case = new_case()
    step = domain.sla(answered(case, FRIDAY_1655, MANUAL, police=finding("police")).case,
                      FRIDAY_1655 + timedelta(hours=6), MANUAL)
    assert step.case.state == "proposed"
    assert step.case.proposal is not None
    assert step.case.proposal.agencies_missing == ["health"]
    assert step.case.proposal.reasons[-1].rule_id == "N1-AGENCIES-MISSING"


def test_auto_authorise_decides_by_the_rules_and_says_so() -> None:
    step = all_in(AUTO)
    [decision] = of(step, DecisionMade)
    assert decision.data.decided_by == "rules"
    assert step.case.state == "decided"
    kinds = [h.kind for h in step.case.history]
    assert kinds == [HistoryKind.PROPOSED, HistoryKind.AUTHORISED]
    assert "no person reviewed" in step.case.history[-1].text


# --- people decide -------------------------------------------------------------

def test_recommendation_then_the_manager_authorises_it() -> None:
    step = all_in()
    step = domain.command(step.case, recommend(Rag.GREEN, Outcome.EARLY_HELP), FRIDAY_1655, MANUAL)
    assert step.case.recommendation is not None
    assert not of(step, DecisionMade)
    refused = domain.command(step.case, decide("authorise"), FRIDAY_1655, MANUAL)
    assert not of(refused, DecisionMade), "GREEN is below the police's AMBER: a rationale first"
    assert "below the referrer's AMBER" in of(refused, CaseChanged)[0].data.text
    step = domain.command(step.case, decide("authorise", rationale="Mother asks for help; "
                                            "no injury, first incident."), FRIDAY_1655, MANUAL)
    [decision] = of(step, DecisionMade)
    d = decision.data
    assert (d.rag, d.outcome, d.level_of_need) == (Rag.GREEN, Outcome.EARLY_HELP, 2)
    assert (d.referrer_rag, d.proposed_rag, d.recommended_rag) == (Rag.AMBER, Rag.AMBER, Rag.GREEN)
    assert d.decided_by == "mgr-bob"
    assert [r.rule_id for r in d.reasons][-3:] == ["SW-RECOMMENDATION", "MANAGER-AUTHORISED",
                                                   "FLOOR-LOWERED"]
    assert "sw-ann" in d.reasons[-3].text
    assert "below the referrer's AMBER, by mgr-bob" in d.reasons[-1].text
    who = [(h.kind, h.actor.actor_id) for h in step.case.history]
    assert who == [(HistoryKind.PROPOSED, "rules"), (HistoryKind.RECOMMENDED, "sw-ann"),
                   (HistoryKind.AUTHORISED, "mgr-bob")]


def test_the_manager_overrides_with_a_rationale() -> None:
    step = domain.command(all_in().case, decide("override", rag=Rag.RED,
                                                outcome=Outcome.STRATEGY_DISCUSSION,
                                                rationale="Bruising seen by the school nurse."),
                          FRIDAY_1655, MANUAL)
    [decision] = of(step, DecisionMade)
    assert (decision.data.rag, decision.data.level_of_need) == (Rag.RED, 4)
    assert decision.data.rationale == "Bruising seen by the school nurse."
    assert decision.data.reasons[-1].rule_id == "MANAGER-OVERRIDE"
    assert step.case.history[-1].kind is HistoryKind.OVERRIDDEN


def test_an_override_without_a_rationale_is_not_a_command() -> None:
    with pytest.raises(ValidationError, match="rationale"):
        DecideData(case_id="CASE-1", actor=MGR, action="override", rag=Rag.RED,
                   outcome=Outcome.ASSESSMENT)
    with pytest.raises(ValidationError, match="RAG and the outcome"):
        DecideData(case_id="CASE-1", actor=MGR, action="override", rationale="why")


@pytest.mark.parametrize(("state_of", "cmd", "why"), [
    ("proposed", lambda: decide("authorise", actor=SW), "only a MASH manager"),
    ("proposed", lambda: decide("authorise", actor=Actor(actor_id="rules", role=Role.RULES)),
     "from people"),
    ("gathering", lambda: decide("authorise"), "still gathered; waiting on health"),
    ("decided", lambda: recommend(Rag.RED, Outcome.ASSESSMENT), "not open for review"),
])
def test_commands_that_cannot_apply_are_refused_on_the_record(
        state_of: str, cmd: Any, why: str) -> None:
    if state_of == "gathering":
        case = answered(new_case(), FRIDAY_1655, MANUAL, police=finding("police")).case
    elif state_of == "decided":
        case = all_in(AUTO, referrer_rag=None, triage=Rag.GREEN).case
        assert not case.review, "a GREEN decision by the rules waits for nobody"
    else:
        case = all_in().case
    step = domain.command(case, cmd(), FRIDAY_1655, MANUAL)
    assert not of(step, DecisionMade)
    [refused] = of(step, CaseChanged)
    assert refused.data.kind is HistoryKind.COMMAND_REFUSED
    assert why in refused.data.text
    assert step.case.state == case.state


# --- who may do what ----------------------------------------------------------------

OTHER_MGR = Actor(actor_id="mgr-cat", role=Role.MANAGER)
RESEARCHER = Actor(actor_id="res-dan", role=Role.RESEARCHER, agency="police")
OPERATOR = Actor(actor_id="ops-eve", role=Role.OPERATOR)
OVERRIDE = {"rag": Rag.RED, "outcome": Outcome.STRATEGY_DISCUSSION,
            "rationale": "Bruising seen by the school nurse."}


def recommended_by(actor: Actor) -> CaseRecord:
    step = domain.command(all_in().case, recommend(Rag.AMBER, Outcome.ASSESSMENT, actor=actor),
                          FRIDAY_1655, MANUAL)
    assert step.case.recommendation is not None
    assert step.case.recommendation.actor == actor
    return step.case


def refusal(step: Step) -> str:
    assert not of(step, DecisionMade)
    [refused] = of(step, CaseChanged)
    assert refused.data.kind is HistoryKind.COMMAND_REFUSED
    return str(refused.data.text)


@pytest.mark.parametrize("action", ["authorise", "override"])
def test_a_manager_may_not_decide_on_their_own_recommendation(action: str) -> None:
    case = recommended_by(MGR)
    kw = OVERRIDE if action == "override" else {}
    step = domain.command(case, decide(action, actor=MGR, **kw), FRIDAY_1655, MANUAL)
    assert refusal(step) == f"Command refused: {domain.OWN_RECOMMENDATION}"
    assert step.case.state == "proposed"
    assert step.case.recommendation == case.recommendation, "the recommendation still waits"


@pytest.mark.parametrize("action", ["authorise", "override"])
def test_another_manager_decides_on_a_managers_recommendation(action: str) -> None:
    kw = OVERRIDE if action == "override" else {}
    step = domain.command(recommended_by(MGR), decide(action, actor=OTHER_MGR, **kw),
                          FRIDAY_1655, MANUAL)
    [decision] = of(step, DecisionMade)
    assert decision.data.decided_by == "mgr-cat"
    assert decision.data.recommended_rag is Rag.AMBER
    assert step.case.state == "decided"


def test_a_manager_who_did_not_recommend_decides_on_a_social_workers_recommendation() -> None:
    step = domain.command(recommended_by(SW), decide("authorise"), FRIDAY_1655, MANUAL)
    [decision] = of(step, DecisionMade)
    assert decision.data.decided_by == "mgr-bob"


def test_a_social_worker_may_not_decide() -> None:
    for action in ("authorise", "override"):
        kw = OVERRIDE if action == "override" else {}
        step = domain.command(recommended_by(SW), decide(action, actor=SW, **kw), FRIDAY_1655,
                              MANUAL)
        assert refusal(step) == "Command refused: only a MASH manager makes the final decision"


@pytest.mark.parametrize(("actor", "says"), [
    (RESEARCHER, "an agency researcher answers their own agency's enquiries"),
    (OPERATOR, "an operator watches the desk and acts on no case"),
    (domain.RULES_ACTOR, "commands come from people, not the rules"),
])
def test_only_social_workers_and_managers_recommend_and_only_managers_decide(
        actor: Actor, says: str) -> None:
    case = all_in().case
    for cmd in (recommend(Rag.RED, Outcome.ASSESSMENT, actor=actor),
                decide("authorise", actor=actor)):
        step = domain.command(case, cmd, FRIDAY_1655, MANUAL)
        assert refusal(step).startswith(f"Command refused: {says}")
        assert step.case.recommendation is None
        assert step.case.state == "proposed"


def test_a_role_that_may_not_act_is_told_so_whatever_the_cases_state() -> None:
    gathering = answered(new_case(), FRIDAY_1655, MANUAL, police=finding("police")).case
    step = domain.command(gathering, recommend(Rag.RED, Outcome.ASSESSMENT, actor=OPERATOR),
                          FRIDAY_1655, MANUAL)
    assert "an operator" in refusal(step)


def test_a_manager_may_recommend() -> None:
    step = domain.command(all_in().case, recommend(Rag.AMBER, Outcome.ASSESSMENT, actor=MGR),
                          FRIDAY_1655, MANUAL)
    assert [e.data.kind for e in of(step, CaseChanged)] == [HistoryKind.RECOMMENDED]


def test_the_proposal_line_carries_its_explanation() -> None:
    step = all_in()
    [proposed] = of(step, CaseChanged)
    assert step.case.proposal is not None
    assert proposed.data.explanation is not None
    assert proposed.data.explanation == step.case.proposal.explanation
    proposed.checked_bytes()  # within the size an event may have


# --- late information ------------------------------------------------------------

def late(case: CaseRecord, agency: str, f: FindingData, now: datetime, policy: Policy) -> Step:
    rec = case.model_copy(deep=True)
    rec.findings[agency] = f
    return domain.finding(rec, agency, now, policy, f"late-{agency}")


def test_a_late_finding_that_changes_the_rag_reopens_the_case_visibly() -> None:
    step = domain.sla(answered(new_case(concerns=["3B"], referrer_rag=None, triage=Rag.GREEN),
                               FRIDAY_1655, AUTO,
                               police=finding("police")).case,
                      FRIDAY_1655 + timedelta(hours=6), AUTO)
    [first] = of(step, DecisionMade)
    assert first.data.rag is Rag.GREEN
    later = FRIDAY_1655 + timedelta(hours=7)
    step = late(step.case, "health", finding("health", "high"), later, MANUAL)
    assert step.case.state == "proposed"
    kinds = [e.data.kind for e in of(step, CaseChanged)]
    assert kinds == [HistoryKind.LATE_FINDING, HistoryKind.REOPENED, HistoryKind.PROPOSED]
    assert "from GREEN to AMBER" in of(step, CaseChanged)[1].data.text
    assert step.case.timescale("decision-rag-v2") is not None
    step = domain.command(step.case, decide("authorise"), later, MANUAL)
    [second] = of(step, DecisionMade)
    assert (second.data.decision_version, second.data.rag) == (2, Rag.AMBER)
    assert second.id != first.id


def test_a_late_finding_that_changes_nothing_flags_the_case_for_review() -> None:
    step = domain.sla(answered(new_case(), FRIDAY_1655, AUTO, police=finding("police")).case,
                      FRIDAY_1655 + timedelta(hours=6), AUTO)
    step = late(step.case, "health", finding("health"), FRIDAY_1655 + timedelta(hours=7), AUTO)
    assert step.case.state == "decided"
    assert step.case.review
    assert not of(step, DecisionMade)
    assert [e.data.kind for e in of(step, CaseChanged)] == \
        [HistoryKind.LATE_FINDING, HistoryKind.FLAGGED_FOR_REVIEW]
    step = domain.command(step.case, decide("authorise", rationale="Read it; no change."),
                          FRIDAY_1655 + timedelta(hours=8), AUTO)
    assert not of(step, DecisionMade)
    assert step.case.review == []
    assert step.case.history[-1].kind is HistoryKind.REVIEWED


def added(case: CaseRecord, now: datetime, policy: Policy, **overrides: Any) -> Step:
    extra = contact(contact_id="C-0002", referrer_reference="HV-2", **overrides)
    data = ContactAddedData(case_id="CASE-1", contact=extra, reason="re-contact", added_at=now)
    rec = case.model_copy(deep=True)
    rec.added.append(domain.AddedContact(contact=extra, reason="re-contact", added_at=now))
    return domain.contact_added(rec, data, now, policy, "added-1")


def test_a_contact_added_after_the_decision_is_reissued_when_auto_authorising() -> None:
    step = added(all_in(AUTO).case, FRIDAY_1655 + timedelta(hours=1), AUTO)
    [decision] = of(step, DecisionMade)
    assert decision.data.contact_ids == ["C-0001", "C-0002"]
    assert decision.data.decision_version == 2


def test_a_contact_added_after_the_decision_waits_for_a_manager_without_auto() -> None:
    case = domain.command(all_in().case, decide("authorise"), FRIDAY_1655, MANUAL).case
    step = added(case, FRIDAY_1655 + timedelta(hours=1), MANUAL)
    assert not of(step, DecisionMade)
    assert step.case.review
    step = domain.command(step.case, decide("authorise"), FRIDAY_1655 + timedelta(hours=2), MANUAL)
    [decision] = of(step, DecisionMade)
    assert decision.data.contact_ids == ["C-0001", "C-0002"]


def test_a_contact_added_while_gathering_counts_in_the_proposal() -> None:
    case = answered(new_case(concerns=["20"], referrer_rag=None), FRIDAY_1655, MANUAL,
                    police=finding("police")).case
    step = added(case, FRIDAY_1655, MANUAL, concerns=["16A"])
    assert step.case.state == "gathering"
    rec = step.case.model_copy(deep=True)
    rec.findings["health"] = finding("health")
    step = domain.finding(rec, "health", FRIDAY_1655, MANUAL, "f")
    assert step.case.proposal is not None
    assert step.case.proposal.rag is Rag.AMBER
    assert step.case.proposal.explanation is not None
    assert "cin-16A" in [i.indicator for i in step.case.proposal.explanation.indicators]


# --- timescales ------------------------------------------------------------------

def sweep(case: CaseRecord, now: datetime, policy: Policy = MANUAL) -> tuple[CaseRecord, list[str]]:
    step = domain.sla(case, now, policy)
    out = [f"{type(e).__name__}:{e.data.timescale}" for _, e in step.emit
           if isinstance(e, SlaWarning | SlaBreached)]
    return step.case, out


def test_a_contact_at_1655_on_a_friday_and_nobody_decides() -> None:
    case = all_in().case  # proposed on Friday 16:55 (AMBER triage), no manager
    due = {t.timescale: t.due_at for t in case.timescales}
    assert due["decision-rag"] == FRIDAY_1655 + timedelta(hours=24)
    assert due["decision-working-day"] == london(2026, 11, 23, 16, 55)
    assert due["confidential-enquiry"] == FRIDAY_1655 + timedelta(hours=24)
    # 75 % of the way: 18 hours for the RAG window.
    case, seen = sweep(case, FRIDAY_1655 + timedelta(hours=18))
    assert seen == ["SlaWarning:decision-rag"]
    case, seen = sweep(case, london(2026, 11, 21, 16, 55))
    assert seen == ["SlaBreached:decision-rag"]
    # 75 % of one working day (8 h) is 6 h of working time: Monday 14:55.
    case, seen = sweep(case, london(2026, 11, 23, 14, 54))
    assert seen == []
    case, seen = sweep(case, london(2026, 11, 23, 14, 55))
    assert seen == ["SlaWarning:decision-working-day"]
    case, seen = sweep(case, london(2026, 11, 23, 16, 55))
    assert seen == ["SlaBreached:decision-working-day"]
    case, seen = sweep(case, london(2026, 11, 30))
    assert seen == []
    assert case.next_alert() is None


def test_every_open_timescale_has_an_alert_ahead_of_it() -> None:
    case = all_in().case
    assert case.next_alert() == min(t.warn_at for t in case.timescales if t.open)


def test_a_sweeper_that_was_away_reports_the_breach_not_a_stale_warning() -> None:
    _, seen = sweep(all_in().case, london(2026, 11, 25))
    assert seen == ["SlaBreached:decision-rag", "SlaBreached:decision-working-day"]


def test_a_bank_holiday_moves_the_working_day_timescale() -> None:
    case = all_in(received=london(2026, 12, 24, 15), now=london(2026, 12, 24, 15)).case
    assert case.timescale("decision-working-day").due_at == london(2026, 12, 29, 15)  # type: ignore[union-attr]


def test_sla_events_have_stable_ids_and_come_once() -> None:
    case = all_in().case
    first = domain.sla(case, london(2026, 11, 23, 17), MANUAL)
    again = domain.sla(case, london(2026, 11, 23, 17), MANUAL)
    assert [e.id for _, e in first.emit] == [e.id for _, e in again.emit]
    assert not domain.sla(first.case, london(2026, 11, 23, 18), MANUAL).emit


def test_a_decision_meets_the_decision_timescales_and_starts_the_outcome_ones() -> None:
    at = london(2026, 11, 20, 11)  # Friday, in working hours
    step = domain.command(all_in(now=at, received=at).case,
                          decide("override", rag=Rag.RED, outcome=Outcome.STRATEGY_DISCUSSION,
                                 rationale="Disclosure to the teacher this morning."), at, MANUAL)
    ts = {t.timescale: t for t in step.case.timescales}
    assert ts["decision-rag"].met_at == at
    assert ts["decision-working-day"].met_at == at
    assert ts["s47-to-duty"].due_at == london(2026, 11, 20, 17)
    assert ts["icpc-15wd"].due_at == london(2026, 12, 11, 11)
    assert ts["assessment-45wd"].due_at == london(2027, 1, 27, 11)
    [decision] = of(step, DecisionMade)
    assert {d.timescale for d in decision.data.due} == {"s47-to-duty", "icpc-15wd",
                                                        "assessment-45wd"}


def test_s47_decided_out_of_hours_goes_to_the_emergency_duty_team_within_4_hours() -> None:
    at = london(2026, 11, 20, 21)
    step = domain.command(all_in(now=at, received=at).case,
                          decide("override", rag=Rag.RED, outcome=Outcome.STRATEGY_DISCUSSION,
                                 rationale="Police at the house now."), at, MANUAL)
    assert step.case.timescale("s47-to-duty").due_at == at + timedelta(hours=4)  # type: ignore[union-attr]


def test_an_acknowledgement_meets_the_outcome_timescale() -> None:
    case = all_in(AUTO).case
    assert case.timescale("outcome-48h") is not None
    step = domain.acknowledged(case, "early-help-hub", "nfa", FRIDAY_1655 + timedelta(hours=2),
                               "ack-1")
    assert step.case.timescale("outcome-48h").met_at is not None  # type: ignore[union-attr]
    _, seen = sweep(step.case, FRIDAY_1655 + timedelta(days=3), AUTO)
    assert "SlaBreached:outcome-48h" not in seen


def test_an_unacknowledged_outcome_breaches() -> None:
    _, seen = sweep(all_in(AUTO).case, FRIDAY_1655 + timedelta(hours=48), AUTO)
    assert "SlaBreached:outcome-48h" in seen


def test_short_timescales_for_tests_come_from_configuration() -> None:
    policy = Policy(overrides={"decision-rag": timedelta(seconds=6)})
    case = all_in(policy).case
    assert case.timescale("decision-rag").due_at == FRIDAY_1655 + timedelta(seconds=6)  # type: ignore[union-attr]


def test_history_events_go_to_the_history_topic_with_stable_ids() -> None:
    a, b = all_in(AUTO), all_in(AUTO)
    assert [(t, e.id) for t, e in a.emit] == [(t, e.id) for t, e in b.emit]
    assert {t for t, _ in a.emit} == {topics.CASE_HISTORY, topics.DECISIONS}


def test_an_auto_authorised_red_or_amber_decision_awaits_a_managers_confirmation() -> None:
    step = all_in(AUTO)  # police AMBER: the rules authorise, and a manager must confirm
    [decision] = of(step, DecisionMade)
    assert decision.data.rag is Rag.AMBER
    assert decision.data.decided_by == "rules"
    assert step.case.review == [domain.CONFIRMATION]
    step = domain.command(step.case, decide("authorise", rationale="Agree: repeat incidents."),
                          FRIDAY_1655, MANUAL)
    assert not of(step, DecisionMade), "confirming changes nothing that notify must know"
    assert of(step, CaseChanged)[0].data.kind is HistoryKind.REVIEWED
    assert step.case.review == []
