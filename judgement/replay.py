"""A threshold change replayed on past cases before it goes live. Pure.

Each recorded case is judged again by the new model on the facts it was
last judged on (``facts_of`` rebuilds them from the decision service's case
document), and compared with what was recorded: the proposal (its RAG and
outcome), the floors (the referrer's RAG and intake's triage) and, when a
person decided, that person's RAG. Nothing is emitted or written.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from contracts.contact import Contact, Rag
from contracts.events import CaseOpenedData, FindingData, Outcome
from judgement.facts import ORDER, Facts, below
from judgement.model import Model

Direction = Literal["up", "down", "same"]
# Who decided when nobody did: the decision service's actor for auto-authorise.
RULES = "rules"


@dataclass(frozen=True)
class Recorded:
    """One case as it was last judged: its facts, the proposal recorded on
    them and, once decided, the decision."""

    case_id: str
    facts: Facts
    proposed_rag: Rag
    proposed_outcome: Outcome
    rule_set_version: str
    decided_rag: Rag | None = None
    decided_outcome: Outcome | None = None
    decided_by: str | None = None


@dataclass(frozen=True)
class Change:
    """A case whose RAG or outcome the new model would change."""

    case_id: str
    old_rag: Rag
    old_outcome: Outcome
    new_rag: Rag
    new_outcome: Outcome
    direction: Direction
    rule_ids: tuple[str, ...]
    old_version: str

    @property
    def outcome_changed(self) -> bool:
        return self.old_outcome is not self.new_outcome


@dataclass(frozen=True)
class BelowFloor:
    """A RAG under the referrer's or intake's rating. ``rag`` is the new
    proposal's (below the floor) or, for one the floor held up, what the
    model's own indicators reached."""

    case_id: str
    rag: Rag
    floor: Literal["referrer", "triage"]
    floor_rag: Rag


@dataclass(frozen=True)
class BelowPerson:
    """A case the new model would rate lower than the person who decided it."""

    case_id: str
    new_rag: Rag
    new_outcome: Outcome
    decided_rag: Rag
    decided_outcome: Outcome
    decided_by: str


@dataclass(frozen=True)
class Unreadable:
    """A case document the contracts' models refuse: reported, not replayed."""

    case_id: str
    problem: str


@dataclass
class Replay:
    version: str
    replayed: int = 0
    recorded_versions: Counter[str] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    directions: Counter[Direction] = field(default_factory=Counter)
    outcome_changed: int = 0
    below_floor: list[BelowFloor] = field(default_factory=list)
    held_by_floor: list[BelowFloor] = field(default_factory=list)
    below_person: list[BelowPerson] = field(default_factory=list)
    # Only from documents: what could not be read, and cases not yet proposed.
    unreadable: list[Unreadable] = field(default_factory=list)
    not_proposed: int = 0

    def as_dict(self) -> dict[str, Any]:
        def rows(items: Iterable[object]) -> list[dict[str, Any]]:
            return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(i).items()}
                    for i in items]
        return {"version": self.version, "replayed": self.replayed,
                "recorded_versions": dict(self.recorded_versions),
                "directions": {d: self.directions[d] for d in ("up", "down", "same")},
                "outcome_changed": self.outcome_changed,
                "changes": rows(self.changes), "below_floor": rows(self.below_floor),
                "held_by_floor": rows(self.held_by_floor),
                "below_person": rows(self.below_person),
                "unreadable": rows(self.unreadable), "not_proposed": self.not_proposed}


def direction(old: Rag, new: Rag) -> Direction:
    if old is new:
        return "same"
    return "up" if ORDER.index(new) > ORDER.index(old) else "down"


def _floors(facts: Facts) -> list[tuple[Literal["referrer", "triage"], Rag]]:
    given: list[tuple[Literal["referrer", "triage"], Rag | None]] = [
        ("referrer", facts.referrer_rag), ("triage", facts.triage_rag)]
    return [(name, rag) for name, rag in given if rag is not None]


def replay_one(model: Model, case: Recorded, into: Replay) -> None:
    j = model.judge(case.facts)
    into.replayed += 1
    into.recorded_versions[case.rule_set_version] += 1
    way = direction(case.proposed_rag, j.rag)
    into.directions[way] += 1
    if j.outcome is not case.proposed_outcome:
        into.outcome_changed += 1
    if way != "same" or j.outcome is not case.proposed_outcome:
        into.changes.append(Change(
            case_id=case.case_id, old_rag=case.proposed_rag, old_outcome=case.proposed_outcome,
            new_rag=j.rag, new_outcome=j.outcome, direction=way,
            rule_ids=tuple(r.rule_id for r in j.reasons), old_version=case.rule_set_version))
    for name, floor in _floors(case.facts):
        if below(j.rag, floor):
            into.below_floor.append(BelowFloor(case.case_id, j.rag, name, floor))
        elif j.unfloored is not None and below(j.unfloored, floor):
            into.held_by_floor.append(BelowFloor(case.case_id, j.unfloored, name, floor))
    if case.decided_rag is not None and case.decided_outcome is not None \
            and case.decided_by not in (None, RULES) and below(j.rag, case.decided_rag):
        into.below_person.append(BelowPerson(
            case_id=case.case_id, new_rag=j.rag, new_outcome=j.outcome,
            decided_rag=case.decided_rag, decided_outcome=case.decided_outcome,
            decided_by=case.decided_by or "?"))


def replay(model: Model, recorded: Iterable[Recorded]) -> Replay:
    """Judge every recorded case again with ``model`` and say what would change."""
    result = Replay(version=model.version)
    for case in recorded:
        replay_one(model, case, result)
    return result


# --- from the decision service's case documents ------------------------------------

class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Proposal(_Read):
    rag: Rag
    outcome: Outcome
    rule_set_version: str
    proposed_at: AwareDatetime


class _Decision(_Read):
    rag: Rag
    outcome: Outcome
    decided_by: str
    decided_at: AwareDatetime


class _Added(_Read):
    contact: Contact
    added_at: AwareDatetime


class _Case(_Read):
    """Only what a replay needs of a case document (``services.decision``'s
    CaseRecord), each part checked by the contracts' own models."""

    opened: CaseOpenedData
    findings: dict[str, FindingData] = {}
    added: list[_Added] = []
    proposal: _Proposal | None = None
    decision: _Decision | None = None


# The fields of a case document a replay reads (a database projection).
FIELDS = ("_id", "opened", "findings", "added.contact", "added.added_at", "proposal.rag",
          "proposal.outcome", "proposal.rule_set_version", "proposal.proposed_at",
          "decision.rag", "decision.outcome", "decision.decided_by", "decision.decided_at")


class UnreadableCase(ValueError):
    def __init__(self, case_id: str, problem: str) -> None:
        super().__init__(f"{case_id}: {problem}")
        self.unreadable = Unreadable(case_id, problem)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"[:300]


def facts_of(doc: Mapping[str, Any]) -> Recorded | None:
    """The facts a case was last judged on, and what was recorded on them;
    None for a case not yet proposed. Raises ``UnreadableCase`` for a
    document the contracts refuse.

    A case is re-proposed whenever a finding or contact reaches it, so its
    last proposal (or decision, when later) saw exactly what had arrived by
    then: what was answered or added afterwards is left out."""
    case_id = str(doc.get("_id", "?"))
    if doc.get("proposal") is None and doc.get("decision") is None:
        return None  # still gathering (perhaps not even opened yet): nothing was judged
    try:
        case = _Case.model_validate(doc)
    except ValidationError as error:
        raise UnreadableCase(case_id, _problem(error)) from error
    if case.proposal is None:
        if case.decision is not None:
            raise UnreadableCase(case_id, "decided with no proposal")
        return None
    at: datetime = case.proposal.proposed_at
    if case.decision is not None:
        at = max(at, case.decision.decided_at)
    opened = case.opened
    findings = {a: f for a, f in case.findings.items() if f.answered_at <= at}
    on: date = at.date()
    facts = Facts(contact=opened.contact, findings=findings,
                  missing=[a for a in opened.expected_agencies if a not in findings], on=on,
                  added=tuple(a.contact for a in case.added if a.added_at <= at),
                  triage_rag=opened.triage_rag)
    d = case.decision
    return Recorded(case_id=case_id, facts=facts, proposed_rag=case.proposal.rag,
                    proposed_outcome=case.proposal.outcome,
                    rule_set_version=case.proposal.rule_set_version,
                    decided_rag=d.rag if d else None, decided_outcome=d.outcome if d else None,
                    decided_by=d.decided_by if d else None)


def replay_documents(model: Model, docs: Iterable[Mapping[str, Any]],
                     into: Replay | None = None) -> Replay:
    """``replay`` on case documents as they are read: an unreadable one is
    counted and named, never fatal; one not yet proposed is counted. Pass
    ``into`` to add to a replay already under way (documents in batches)."""
    result = into or Replay(version=model.version)
    for doc in docs:
        try:
            case = facts_of(doc)
        except UnreadableCase as error:
            result.unreadable.append(error.unreadable)
            continue
        if case is None:
            result.not_proposed += 1
            continue
        try:
            replay_one(model, case, result)
        except (KeyError, ValueError) as error:  # a rule set that cannot judge what it reads
            result.unreadable.append(Unreadable(case.case_id, f"not judged: {error}"[:300]))
    return result


__all__ = ["FIELDS", "BelowFloor", "BelowPerson", "Change", "Recorded", "Replay", "Unreadable",
           "UnreadableCase", "direction", "facts_of", "replay", "replay_documents"]
