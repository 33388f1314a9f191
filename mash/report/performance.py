"""The monthly performance report for the MASH board, free of I/O.

What the board asks (seeds 001, 003, 004): contacts by source, conversion by
source, timeliness against each timescale, RAG consistency and re-contacts,
written like the MASH's own update ("Police are the highest percentage (56.6%)
that resulted in No Further Action").

Units, said once here and again in the report:

- **contacts** received in the month (London time): the contact that opened a
  case and every contact that joined one. A contact's outcome is its case's
  current decision.
- **cases** opened in the month (their opening contact was received in it):
  timeliness and RAG, because a case, not a contact, is decided and timed.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from contracts.casework import timescale_group
from contracts.codes import cin_referral_sources
from contracts.contact import Rag
from contracts.events import Outcome
from mash.report.markdown import table
from mash.report.period import Period, pct, year_before
from mash.report.records import CaseDoc, ContactRecord, TimescaleDoc, contacts

OUTCOMES: tuple[Outcome, ...] = (Outcome.NFA, Outcome.SINGLE_AGENCY, Outcome.EARLY_HELP,
                                 Outcome.ASSESSMENT, Outcome.STRATEGY_DISCUSSION)
OUTCOME_LABEL = {
    Outcome.NFA: "No further action",
    Outcome.SINGLE_AGENCY: "Single agency",
    Outcome.EARLY_HELP: "Early Help",
    Outcome.ASSESSMENT: "Child and Family Assessment",
    Outcome.STRATEGY_DISCUSSION: "Strategy discussion (s47)",
}
SHORT = {Outcome.NFA: "NFA", Outcome.SINGLE_AGENCY: "Single agency",
         Outcome.EARLY_HELP: "Early Help", Outcome.ASSESSMENT: "Assessment (CFA)",
         Outcome.STRATEGY_DISCUSSION: "s47"}
RAGS: tuple[Rag, ...] = (Rag.RED, Rag.AMBER, Rag.GREEN)
ORDER = {Rag.GREEN: 0, Rag.AMBER: 1, Rag.RED: 2}
RED_WINDOW = timedelta(hours=4)  # the seeds' "four-hour timescale", in clock hours

# The decision service's timescales, in the order the board reads them.
TIMESCALES: dict[str, str] = {
    "decision-rag": "Decision within the RAG window (RED 4h / AMBER 24h / GREEN 72h)",
    "decision-working-day": "Decision within 1 working day, with feedback to the referrer",
    "confidential-enquiry": "Partner agencies answer the MASH's enquiry within 24 hours",
    "la-enquiry-answer": "Another local authority's confidential enquiry answered in 24 hours",
    "outcome-48h": "Outcome taken on by the receiving team within 48 hours of receipt",
    "s47-to-duty": "Section 47 passed to duty the same day (out of hours: EDT within 4h)",
    "icpc-15wd": "Initial Child Protection Conference within 15 working days",
    "assessment-45wd": "Assessment completed within 45 working days",
    "decision-rag-reopened": "Reopened case decided again within its RAG window",
    "review": "Late information reviewed by a manager within 1 working day",
}

Status = Literal["met", "late", "withdrawn", "open"]


# --- the figures --------------------------------------------------------------

@dataclass(frozen=True)
class SourceRow:
    code: str
    label: str
    contacts: int


@dataclass(frozen=True)
class ConversionRow:
    code: str
    label: str
    contacts: int
    outcomes: tuple[tuple[Outcome, int], ...]  # in OUTCOMES order
    awaiting: int

    def count(self, outcome: Outcome) -> int:
        return dict(self.outcomes)[outcome]

    @property
    def decided(self) -> int:
        return self.contacts - self.awaiting


@dataclass(frozen=True)
class TimescaleRow:
    name: str
    text: str
    met: int
    late: int
    withdrawn: int
    open: int

    @property
    def total(self) -> int:
        return self.met + self.late + self.withdrawn + self.open


@dataclass(frozen=True)
class Measure:
    """Of the cases a standard applies to: met, late (including still
    undecided past the deadline) and still open within it."""

    met: int
    late: int
    open: int

    @property
    def resolved(self) -> int:
        return self.met + self.late


@dataclass(frozen=True)
class RagChange:
    before: str
    after: str
    same: int
    raised: int
    lowered: int
    not_given: int


@dataclass(frozen=True)
class Recontacts:
    contacts: int           # contacts in the month about a child seen in the 12 months before
    of: int                 # contacts in the month
    children: int           # children with such a contact
    children_of: int        # children (person index ids) contacted in the month
    joined_open_case: int   # of the re-contacts, those intake joined to a case still open
                            # (a re-contact, or another notification of the same incident)
    without_person_id: int  # contacts whose children carry no person index id
    by_source: tuple[tuple[str, int, int], ...]  # code, re-contacts, contacts


@dataclass(frozen=True)
class Performance:
    period: Period
    as_of: datetime
    contacts: int
    children: int
    cases_opened: int
    rejected: int | None
    by_source: tuple[SourceRow, ...]
    by_agency: tuple[tuple[str, int], ...]
    conversion: tuple[ConversionRow, ...]
    timeliness: tuple[TimescaleRow, ...]
    working_day: Measure
    red_4h: Measure
    rag_cases: int
    rag_stages: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    rag_changes: tuple[RagChange, ...]
    rag_matrix: tuple[tuple[str, tuple[int, ...]], ...]  # referrer RAG -> final RED/AMBER/GREEN
    overridden: int
    recontacts: Recontacts


# --- computing them -----------------------------------------------------------

def _source_key(code: str) -> tuple[int, str]:
    found = re.match(r"(\d+)(.*)", code)
    return (int(found[1]), found[2]) if found else (999, code)


def status(ts: TimescaleDoc, as_of: datetime) -> Status:
    """Met in time; late (breached, met after it fell due, or still open past
    it before the sweeper has marked it); withdrawn (the outcome changed);
    or open and not yet due."""
    if ts.met_at is not None:
        return "met" if ts.met_at <= ts.due_at else "late"
    if ts.breached_at is not None:
        return "late"
    if ts.withdrawn_at is not None:
        return "withdrawn"
    return "late" if as_of >= ts.due_at else "open"


def timeliness(cases: Iterable[CaseDoc], as_of: datetime) -> tuple[TimescaleRow, ...]:
    counts: dict[str, Counter[Status]] = {}
    for case in cases:
        for ts in case.timescales:
            counts.setdefault(timescale_group(ts.timescale), Counter())[status(ts, as_of)] += 1
    names = [n for n in TIMESCALES if n in counts] + sorted(n for n in counts if n not in TIMESCALES)
    return tuple(TimescaleRow(n, TIMESCALES.get(n, n), counts[n]["met"], counts[n]["late"],
                              counts[n]["withdrawn"], counts[n]["open"]) for n in names)


def decided_within_working_day(cases: Iterable[CaseDoc], as_of: datetime) -> Measure:
    """The first decision against the ``decision-working-day`` due time, which
    the decision service computed with its working-day calendar (bank
    holidays, 09:00-17:00 London; a contact out of hours starts at the next
    opening). A case without that timescale is not counted."""
    met = late = still = 0
    for case in cases:
        ts = case.timescale("decision-working-day")
        if ts is None:
            continue
        first = case.first_decision
        if first is not None and first.decided_at <= ts.due_at:
            met += 1
        elif first is not None or as_of >= ts.due_at:
            late += 1
        else:
            still += 1
    return Measure(met, late, still)


def red_window_applied(case: CaseDoc) -> bool:
    """The RED window applied: triage was RED, or the rules' proposal
    shortened the decision timescale to RED."""
    ts = case.timescale("decision-rag")
    rag = ts.rag if ts is not None and ts.rag is not None else (
        case.opened.triage_rag if case.opened else None)
    return rag is Rag.RED


def red_within_four_hours(cases: Iterable[CaseDoc], as_of: datetime) -> Measure:
    """RED cases first decided within 4 clock hours of the contact."""
    met = late = still = 0
    for case in cases:
        if not red_window_applied(case):
            continue
        due = case.received_at + RED_WINDOW
        first = case.first_decision
        if first is not None and first.decided_at <= due:
            met += 1
        elif first is not None or as_of >= due:
            late += 1
        else:
            still += 1
    return Measure(met, late, still)


def _rag(value: Rag | None) -> str:
    return value.value if value is not None else "not given"


def _change(before: str, after: str, pairs: list[tuple[Rag | None, Rag]]) -> RagChange:
    same = raised = lowered = missing = 0
    for a, b in pairs:
        if a is None:
            missing += 1
        elif a is b:
            same += 1
        elif ORDER[b] > ORDER[a]:
            raised += 1
        else:
            lowered += 1
    return RagChange(before, after, same, raised, lowered, missing)


def rag_figures(cases: list[CaseDoc]) -> tuple[
        int, tuple[tuple[str, tuple[tuple[str, int], ...]], ...], tuple[RagChange, ...],
        tuple[tuple[str, tuple[int, ...]], ...], int]:
    """Referrer's RAG (on the contact; police give one) -> MASH triage (the
    priority research ran at) -> the rules' proposal -> the final decision,
    over the decided cases."""
    decided = [c for c in cases if c.opened is not None and c.decision is not None]
    rows: list[tuple[Rag | None, Rag, Rag | None, Rag]] = []
    for c in decided:
        assert c.opened is not None
        assert c.decision is not None
        proposed = c.decision.proposed_rag or (c.proposal.rag if c.proposal else None)
        rows.append((c.opened.contact.referrer_rag, c.opened.triage_rag, proposed, c.decision.rag))
    stages: list[tuple[str, tuple[tuple[str, int], ...]]] = []
    for i, name in enumerate(("referrer", "triage", "proposed", "final")):
        seen = Counter(_rag(r[i]) for r in rows)
        stages.append((name, tuple((k, seen[k]) for k in ("RED", "AMBER", "GREEN", "not given"))))
    changes = (
        _change("referrer", "triage", [(r[0], r[1]) for r in rows]),
        _change("triage", "final", [(r[1], r[3]) for r in rows]),
        _change("proposed", "final", [(r[2], r[3]) for r in rows]),
        _change("referrer", "final", [(r[0], r[3]) for r in rows]),
    )
    matrix = tuple(
        (label, tuple(sum(1 for r in rows if _rag(r[0]) == label and r[3] is f) for f in RAGS))
        for label in ("RED", "AMBER", "GREEN", "not given"))
    overridden = sum(1 for c, r in zip(decided, rows, strict=True)
                     if r[2] is not None and r[2] is not r[3] and c.decision is not None
                     and c.decision.decided_by != "rules")
    return len(decided), tuple(stages), changes, matrix, overridden


def recontacts(every: list[ContactRecord], period: Period) -> Recontacts:
    """A contact in the month about a child (by intake's person index id)
    already named in a contact received in the twelve months before it."""
    seen: dict[str, list[datetime]] = {}
    for c in every:
        for pid in c.child_ids:
            seen.setdefault(pid, []).append(c.received_at)
    month = [c for c in every if c.received_at in period]
    hits: list[ContactRecord] = []
    children_again: set[str] = set()
    for c in month:
        since = year_before(c.received_at)
        again = {pid for pid in c.child_ids
                 if any(since <= t < c.received_at for t in seen[pid])}
        if again:
            hits.append(c)
            children_again |= again
    by_source = Counter(c.source_code for c in month)
    hit_source = Counter(c.source_code for c in hits)
    return Recontacts(
        contacts=len(hits), of=len(month), children=len(children_again),
        children_of=len({pid for c in month for pid in c.child_ids}),
        joined_open_case=sum(1 for c in hits if c.how != "opened"),
        without_person_id=sum(1 for c in month if len(c.child_ids) < len(c.contact.children)),
        by_source=tuple((code, hit_source[code], by_source[code])
                        for code in sorted(by_source, key=_source_key)))


def build(cases: list[CaseDoc], period: Period, as_of: datetime,
          rejected: int | None = None) -> Performance:
    """Every figure for one month. ``cases`` must hold every case with a
    contact in the month and, for re-contacts, in the twelve months before
    it; cases outside are ignored."""
    every = contacts(cases)
    month = [c for c in every if c.received_at in period]
    opened = [c for c in cases if c.opened is not None and c.received_at in period]
    labels = cin_referral_sources()
    source_counts = Counter(c.source_code for c in month)
    codes = sorted(source_counts, key=_source_key)
    by_source = tuple(SourceRow(code, labels.get(code, "unknown code"), source_counts[code])
                      for code in codes)
    agency_counts = Counter(c.agency for c in month)
    by_agency = tuple(sorted(agency_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    conversion = []
    for code in codes:
        mine = [c for c in month if c.source_code == code]
        outcome_counts = Counter(c.outcome for c in mine)
        conversion.append(ConversionRow(
            code, labels.get(code, "unknown code"), len(mine),
            tuple((o, outcome_counts[o]) for o in OUTCOMES), outcome_counts[None]))
    stages = rag_figures(opened)
    return Performance(
        period=period, as_of=as_of, contacts=len(month),
        children=len({pid for c in month for pid in c.child_ids}),
        cases_opened=len(opened), rejected=rejected, by_source=by_source,
        by_agency=by_agency, conversion=tuple(conversion),
        timeliness=timeliness(opened, as_of),
        working_day=decided_within_working_day(opened, as_of),
        red_4h=red_within_four_hours(opened, as_of),
        rag_cases=stages[0], rag_stages=stages[1], rag_changes=stages[2],
        rag_matrix=stages[3], overridden=stages[4],
        recontacts=recontacts(every, period))


# --- the words ------------------------------------------------------------------

def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _day(moment: date) -> str:
    return f"{moment.day} {moment:%B %Y}"


def _source_name(code: str, label: str) -> str:
    return f"{label} ({code})"




def _cell(part: int, whole: int) -> str:
    return f"{part} ({pct(part, whole)})" if whole else str(part)


def _measure(m: Measure) -> str:
    return f"{pct(m.met, m.resolved)} ({m.met} of {m.resolved}" + (
        f"; {m.open} still within time" if m.open else "") + ")"


def headlines(p: Performance) -> list[str]:
    """The board's sentences, each from the tables below it."""
    lines = [f"{_n(p.contacts, 'contact')} in {p.period.label} about "
             f"{_n(p.children, 'child', 'children')}; {_n(p.cases_opened, 'case')} opened."]
    if p.rejected:
        lines[0] += (f" A further {_n(p.rejected, 'contact')} could not be used (unreadable, "
                     "incomplete or not authentic) and went back to the sender: not counted here.")
    top = max(p.by_source, key=lambda s: (s.contacts, -_source_key(s.code)[0]))
    lines.append(f"{_source_name(top.code, top.label)} is the largest source: "
                 f"{_n(top.contacts, 'contact')} ({pct(top.contacts, p.contacts)}).")
    with_nfa = [r for r in p.conversion if r.count(Outcome.NFA)]
    if with_nfa:
        r = max(with_nfa, key=lambda r: (r.count(Outcome.NFA) / r.contacts, r.contacts))
        lines.append(f"{_source_name(r.code, r.label)} has the highest percentage "
                     f"({pct(r.count(Outcome.NFA), r.contacts)}) that resulted in No Further "
                     "Action.")
        biggest = next(x for x in p.conversion if x.code == top.code)
        if biggest is not r:
            lines.append(f"Of {top.label}'s contacts, {pct(biggest.count(Outcome.NFA), top.contacts)}"
                         " resulted in No Further Action.")
    cfa = sum(r.count(Outcome.ASSESSMENT) for r in p.conversion)
    if cfa:
        r = max(p.conversion, key=lambda r: (r.count(Outcome.ASSESSMENT), -r.contacts))
        lines.append(f"{_source_name(r.code, r.label)} make up "
                     f"{pct(r.count(Outcome.ASSESSMENT), cfa)} of the work passed for a Child "
                     f"and Family Assessment ({r.count(Outcome.ASSESSMENT)} of {cfa}).")
    s47 = sorted((r for r in p.conversion if r.count(Outcome.STRATEGY_DISCUSSION)),
                 key=lambda r: (-r.count(Outcome.STRATEGY_DISCUSSION), _source_key(r.code)))
    if s47:
        names = [r.label for r in s47[:2]]
        main = sum(r.count(Outcome.STRATEGY_DISCUSSION) for r in s47[:2])
        total = sum(r.count(Outcome.STRATEGY_DISCUSSION) for r in s47)
        lines.append(f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} the main "
                     f"{'referrer' if len(names) == 1 else 'referrers'} whose contacts were "
                     f"passed for strategy discussion ({main} of {total}).")
    if p.working_day.met + p.working_day.late + p.working_day.open:
        lines.append(f"{_measure(p.working_day)} of cases decided within 1 working day.")
    if p.red_4h.met + p.red_4h.late + p.red_4h.open:
        lines.append(f"{_measure(p.red_4h)} of RED cases decided within the four-hour timescale.")
    else:
        lines.append("No case ran at RED this month.")
    if p.rag_cases:
        ref = next(c for c in p.rag_changes if (c.before, c.after) == ("referrer", "final"))
        given = ref.same + ref.raised + ref.lowered
        if given:
            lines.append(f"The referrer's RAG and the final RAG agree in {pct(ref.same, given)} of "
                         f"the {_n(given, 'decided case')} where the referrer gave one "
                         f"({ref.lowered} lowered, {ref.raised} raised).")
    again = p.recontacts
    lines.append(f"{_n(again.contacts, 'contact')} ({pct(again.contacts, again.of)}) "
                 f"{'was' if again.contacts == 1 else 'were'} about a child already seen in the "
                 "previous 12 months.")
    return lines


def markdown(p: Performance, charts: Mapping[str, str] | None = None) -> str:
    """The report. ``charts`` maps a section (``sources``, ``conversion``,
    ``timeliness``, ``rag``, ``agencies``) to a PNG file name beside it."""
    charts = charts or {}

    def chart(key: str, alt: str) -> list[str]:
        return ["", f"![{alt}]({charts[key]})"] if key in charts else []

    out = [f"# MASH performance: {p.period.label}", "",
           f"Contacts received {_day(p.period.first_day)} to {_day(p.period.last_day)} "
           f"(Europe/London). Figures as at {_day(p.as_of)} {p.as_of:%H:%M} UTC; cases still "
           "open may yet change them.", ""]
    if not p.contacts:
        out += [f"**No contacts were received in {p.period.label}.** There is nothing to report "
                "by source, conversion, timeliness, RAG or re-contact, and no charts were drawn."]
        if p.rejected:
            out += ["", f"{_n(p.rejected, 'contact')} could not be used and went back to the "
                        "sender (unreadable, incomplete or not authentic)."]
        return "\n".join(out) + "\n"
    out += ["## Headlines", ""] + [f"- {line}" for line in headlines(p)]

    out += ["", "## Contact sources", "",
            "Who made the contact, by Children in Need referral source code.", ""]
    out += table(["Code", "Source", "Contacts", "%"],
                  ([s.code, s.label, str(s.contacts), pct(s.contacts, p.contacts)]
                   for s in p.by_source), text=2)
    out += chart("sources", "Contacts by source")
    out += ["", "By referring agency:", ""]
    out += table(["Agency", "Contacts", "%"],
                  ([a, str(n), pct(n, p.contacts)] for a, n in p.by_agency))
    out += chart("agencies", "Contacts by agency")

    out += ["", "## Contact conversion rates", "",
            "What each source's contacts led to (the case's current decision), as a share of "
            "that source's contacts. Rows add up to 100% with the contacts still awaiting a "
            "decision.", ""]
    out += table(["Source", "Contacts", *(SHORT[o] for o in OUTCOMES), "Awaiting"],
                  ([f"{r.code} {r.label}", str(r.contacts),
                    *(_cell(r.count(o), r.contacts) for o in OUTCOMES),
                    _cell(r.awaiting, r.contacts)] for r in p.conversion))
    out += chart("conversion", "Conversion by source")
    totals = {o: sum(r.count(o) for r in p.conversion) for o in OUTCOMES}
    out += ["", "Where each outcome's work came from (share of that outcome's contacts):", ""]
    out += table(["Source", *(SHORT[o] for o in OUTCOMES)],
                  ([f"{r.code} {r.label}", *(pct(r.count(o), totals[o]) for o in OUTCOMES)]
                   for r in p.conversion))

    out += ["", "## Timeliness", "",
            f"Every timescale of the {_n(p.cases_opened, 'case')} opened in the month. Met: "
            "in time. Late: breached, met after it fell due, or still open past it. "
            "Withdrawn: no longer applies (the outcome changed). Open: not yet due.", ""]
    out += table(["Timescale", "Met", "Late", "Withdrawn", "Open", "Met in time"],
                  ([f"{t.text} (`{t.name}`)", str(t.met), str(t.late), str(t.withdrawn),
                    str(t.open), pct(t.met, t.met + t.late)] for t in p.timeliness))
    out += ["",
            f"- Decided within 1 working day: {_measure(p.working_day)} (first decision "
            "against the working-day due time).",
            f"- RED decided within 4 hours: {_measure(p.red_4h)} (first decision within 4 clock "
            "hours of the contact, for cases that ran at RED)."]
    out += chart("timeliness", "Timeliness")

    out += ["", "## RAG ratings", "",
            f"The {_n(p.rag_cases, 'decided case')} opened in the month: the referrer's own RAG "
            "(police give one), the MASH triage RAG the research ran at, the rules' proposal "
            "and the final decision.", ""]
    if p.rag_cases:
        out += table(["Stage", "RED", "AMBER", "GREEN", "Not given"],
                      ([stage, *(str(n) for _, n in counts)] for stage, counts in p.rag_stages))
        out += [""]
        out += table(["From", "To", "Same", "Raised", "Lowered", "No RAG before"],
                      ([c.before, c.after, str(c.same), str(c.raised), str(c.lowered),
                        str(c.not_given)] for c in p.rag_changes), text=2)
        out += ["", "Referrer's RAG (rows) against the final RAG (columns):", ""]
        out += table(["Referrer", "RED", "AMBER", "GREEN"],
                      ([label, *(str(n) for n in counts)] for label, counts in p.rag_matrix))
        out += ["", f"A manager changed the rules' proposed RAG in {_n(p.overridden, 'case')}."]
        out += chart("rag", "RAG at each stage")
    else:
        out += ["No case opened in the month has been decided yet."]

    r = p.recontacts
    out += ["", "## Re-contacts", "",
            "A contact about a child already named in a contact received in the 12 months "
            "before it (intake's person index links the same child across contacts).", "",
            f"- Re-contacts: {r.contacts} of {_n(r.of, 'contact')} ({pct(r.contacts, r.of)}), "
            f"about {_n(r.children, 'child', 'children')} of the {r.children_of} contacted.",
            f"- {r.joined_open_case} of them joined a case still open (a re-contact within "
            "intake's open-case window, or the same incident); the rest opened a new case."]
    if r.without_person_id:
        out += [f"- {_n(r.without_person_id, 'contact')} named a child without a person index "
                "id and could not be matched: the figure may be low by up to that many."]
    out += [""]
    out += table(["Source", "Re-contacts", "Contacts", "%"],
                  ([code, str(n), str(of), pct(n, of)] for code, n, of in r.by_source))
    out += ["", "## Notes", "",
            "- Month boundaries are London midnights; a contact's month is when the MASH "
            "received it.",
            "- A contact that joined another case (same incident or re-contact) takes that "
            "case's outcome; a case's timescales and RAG are counted once, in the month its "
            "first contact arrived.",
            "- Contacts rejected as unusable are not contacts of the MASH and are not counted "
            "in the tables."]
    return "\n".join(out) + "\n"
