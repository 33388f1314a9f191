"""Emerging risks: clusters by postcode district, concern and linked adult,
in counts and districts, with no one named."""

from datetime import UTC, datetime

import pytest

from mash.report import emerging
from mash.report.emerging import Cluster
from mash.report.period import LONDON
from mash.report.records import CaseDoc, ContactRecord, contacts
from tests.unit.report.builders import adult, case, child, contact

AS_OF = datetime(2026, 11, 23, tzinfo=LONDON)
W = emerging.window(AS_OF, 28, 3)
JO = adult("P-JO", "Jo", "Bloggs")
MUM = adult("P-MUM", "Kerry", "Smith")


def at(d: int, m: int = 11) -> datetime:
    return datetime(2026, m, d, 10, tzinfo=UTC)


def neighbourhood() -> list[ContactRecord]:
    def one(cid: str, when: datetime, postcode: str, pid: str, concerns: list[str],
            household: list[dict[str, str]]) -> CaseDoc:
        return case(f"CASE-{cid}", contact(cid, when, children=[child(pid, postcode)],
                                           concerns=concerns, household=household))
    return contacts([
        one("K1", at(1), "E8 1AA", "P-X1", ["11A"], [JO, MUM]),
        one("K2", at(5), "E8 2BB", "P-X2", ["11A"], [JO]),
        one("K3", at(10), "e8 3cc", "P-X3", ["11A", "24A"], [JO]),
        one("K4", at(12), "N1 9GU", "P-X4", ["3B"], []),
        one("K5", at(15), "E8 1AA", "P-X1", ["21"], [MUM]),
        one("K6", at(18), "E8 1AA", "P-X1", ["4B", "20"], [MUM]),
        one("K0", at(20, 10), "E8 4DD", "P-X5", ["11A"], [JO]),  # before the window
    ])


@pytest.mark.parametrize(("postcode", "outward"), [
    ("E8 1AA", "E8"), ("e81aa", "E8"), ("SW1A 1AA", "SW1A"), ("RG12 7AB", "RG12"),
    (" n1 9gu ", "N1"), ("not known", None), ("12345", None), (None, None)])
def test_postcode_district(postcode: str | None, outward: str | None) -> None:
    assert emerging.district(postcode) == outward


def test_concern_families() -> None:
    assert emerging.concern_family("3B") == ("3", "Domestic abuse")
    assert emerging.concern_family("11A") == ("11", "Child sexual exploitation")
    assert emerging.concern_family("18C") == ("18", "Physical abuse")


def test_a_pseudonym_is_stable_and_says_nothing_of_the_person() -> None:
    first = emerging.pseudonym("P-JO")
    assert first == emerging.pseudonym("P-JO") != emerging.pseudonym("P-MUM")
    assert first.startswith("ADULT-")
    assert len(first) == 14
    assert "JO" not in first.removeprefix("ADULT-")


def test_clusters_in_the_window() -> None:
    found = emerging.clusters(neighbourhood(), W)
    jo = f"J.B. ({emerging.pseudonym('P-JO')})"
    window = (datetime(2026, 10, 26, tzinfo=LONDON), datetime(2026, 11, 23, tzinfo=LONDON))
    assert (W.start, W.end) == window
    assert found == [
        Cluster("adult", jo, 3, 3, ("E8",), ("Child criminal exploitation",
                                             "Child sexual exploitation"), at(1), at(10)),
        Cluster("district+concern", "E8: Child sexual exploitation", 3, 3, ("E8",),
                ("Child criminal exploitation", "Child sexual exploitation"), at(1), at(10)),
        Cluster("concern", "Child sexual exploitation", 3, 3, ("E8",),
                ("Child criminal exploitation", "Child sexual exploitation"), at(1), at(10)),
        Cluster("district", "E8", 5, 3, ("E8",), ("Child criminal exploitation",
                                                  "Child sexual exploitation", "Mental health"),
                at(1), at(18)),
    ]
    # The mother is named in three contacts, all about one child: her child's
    # case, not a pattern.
    assert not any("K.S." in c.key for c in found)


def test_a_linked_adult_counts_contacts_about_different_children() -> None:
    def about(cid: str, d: int, kids: list[str]) -> CaseDoc:
        return case(f"CASE-{cid}", contact(cid, at(d), children=[child(k, "SL1 2AL") for k in kids],
                                           household=[JO]))
    siblings_again = contacts([about("S1", 1, ["P-1", "P-2"]), about("S2", 2, ["P-1", "P-2"]),
                               about("S3", 3, ["P-2"])])
    assert [c.kind for c in emerging.clusters(siblings_again, W) if c.kind == "adult"] == []
    three_children = contacts([about("T1", 1, ["P-1"]), about("T2", 2, ["P-1"]),
                               about("T3", 3, ["P-2"]), about("T4", 4, ["P-3"])])
    [jo] = [c for c in emerging.clusters(three_children, W) if c.kind == "adult"]
    assert (jo.contacts, jo.children, jo.first, jo.last) == (4, 3, at(1), at(4))


def test_a_higher_minimum_leaves_only_the_district() -> None:
    found = emerging.clusters(neighbourhood(), emerging.window(AS_OF, 28, 4))
    assert [(c.kind, c.key, c.contacts) for c in found] == [("district", "E8", 5)]


def test_the_table_and_markdown_name_nobody() -> None:
    found = emerging.clusters(neighbourhood(), W)
    table = emerging.table(found)
    assert table[0].split() == ["Kind", "Cluster", "Contacts", "Children", "Districts",
                                "Concerns", "From", "To"]
    assert len(table) == 2 + 4
    text = emerging.markdown(W, found, considered=6)
    assert text.startswith("# Emerging risks: 28 days to 22 November 2026\n")
    assert "## Linked adult" in text
    for name in ("Jo", "Bloggs", "Kerry", "Smith", "Ava", "1AA", "P-JO", "P-X1"):
        assert name not in "\n".join(table)
        assert name not in text
    assert emerging.summary(W, found, 6).startswith("4 cluster(s) of 3 or more contacts in the "
                                                    "28 days to 23 Nov 2026 00:00")


def test_no_contacts_in_the_window_is_said_plainly() -> None:
    text = emerging.markdown(W, [], considered=0)
    assert "**No contacts were received in the 28 days to 22 November 2026.**" in text
