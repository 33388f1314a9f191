"""Emerging risks for the strategic board, free of I/O: contacts that cluster
by place, by concern and around one adult, over a rolling window (seed 003:
"risks to groups of victims, or risks associated with specific perpetrators
or locations", e.g. child sexual exploitation).

The report goes to the strategic board, not to practitioners: it is about
patterns, so it carries counts and postcode districts, never a child's name,
date of birth or full postcode. A linked adult is shown by initials and a
stable pseudonymous id only: enough for the board to see that one person
recurs and to ask the MASH about "ADULT-3F9A21C0"; the MASH, with the case
records, can resolve it; a board paper that is forwarded, printed or minuted
names nobody. (UK GDPR Art. 5(1)(c) data minimisation and Art. 4(5)
pseudonymisation: the id is a one-way hash of intake's person index id, so the
paper alone cannot be reversed to the person.)
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from contracts.codes import cin_factors
from mash.report.period import LONDON
from mash.report.records import AdultDoc, ContactRecord

Kind = Literal["district", "concern", "district+concern", "adult"]
KINDS: tuple[Kind, ...] = ("adult", "district+concern", "concern", "district")
KIND_LABEL = {"district": "Postcode district", "concern": "Concern",
              "district+concern": "District and concern", "adult": "Linked adult"}
OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
# Not concerns to cluster on: 20 "other" says nothing of what worries the
# referrer, 21 "no factors identified" that nothing does.
NOT_A_PATTERN = frozenset({"20", "21"})


def district(postcode: str | None) -> str | None:
    """The outward code ("E8" of "E8 1AA"), or None if it is not a UK postcode."""
    if not postcode:
        return None
    text = postcode.upper().strip()
    outward = text.split()[0] if " " in text else text[:-3] if len(text) >= 5 else text
    return outward if OUTWARD.match(outward) else None


def concern_family(code: str) -> tuple[str, str]:
    """CIN factor code -> (family, label): 3A/3B/3C are all "Domestic abuse",
    18B/18C "Physical abuse"; 11A is "Child sexual exploitation"."""
    family = re.match(r"\d+", code)
    key = family[0] if family else code
    label = cin_factors().get(code, code).split(":")[0].strip()
    return key, label


def pseudonym(person_id: str) -> str:
    """A stable id for a person, that does not lead back to them on its own."""
    digest = hashlib.sha256(f"mash-emerging-risks|{person_id}".encode()).hexdigest()
    return f"ADULT-{digest[:8].upper()}"


def initials(adult: AdultDoc) -> str:
    parts = [p for p in (adult.given_name, adult.family_name) if p]
    return "".join(f"{p[0].upper()}." for p in parts) or "?"


@dataclass(frozen=True)
class Cluster:
    kind: Kind
    key: str          # what the contacts share, as the board reads it
    contacts: int
    children: int     # distinct children (person index ids) across those contacts
    districts: tuple[str, ...]
    concerns: tuple[str, ...]
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    days: int
    minimum: int


def window(as_of: datetime, days: int, minimum: int) -> Window:
    """The ``days`` days up to ``as_of``: [as_of - days, as_of)."""
    return Window(as_of - timedelta(days=days), as_of, days, minimum)


@dataclass
class _Group:
    key: str
    contacts: dict[str, tuple[datetime, frozenset[str]]]  # contact id -> when, which children
    districts: set[str]
    concerns: set[str]

    @property
    def children(self) -> set[str]:
        return {child for _, kids in self.contacts.values() for child in kids}

    def about_new_children(self) -> int:
        """Contacts, oldest first, that name a child none of the earlier ones
        did: the same children contacted about again count once."""
        seen: set[str] = set()
        count = 0
        for _, kids in sorted(self.contacts.values(), key=lambda v: (v[0], sorted(v[1]))):
            if kids - seen:
                count += 1
            seen |= kids
        return count


def _districts(c: ContactRecord) -> set[str]:
    found = {district(child.postcode) for child in c.contact.children}
    return {d for d in found if d}


def _concerns(c: ContactRecord) -> set[tuple[str, str]]:
    return {concern_family(code) for code in c.contact.concerns if code not in NOT_A_PATTERN}


def _child_keys(c: ContactRecord) -> frozenset[str]:
    # A child without a person index id still counts once, as itself.
    return frozenset(child.person_id or f"{c.contact_id}/{i}"
                     for i, child in enumerate(c.contact.children))


def clusters(contacts: Iterable[ContactRecord], w: Window) -> list[Cluster]:
    """Every cluster of at least ``w.minimum`` contacts in the window. For a
    linked adult, ``w.minimum`` contacts about different children: a family
    contacted about three times over the same children is that family's
    case, not a pattern; an adult named about three different children is
    one the board should hear of."""
    inside = [c for c in contacts if w.start <= c.received_at < w.end]
    groups: dict[tuple[Kind, str], _Group] = {}

    def add(kind: Kind, key: str, c: ContactRecord, label: str | None = None) -> None:
        g = groups.setdefault((kind, key), _Group(label or key, {}, set(), set()))
        if c.contact_id in g.contacts:
            return
        g.contacts[c.contact_id] = (c.received_at, _child_keys(c))
        g.districts |= _districts(c)
        g.concerns |= {label for _, label in _concerns(c)}

    for c in inside:
        places = _districts(c)
        worries = _concerns(c)
        for d in places:
            add("district", d, c)
        for family, label in worries:
            add("concern", family, c, label)
            for d in places:
                add("district+concern", f"{d}|{family}", c, f"{d}: {label}")
        for adult in c.contact.household:
            if adult.person_id:
                add("adult", adult.person_id, c,
                    f"{initials(adult)} ({pseudonym(adult.person_id)})")
    out = [Cluster(kind, g.key, len(g.contacts), len(g.children), tuple(sorted(g.districts)),
                   tuple(sorted(g.concerns)), min(t for t, _ in g.contacts.values()),
                   max(t for t, _ in g.contacts.values()))
           for (kind, _), g in groups.items()
           if (g.about_new_children() if kind == "adult" else len(g.contacts)) >= w.minimum]
    out.sort(key=lambda x: (KINDS.index(x.kind), -x.contacts, -x.children, x.key))
    return out


def _day(moment: datetime) -> str:
    return f"{moment.astimezone(LONDON):%d %b}"


HEADER = ("Kind", "Cluster", "Contacts", "Children", "Districts", "Concerns", "From", "To")


def _cells(c: Cluster) -> tuple[str, ...]:
    return (KIND_LABEL[c.kind], c.key, str(c.contacts), str(c.children),
            ", ".join(c.districts) or "-", "; ".join(c.concerns) or "-", _day(c.first),
            _day(c.last))


def table(found: list[Cluster]) -> list[str]:
    """A fixed-width table for the terminal."""
    rows = [HEADER, *(_cells(c) for c in found)]
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(HEADER))]

    def line(r: tuple[str, ...]) -> str:
        cells = [(v if len(v) <= widths[i] else v[:widths[i] - 1] + "~").ljust(widths[i])
                 for i, v in enumerate(r)]
        return "  ".join(cells).rstrip()

    return [line(HEADER), line(tuple("-" * w for w in widths)), *(line(r) for r in rows[1:])]


def summary(w: Window, found: list[Cluster], considered: int) -> str:
    return (f"{len(found)} cluster(s) of {w.minimum} or more contacts in the {w.days} days to "
            f"{w.end.astimezone(LONDON):%d %b %Y %H:%M} ({considered} contacts considered)")


def last_day(w: Window) -> date:
    """The last day the window covers (a window ending at midnight covers
    the day before)."""
    end = w.end.astimezone(LONDON)
    return (end - timedelta(microseconds=1)).date()


def markdown(w: Window, found: list[Cluster], considered: int) -> str:
    end = w.end.astimezone(LONDON)
    start = w.start.astimezone(LONDON)
    out = [f"# Emerging risks: {w.days} days to {last_day(w):%d %B %Y}", "",
           f"Contacts received {start:%d %B %Y %H:%M} to {end:%d %B %Y %H:%M} (Europe/London): "
           f"{considered}. A cluster is {w.minimum} or more contacts sharing a postcode "
           "district (of the child's postcode), a concern (a Children in Need factor family, "
           "e.g. 3A-3C domestic abuse; not 20 'other' or 21 'no factors'), both; or one adult "
           f"named in {w.minimum} or more contacts about different children.", "",
           "For the strategic board: counts and postcode districts only. A linked adult is "
           "shown by initials and a pseudonymous id the MASH can resolve from its records; "
           "no child is named.", ""]
    if not considered:
        out += [f"**No contacts were received in the {w.days} days to {last_day(w):%d %B %Y}.**"]
        return "\n".join(out) + "\n"
    for kind in KINDS:
        mine = [c for c in found if c.kind == kind]
        out += [f"## {KIND_LABEL[kind]}", ""]
        if not mine:
            out += [f"No cluster of {w.minimum} or more contacts.", ""]
            continue
        out += ["| " + " | ".join(HEADER[1:]) + " |", "|---|" + "---:|---:|" + "---|" * 4]
        out += ["| " + " | ".join(_cells(c)[1:]) + " |" for c in mine]
        out += [""]
    return "\n".join(out)
