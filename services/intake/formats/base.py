"""What every agency format's normaliser shares: collecting field-level
problems, and the small translations every format needs."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.codes import cin_factors
from contracts.contact import Consent, ConsentState
from contracts.formats.common import Address, ConsentInfo
from services.intake.concerns import child_protection

UNKNOWN = "Unknown"
CHILD_PROTECTION_CONSENT = ("Not sought: a child protection concern, where seeking consent "
                            "could place the child at risk (DPA 2018 Sch. 1 para 18)")


class Unusable(Exception):
    """A contact in an agency format that cannot become a usable Contact."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class Findings:
    """Problems (the contact cannot be used) and warnings (usable but poor)."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, where: str, text: str) -> None:
        self.problems.append((where, text))

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def raise_if_unusable(self) -> None:
        if self.problems:
            raise Unusable(self.problems)


def postcode(address: Address | None) -> str | None:
    if address is None or not address.postcode:
        return None
    return " ".join(address.postcode.upper().split())


def address_text(address: Address | None) -> str | None:
    if address is None:
        return None
    text = ", ".join(line for line in address.lines if line)
    return text[:300] or None


def factor_codes(codes: Iterable[str], where: str, found: Findings) -> list[str]:
    """CIN factor codes a sender typed themselves: each checked against the list."""
    known = cin_factors()
    good = []
    for i, code in enumerate(codes):
        if code in known:
            good.append(code)
        else:
            found.problem(f"{where}.{i}", f"'{code}' is not in the Children in Need factor list "
                                          "(e.g. 16A neglect, 3B domestic abuse: parent)")
    return good


def concerns(*groups: Iterable[str]) -> list[str]:
    """Distinct codes in order; 'no factors' (21) only when nothing else is there."""
    out: list[str] = []
    for group in groups:
        for code in group:
            if code not in out:
                out.append(code)
    if "21" in out and len(out) > 1:
        out.remove("21")
    return out or ["20"]


def consent(info: ConsentInfo | None, codes: list[str], referrer: str) -> Consent:
    """The referrer's record of consent; when there is none, a child protection
    concern is shared without it (and says why), anything else is kept and
    flagged by data quality as consent not recorded."""
    if info is not None:
        state = {"given": ConsentState.GIVEN, "refused": ConsentState.REFUSED,
                 "not-sought": ConsentState.NOT_SOUGHT}[info.status]
        return Consent(state=state, reason=info.reason, decided_by=info.decided_by,
                       overridden=info.overridden)
    if child_protection(codes):
        return Consent(state=ConsentState.NOT_SOUGHT, reason=CHILD_PROTECTION_CONSENT,
                       decided_by=referrer, overridden=True)
    return Consent(state=ConsentState.NOT_SOUGHT)


def check_birth(dob: date | None, received: datetime, where: str, found: Findings) -> None:
    if dob is not None and dob > received.date():
        found.problem(where, "is in the future; for an unborn baby give the expected date of "
                             "delivery instead")


def name_or_unknown(value: str | None, what: str, found: Findings) -> str:
    if value:
        return value
    found.warn(f"{what} not known to the referrer")
    return UNKNOWN


ANALYSIS_LIMIT = 20_000


def join(*parts: str | None) -> str:
    """The referrer's analysis, parts in order, kept within the Contact's limit."""
    return "\n\n".join(p for p in parts if p)[:ANALYSIS_LIMIT]


def dig(body: Any, *path: str) -> Any:
    """body[path0][path1]... or None, for reading a message that failed validation."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body
