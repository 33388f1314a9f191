"""What a judgement looks at: the contact(s), what the agencies said, and the
ratings already given. The same shape for intake's triage (a contact alone)
and for decision's proposal (a case with its findings)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from contracts.contact import Child, Contact, Rag
from contracts.events import FindingData

ORDER = (Rag.GREEN, Rag.AMBER, Rag.RED)


def higher(*rags: Rag | None) -> Rag | None:
    """The most urgent of the ratings given, or None when none is."""
    given = [r for r in rags if r is not None]
    return max(given, key=ORDER.index) if given else None


def below(rag: Rag, floor: Rag) -> bool:
    return ORDER.index(rag) < ORDER.index(floor)


def age_in_days(child: Child, on: date) -> int | None:
    """Negative for an unborn baby; None when nothing says how old."""
    if child.expected_date_of_delivery is not None and child.date_of_birth is None:
        return -max(1, (child.expected_date_of_delivery - on).days)
    if child.date_of_birth is not None:
        return (on - child.date_of_birth).days
    if child.estimated_age is not None:
        return child.estimated_age * 365 + 182
    return None


@dataclass(frozen=True)
class Facts:
    """The contact(s) of a case, the agencies' findings, who did not answer,
    the day it is judged, and intake's triage (a floor, when given)."""

    contact: Contact
    findings: Mapping[str, FindingData] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    on: date | None = None
    added: tuple[Contact, ...] = ()
    triage_rag: Rag | None = None

    @property
    def day(self) -> date:
        return self.on or self.contact.received_at.date()

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return (self.contact, *self.added)

    @property
    def concerns(self) -> set[str]:
        return {c for contact in self.contacts for c in contact.concerns}

    @property
    def referrer_rag(self) -> Rag | None:
        return higher(*(c.referrer_rag for c in self.contacts))

    def ages(self) -> list[int | None]:
        return [age_in_days(child, self.day) for c in self.contacts for child in c.children]

    def high_risk_agencies(self) -> int:
        return sum(1 for f in self.findings.values() if any(i.risk == "high" for i in f.items))

    def concerning(self) -> list[str]:
        """Agencies holding a record above 'low' risk: more than a missed appointment."""
        return sorted(a for a, f in self.findings.items() if any(i.risk != "low" for i in f.items))

    def concerning_agencies(self) -> int:
        return len(self.concerning())

    def has_baby(self) -> bool:
        """A child under 2 or unborn (the rule list's meaning)."""
        return any(a is not None and a < 2 * 365 for a in self.ages())
