"""The board's monthly figures from hand-built case records, to the unit."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.events import Outcome
from mash.report import charts, performance
from mash.report.performance import Measure, RagChange, Recontacts, TimescaleRow
from mash.report.period import month
from mash.report.records import CaseDoc, contacts
from tests.unit.report.builders import case, child, contact, timescale


def utc(m: int, d: int, hh: int = 0, mm: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


AS_OF = utc(11, 22, 22, 0)
NOVEMBER = month("2026-11")


def borough() -> list[CaseDoc]:
    """Five contacts in November 2026 on four cases, and what came before."""
    c1 = case("CASE-1", contact("C1", utc(11, 2, 10), children=[child("P-A")],
                                referrer_rag="AMBER"),
              triage="AMBER", outcome="nfa", rag="GREEN", proposed="GREEN",
              decided_at=utc(11, 2, 12),
              timescales=[timescale("decision-rag", utc(11, 3, 10), rag="AMBER",
                                    met=utc(11, 2, 12)),
                          timescale("decision-working-day", utc(11, 3, 10), met=utc(11, 2, 12)),
                          timescale("outcome-48h", utc(11, 4, 10), met=utc(11, 3, 9))])
    c2 = case("CASE-2", contact("C2", utc(11, 3, 9), children=[child("P-B")],
                                referrer_rag="RED"),
              triage="RED", outcome="strategy-discussion-s47", rag="RED",
              decided_at=utc(11, 3, 12),
              timescales=[timescale("decision-rag", utc(11, 3, 13), rag="RED",
                                    met=utc(11, 3, 12)),
                          timescale("decision-working-day", utc(11, 4, 9), met=utc(11, 3, 12)),
                          # met after it fell due, before the sweeper marked it: late
                          timescale("s47-to-duty", utc(11, 3, 17), met=utc(11, 3, 17, 30)),
                          timescale("icpc-15wd", utc(11, 24, 12)),
                          timescale("outcome-48h", utc(11, 5, 9), withdrawn=utc(11, 3, 12))])
    c3 = case("CASE-3", contact("C3", utc(11, 10, 8), source="2A", agency="education",
                                children=[child("P-C")]),
              added=[(contact("C3b", utc(11, 12, 14), source="3B", agency="health",
                              children=[child("P-C")]), "re-contact")],
              triage="AMBER", outcome="strategy-discussion-s47", rag="RED", proposed="AMBER",
              decided_at=utc(11, 11, 15), decided_by="mgr-bob",
              timescales=[timescale("decision-rag", utc(11, 11, 8), rag="AMBER",
                                    breached=utc(11, 11, 8)),
                          timescale("decision-working-day", utc(11, 11, 9),
                                    breached=utc(11, 11, 9)),
                          timescale("decision-rag-v2", utc(11, 13, 14), rag="AMBER",
                                    met=utc(11, 12, 15)),
                          timescale("review-14", utc(11, 13, 17))])
    c4 = case("CASE-4", contact("C4", utc(11, 20, 10), source="5D", agency="early-help",
                                children=[child("P-D")]),
              triage="GREEN",
              timescales=[timescale("decision-rag", utc(11, 23, 10), rag="GREEN"),
                          timescale("decision-working-day", utc(11, 23, 10))])
    before = case("CASE-0", contact("C0", utc(10, 15, 9), children=[child("P-A")]),
                  outcome="nfa", rag="GREEN", decided_at=utc(10, 15, 12))
    long_before = case("CASE-00", contact("C00", utc(10, 1, 9, y=2025), children=[child("P-B")]),
                       outcome="nfa", rag="GREEN", decided_at=utc(10, 1, 12, y=2025))
    after = case("CASE-5", contact("C5", utc(12, 1, 0, 30), children=[child("P-A")]))
    return [c1, c2, c3, c4, before, long_before, after]


@pytest.fixture
def figures() -> performance.Performance:
    return performance.build(borough(), NOVEMBER, AS_OF, rejected=2)


def test_contacts_by_source_and_agency(figures: performance.Performance) -> None:
    assert (figures.contacts, figures.children, figures.cases_opened) == (5, 4, 4)
    assert [(s.code, s.label, s.contacts) for s in figures.by_source] == [
        ("2A", "Schools", 1), ("3B", "Health: health visitor", 1),
        ("5D", "Local authority: early help", 1), ("6", "Police", 2)]
    assert figures.by_agency == (("police", 2), ("early-help", 1), ("education", 1),
                                 ("health", 1))


def test_conversion_by_source_takes_each_contacts_case_outcome(
        figures: performance.Performance) -> None:
    rows = {r.code: r for r in figures.conversion}
    assert dict(rows["6"].outcomes) == {Outcome.NFA: 1, Outcome.SINGLE_AGENCY: 0,
                                        Outcome.EARLY_HELP: 0, Outcome.ASSESSMENT: 0,
                                        Outcome.STRATEGY_DISCUSSION: 1}
    assert rows["3B"].count(Outcome.STRATEGY_DISCUSSION) == 1  # joined CASE-3
    assert (rows["5D"].awaiting, rows["5D"].decided) == (1, 0)
    assert sum(r.contacts for r in figures.conversion) == 5


def test_each_timescale_met_late_withdrawn_or_open(figures: performance.Performance) -> None:
    assert figures.timeliness == (
        TimescaleRow("decision-rag", performance.TIMESCALES["decision-rag"], 2, 1, 0, 1),
        TimescaleRow("decision-working-day", performance.TIMESCALES["decision-working-day"],
                     2, 1, 0, 1),
        TimescaleRow("outcome-48h", performance.TIMESCALES["outcome-48h"], 1, 0, 1, 0),
        TimescaleRow("s47-to-duty", performance.TIMESCALES["s47-to-duty"], 0, 1, 0, 0),
        TimescaleRow("icpc-15wd", performance.TIMESCALES["icpc-15wd"], 0, 0, 0, 1),
        TimescaleRow("decision-rag-reopened", performance.TIMESCALES["decision-rag-reopened"],
                     1, 0, 0, 0),
        # overdue and not yet marked by the sweeper: late
        TimescaleRow("review", performance.TIMESCALES["review"], 0, 1, 0, 0),
    )


def test_decided_within_a_working_day_and_red_within_four_hours(
        figures: performance.Performance) -> None:
    assert figures.working_day == Measure(met=2, late=1, open=1)
    assert figures.red_4h == Measure(met=1, late=0, open=0)


def test_an_undecided_red_case_past_four_hours_is_late() -> None:
    red = case("CASE-R", contact("CR", utc(11, 5, 9)), triage="RED",
               timescales=[timescale("decision-rag", utc(11, 5, 13), rag="RED")])
    assert performance.red_within_four_hours([red], utc(11, 5, 12)) == Measure(0, 0, 1)
    assert performance.red_within_four_hours([red], utc(11, 5, 13, 1)) == Measure(0, 1, 0)
    decided = case("CASE-S", contact("CS", utc(11, 5, 9)), triage="RED",
                   outcome="strategy-discussion-s47", rag="RED",
                   decided_at=utc(11, 5, 13, 1))
    assert performance.red_within_four_hours([decided], AS_OF) == Measure(0, 1, 0)


def test_rag_at_each_stage_and_what_changed(figures: performance.Performance) -> None:
    assert figures.rag_cases == 3
    assert figures.rag_stages == (
        ("referrer", (("RED", 1), ("AMBER", 1), ("GREEN", 0), ("not given", 1))),
        ("triage", (("RED", 1), ("AMBER", 2), ("GREEN", 0), ("not given", 0))),
        ("proposed", (("RED", 1), ("AMBER", 1), ("GREEN", 1), ("not given", 0))),
        ("final", (("RED", 2), ("AMBER", 0), ("GREEN", 1), ("not given", 0))),
    )
    assert figures.rag_changes == (
        RagChange("referrer", "triage", same=2, raised=0, lowered=0, not_given=1),
        RagChange("triage", "final", same=1, raised=1, lowered=1, not_given=0),
        RagChange("proposed", "final", same=2, raised=1, lowered=0, not_given=0),
        RagChange("referrer", "final", same=1, raised=0, lowered=1, not_given=1),
    )
    assert figures.rag_matrix == (("RED", (1, 0, 0)), ("AMBER", (0, 0, 1)),
                                  ("GREEN", (0, 0, 0)), ("not given", (1, 0, 0)))
    assert figures.overridden == 1


def test_recontacts_look_back_twelve_months_by_person_id(
        figures: performance.Performance) -> None:
    # C1: P-A was in C0 a month before. C3b: P-C was in C3 two days before
    # (and joined its open case). C2: P-B's last contact is 13 months old.
    assert figures.recontacts == Recontacts(
        contacts=2, of=5, children=2, children_of=4, joined_open_case=1, without_person_id=0,
        by_source=(("2A", 0, 1), ("3B", 1, 1), ("5D", 0, 1), ("6", 1, 2)))


def test_a_child_without_a_person_id_cannot_be_matched() -> None:
    cases = [case("CASE-X", contact("CX", utc(11, 5, 9), children=[child(None)]))]
    figures = performance.build(cases, NOVEMBER, AS_OF)
    assert (figures.recontacts.contacts, figures.recontacts.without_person_id) == (0, 1)


def test_month_boundaries_are_london_midnights() -> None:
    # 00:30 BST on 1 October is 23:30 UTC on 30 September.
    cases = [case("CASE-B", contact("CB", "2026-09-30T23:30:00Z"))]
    assert performance.build(cases, month("2026-10"), AS_OF).contacts == 1
    assert performance.build(cases, month("2026-09"), AS_OF).contacts == 0


def test_the_headlines_read_like_the_board_update(figures: performance.Performance) -> None:
    assert performance.headlines(figures) == [
        "5 contacts in November 2026 about 4 children; 4 cases opened. A further 2 contacts "
        "could not be used (unreadable, incomplete or not authentic) and went back to the "
        "sender: not counted here.",
        "Police (6) is the largest source: 2 contacts (40.0%).",
        "Police (6) has the highest percentage (50.0%) that resulted in No Further Action.",
        "Schools and Health: health visitor are the main referrers whose contacts were passed "
        "for strategy discussion (2 of 3).",
        "66.7% (2 of 3; 1 still within time) of cases decided within 1 working day.",
        "100.0% (1 of 1) of RED cases decided within the four-hour timescale.",
        "The referrer's RAG and the final RAG agree in 50.0% of the 2 decided cases where the "
        "referrer gave one (1 lowered, 0 raised).",
        "2 contacts (40.0%) were about a child already seen in the previous 12 months.",
    ]


def test_the_report_has_every_section_with_counts_and_percentages(
        figures: performance.Performance) -> None:
    text = performance.markdown(figures, {"sources": "contacts_by_source.png"})
    assert text.startswith("# MASH performance: November 2026\n")
    for heading in ("## Headlines", "## Contact sources", "## Contact conversion rates",
                    "## Timeliness", "## RAG ratings", "## Re-contacts"):
        assert heading in text
    assert "| 6 | Police | 2 | 40.0% |" in text
    assert "| 6 Police | 2 | 1 (50.0%) | 0 (0.0%) | 0 (0.0%) | 0 (0.0%) | 1 (50.0%) | 0 (0.0%) |" \
        in text
    assert "![Contacts by source](contacts_by_source.png)" in text
    assert "![Conversion by source]" not in text  # not drawn, not linked
    assert "| referrer | final | 1 | 0 | 1 | 1 |" in text
    assert "- Re-contacts: 2 of 5 contacts (40.0%), about 2 children of the 4 contacted." in text
    assert "Ava" not in text  # figures, not people
    assert "Smith" not in text


def test_a_month_without_contacts_says_so_and_draws_nothing(tmp_path: Path) -> None:
    figures = performance.build(borough(), month("2027-01"), AS_OF)
    assert figures.contacts == 0
    text = performance.markdown(figures)
    assert "**No contacts were received in January 2027.**" in text
    assert "## Contact sources" not in text
    assert charts.draw(figures, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []


def test_charts_are_pngs_named_for_their_section(figures: performance.Performance,
                                                 tmp_path: Path) -> None:
    drawn = charts.draw(figures, tmp_path)
    assert drawn == {"sources": "contacts_by_source.png", "agencies": "contacts_by_agency.png",
                     "conversion": "conversion_by_source.png", "timeliness": "timeliness.png",
                     "rag": "rag_changes.png"}
    for name in drawn.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_status_of_one_timescale() -> None:
    due = utc(11, 10, 12)
    ts = case("CASE-T", contact("CT", utc(11, 10, 8)), timescales=[
        timescale("a", due, met=due), timescale("b", due, met=due + timedelta(seconds=1)),
        timescale("c", due, breached=due), timescale("d", due, withdrawn=due - timedelta(hours=1)),
        timescale("e", due)]).timescales
    assert [performance.status(t, due - timedelta(minutes=1)) for t in ts] == [
        "met", "late", "late", "withdrawn", "open"]
    assert performance.status(ts[4], due) == "late"


def test_contacts_flatten_opening_and_joined_contacts_oldest_first() -> None:
    flat = contacts(borough())
    assert [(c.contact_id, c.how) for c in flat][:3] == [
        ("C00", "opened"), ("C0", "opened"), ("C1", "opened")]
    c3b = next(c for c in flat if c.contact_id == "C3b")
    assert (c3b.case_id, c3b.how, c3b.outcome, c3b.source_code) == (
        "CASE-3", "re-contact", Outcome.STRATEGY_DISCUSSION, "3B")


def test_the_largest_sources_nfa_share_is_said_when_another_source_tops_it() -> None:
    cases = [case(f"CASE-{i}", contact(f"P{i}", utc(11, 2 + i, 9)), outcome=o, rag="GREEN",
                  decided_at=utc(11, 2 + i, 10))
             for i, o in enumerate(["nfa", "early-help", "child-and-family-assessment"])]
    cases.append(case("CASE-9", contact("A9", utc(11, 9, 9), source="9", agency="public"),
                      outcome="nfa", rag="GREEN", decided_at=utc(11, 9, 10)))
    lines = performance.headlines(performance.build(cases, NOVEMBER, AS_OF))
    assert lines[1:4] == [
        "Police (6) is the largest source: 3 contacts (75.0%).",
        "Anonymous (9) has the highest percentage (100.0%) that resulted in No Further Action.",
        "Of Police's contacts, 33.3% resulted in No Further Action.",
    ]
    assert lines[4] == ("Police (6) make up 100.0% of the work passed for a Child and Family "
                        "Assessment (1 of 1).")
