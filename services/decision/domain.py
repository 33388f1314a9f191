"""Threshold rules and the decision they produce, free of I/O.

A first, deliberately small rule set: every rule has an id and plain words,
and a decision lists every rule that fired. The strongest rule sets RAG,
outcome and level of need; the others are kept as reasons.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from contracts.contact import Contact, Rag
from contracts.envelope import derived_id
from contracts.events import (
    CaseOpenedData,
    DecisionData,
    DecisionMade,
    FindingData,
    Outcome,
    Reason,
)

RULE_SET_VERSION = "2026.11-skeleton"
SOURCE = "/mash/decision"

HARM = frozenset({"18B", "18C", "19B", "19C", "11A", "12A", "22A", "24A", "23A"})
COMPLEX = frozenset({"16A", "17A", "10A", "15A", "13A", "9A"})
DOMESTIC_ABUSE = frozenset({"3A", "3B", "3C"})


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the contact and what the agencies said."""

    contact: Contact
    findings: dict[str, FindingData]
    missing: list[str]
    on: date

    @property
    def concerns(self) -> set[str]:
        return set(self.contact.concerns)

    def high_risk_agencies(self) -> int:
        return sum(1 for f in self.findings.values() if any(i.risk == "high" for i in f.items))

    def concerning_agencies(self) -> int:
        """Agencies holding a record above 'low' risk: more than a missed appointment."""
        return sum(1 for f in self.findings.values() if any(i.risk != "low" for i in f.items))

    def has_baby(self) -> bool:
        for child in self.contact.children:
            if child.expected_date_of_delivery is not None:
                return True
            if child.date_of_birth and (self.on - child.date_of_birth).days < 2 * 365:
                return True
            if child.estimated_age is not None and child.estimated_age < 2:
                return True
        return False


@dataclass(frozen=True)
class Rule:
    rule_id: str
    text: str
    rag: Rag
    outcome: Outcome
    level: int
    applies: Callable[[Facts], bool]


RULES: tuple[Rule, ...] = (
    Rule("R1-HARM", "The concern is physical or sexual abuse, exploitation, trafficking, FGM or "
         "abuse linked to faith: reasonable cause to suspect significant harm.",
         Rag.RED, Outcome.STRATEGY_DISCUSSION, 4, lambda f: bool(f.concerns & HARM)),
    Rule("R2-DA-BABY", "Domestic abuse with a baby or unborn child in the household and a "
         "high-risk record held by a partner agency.",
         Rag.RED, Outcome.STRATEGY_DISCUSSION, 4,
         lambda f: bool(f.concerns & DOMESTIC_ABUSE) and f.has_baby()
         and f.high_risk_agencies() >= 1),
    Rule("R3-MULTI-HIGH", "Two or more partner agencies hold high-risk records about this "
         "family and the concern is already one of complex need.",
         Rag.RED, Outcome.STRATEGY_DISCUSSION, 4,
         lambda f: f.high_risk_agencies() >= 2 and bool(f.concerns & (COMPLEX | DOMESTIC_ABUSE))),
    Rule("R4-COMPLEX", "The concern is neglect, emotional abuse, going missing, self-harm, "
         "gangs or an unaccompanied child: complex needs to assess.",
         Rag.AMBER, Outcome.ASSESSMENT, 3, lambda f: bool(f.concerns & COMPLEX)),
    Rule("R5-DA-HIGH", "Domestic abuse, and a partner agency holds a high-risk record about "
         "this family.",
         Rag.AMBER, Outcome.ASSESSMENT, 3,
         lambda f: bool(f.concerns & DOMESTIC_ABUSE) and f.high_risk_agencies() >= 1),
    Rule("R6-REFERRER-RED", "The referrer rated this contact RED; the MASH does not rate it "
         "lower than AMBER without a practitioner's review.",
         Rag.AMBER, Outcome.ASSESSMENT, 3, lambda f: f.contact.referrer_rag is Rag.RED),
    Rule("R7-KNOWN-EARLY-HELP", "Two or more partner agencies hold records of concern about "
         "this family, below the social care threshold: offer Early Help.",
         Rag.GREEN, Outcome.EARLY_HELP, 2,
         lambda f: f.concerning_agencies() >= 2 and f.concerns != {"21"}),
    Rule("R8-NFA", "Nothing held by partner agencies raises the need above universal services: "
         "no further action, with advice and signposting.",
         Rag.GREEN, Outcome.NFA, 1, lambda f: True),
)

# Reasons that change nothing but must be on the record.
MISSING_RULE = "N1-AGENCIES-MISSING"


def decide(facts: Facts) -> tuple[Rule, list[Reason]]:
    fired = [rule for rule in RULES if rule.applies(facts)]
    # RULES is in order of strength; R8 always fires, so `fired` is never empty.
    strongest = fired[0]
    reasons = [Reason(rule_id=r.rule_id, text=r.text) for r in fired if r is not RULES[-1]
               or r is strongest]
    if facts.missing:
        reasons.append(Reason(
            rule_id=MISSING_RULE,
            text="No answer by the research deadline from: " + ", ".join(facts.missing)
                 + ". Decided on the information available; late answers will be reviewed."))
    return strongest, reasons


def initials(contact: Contact) -> list[str]:
    """Children as the decision names them: refs and initials, never full names."""
    out = []
    for i, child in enumerate(contact.children):
        out.append(f"child-{i} ({child.given_name[:1]}.{child.family_name[:1]}.)")
    return out


def decision_event(opened: CaseOpenedData, findings: dict[str, FindingData],
                   correlation_id: str, now: datetime) -> DecisionMade:
    missing = [a for a in opened.expected_agencies if a not in findings]
    facts = Facts(opened.contact, findings, missing, now.date())
    rule, reasons = decide(facts)
    contact = opened.contact
    return DecisionMade.new(
        DecisionData(
            case_id=opened.case_id,
            contact_ids=[contact.contact_id],
            rag=rule.rag,
            outcome=rule.outcome,
            level_of_need=rule.level,
            reasons=reasons,
            rule_set_version=RULE_SET_VERSION,
            referrer_rag=contact.referrer_rag,
            agencies_answered=sorted(findings),
            agencies_missing=missing,
            decided_by="rules",
            referrer_agency=contact.referrer.agency,
            referrer_reference=contact.referrer_reference,
            children=initials(contact),
            contact_received_at=contact.received_at,
            decided_at=now,
        ),
        id=derived_id("decision", opened.case_id),
        source=SOURCE,
        subject=opened.case_id,
        correlation_id=correlation_id,
        time=now,
    )


def ready(expected: list[str], answered: set[str], deadline: datetime, now: datetime) -> bool:
    """Decide when every expected agency has answered, or the deadline passed."""
    return set(expected) <= answered or now >= deadline
