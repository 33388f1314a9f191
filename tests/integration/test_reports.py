"""`mash report` on the real stack: contacts submitted as agencies send them,
decided by the services, then counted from the decision service's database
with the operator's own user, as an operator would run the reports.

The contacts are dated March 2025, a month no other test uses, so every
figure is exact."""

import asyncio
import csv
import io
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from contracts import topics
from contracts.contact import Contact
from contracts.events import ContactSubmitted
from mash.cli import app
from mash.report import annex_a, emerging, load, performance
from mash.report.period import LONDON, month, year_before
from mash.report.records import contacts
from mash.stack import Stack
from tests.embedded import Wire
from tests.factories import contact_dict

pytestmark = pytest.mark.integration

MARCH = month("2025-03")


def _name(seed: str, n: int = 7) -> str:
    return seed.translate(str.maketrans("0123456789", "ghijklmnop"))[:n].capitalize()


def _contact(cid: str, received: str, agency: str, source_code: str,
             children: list[dict[str, Any]], household: list[dict[str, Any]],
             concerns: list[str], referrer_rag: str | None = None) -> ContactSubmitted:
    data = contact_dict(contact_id=cid, referrer_reference=f"REF-{cid}", received_at=received,
                        referrer={"agency": agency, "source_code": source_code},
                        children=children, household=household, concerns=concerns,
                        referrer_rag=referrer_rag)
    return ContactSubmitted.new(Contact.model_validate(data), source=f"/agency/{agency}",
                                subject=cid, correlation_id=cid)


def _borough() -> tuple[list[ContactSubmitted], dict[str, str]]:
    """Five contacts in March 2025: one adult named about three different
    children in E8 (child sexual exploitation), an unborn baby, and a school
    coming back about the first child (a re-contact)."""
    tag = uuid.uuid4().hex
    fam = [_name(uuid.uuid4().hex, 9) for _ in range(5)]
    first = {"given_name": _name(tag), "family_name": fam[0], "date_of_birth": "2014-05-06",
             "gender": "female", "ethnicity": "White British", "postcode": "E8 1AA"}
    x = {"given_name": _name(uuid.uuid4().hex), "family_name": fam[4],
         "date_of_birth": "1990-02-03", "relationship": "family friend", "postcode": "E8 9ZZ"}
    mother = {"given_name": _name(uuid.uuid4().hex), "family_name": fam[0],
              "date_of_birth": "1985-01-01", "relationship": "mother"}
    ids = {k: f"rep-{k}-{tag[:8]}" for k in "ABCDE"}
    sent = [
        _contact(ids["A"], "2025-03-03T09:30:00Z", "police", "6", [first], [x, mother], ["11A"],
                 "AMBER"),
        _contact(ids["B"], "2025-03-10T10:00:00Z", "police", "6",
                 [{"given_name": _name(uuid.uuid4().hex), "family_name": fam[1],
                   "date_of_birth": "2013-02-01", "gender": "male", "postcode": "E8 2BB"}],
                 [x], ["11A"], "AMBER"),
        _contact(ids["C"], "2025-03-17T11:00:00Z", "education", "2A",
                 [{"given_name": _name(uuid.uuid4().hex), "family_name": fam[2],
                   "date_of_birth": "2012-09-09", "gender": "female", "postcode": "E8 3CC"}],
                 [x], ["11A", "24A"]),
        _contact(ids["D"], "2025-03-20T12:00:00Z", "health", "3B",
                 [{"given_name": "Baby", "family_name": fam[3],
                   "expected_date_of_delivery": "2025-06-01", "postcode": "N1 9GU"}],
                 [{"given_name": _name(uuid.uuid4().hex), "family_name": fam[3],
                   "date_of_birth": "1998-07-07", "relationship": "mother"}], ["3B"]),
        _contact(ids["E"], "2025-03-24T13:00:00Z", "education", "2A", [first], [mother], ["17A"]),
    ]
    return sent, {"x_name": f"{x['given_name']} {x['family_name']}",
                  "x_initials": f"{x['given_name'][0]}.{x['family_name'][0]}."}


async def _on_a_case(wire: Wire, cid: str, decided: bool, timeout: float = 120) -> dict[str, Any]:
    query: dict[str, Any] = {"$or": [{"opened.contact.contact_id": cid},
                                     {"added.contact.contact_id": cid}]}
    if decided:
        query["decision.contact_ids"] = cid
    deadline = time.monotonic() + timeout
    while True:
        doc = await wire.mongo["mash_decision"].cases.find_one(query)
        if doc is not None:
            return doc
        assert time.monotonic() < deadline, f"{cid} never reached a {'decided ' * decided}case"
        await asyncio.sleep(0.5)


async def _cli(stack: Stack, *args: str) -> Result:
    """The operator's command, finding the operator's credentials where the
    stack keeps them (MASH_HOME), as `mash case` does. In a thread: the
    command runs its own event loop."""
    env = {"MASH_HOME": str(stack.settings.home),
           "MASH_MONGO_PORT": str(stack.settings.mongo_port),
           "MASH_REPORT_MONGO_URI": None, "MASH_CASE_MONGO_URI": None}
    return await asyncio.to_thread(CliRunner().invoke, app, ["report", *args], env=env)


async def test_reports_count_the_contacts_that_were_sent(stack: Stack, wire: Wire,
                                                         tmp_path: Path) -> None:
    sent, people = _borough()
    for event in sent:  # one by one, so the person index knows each before the next
        await wire.send(topics.CONTACTS_SUBMITTED, event, key=event.data.contact_id)
        await _on_a_case(wire, event.data.contact_id, decided=False)
    cases_by_contact = {e.data.contact_id: await _on_a_case(wire, e.data.contact_id, True)
                        for e in sent}
    a, b, c, d, e = (e.data.contact_id for e in sent)
    assert cases_by_contact[e]["_id"] == cases_by_contact[a]["_id"]  # joined as a re-contact

    # The pure functions, on what the loader reads with the operator's user.
    uri = stack.settings.operator_mongo_uri
    found = await load.cases(uri, year_before(MARCH.start), MARCH.end)
    in_march = [x for x in contacts(found) if x.received_at in MARCH]
    assert sorted(x.contact_id for x in in_march) == sorted([a, b, c, d, e])
    figures = performance.build(found, MARCH, MARCH.end)
    assert (figures.contacts, figures.children, figures.cases_opened) == (5, 4, 4)
    assert [(s.code, s.contacts) for s in figures.by_source] == [("2A", 2), ("3B", 1), ("6", 2)]
    assert [r.awaiting for r in figures.conversion] == [0, 0, 0]
    assert (figures.recontacts.contacts, figures.recontacts.joined_open_case) == (1, 1)
    assert figures.rag_cases == 4

    # mash report performance
    out = tmp_path / "performance"
    result = await _cli(stack, "performance", "--month", "2025-03", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text("utf-8")
    assert report.startswith("# MASH performance: March 2025\n")
    assert "- 5 contacts in March 2025 about 4 children; 4 cases opened." in report
    assert "| 6 | Police | 2 | 40.0% |" in report
    assert "| 2A | Schools | 2 | 40.0% |" in report
    assert "- Re-contacts: 1 of 5 contacts (20.0%), about 1 child of the 4 contacted." in report
    assert sorted(p.name for p in out.glob("*.png")) == [
        "contacts_by_agency.png", "contacts_by_source.png", "conversion_by_source.png",
        "rag_changes.png", "timeliness.png"]
    assert people["x_name"] not in report

    # mash report annex-a --list 1
    target = tmp_path / "list1.csv"
    result = await _cli(stack, "annex-a", "--list", "1", "--from", "2025-03-01", "--to", "2025-03-31",
                  "--out", str(target))
    assert result.exit_code == 0, result.output
    raw = target.read_bytes().decode("utf-8")  # as written: CRLF, as CSV has it
    assert raw.startswith(",".join(annex_a.LIST_1_COLUMNS) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert len(rows) == 5  # one child on each of five contacts
    assert [r["Date of Contact"] for r in rows] == [
        "03/03/2025", "10/03/2025", "17/03/2025", "20/03/2025", "24/03/2025"]
    assert [r["Contact Source"] for r in rows] == ["6", "6", "2A", "3B", "2A"]
    first, *_, again = rows
    assert first["Child Unique ID"] == again["Child Unique ID"]
    assert first["Child Unique ID"].startswith("P-")
    assert len({r["Child Unique ID"] for r in rows}) == 4
    assert [first[k] for k in ("Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)")] \
        == ["Female", "WBRI", "06/05/2014", "10"]
    unborn = rows[3]
    assert [unborn[k] for k in ("Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)")] \
        == ["Not stated/recorded", "NOBT", "", ""]
    refused = await _cli(stack, "annex-a", "--list", "4", "--month", "2025-03")
    assert refused.exit_code == 2
    assert "only list 1 (contacts) is" in refused.output

    # mash report emerging-risks
    w = emerging.window(datetime(2025, 3, 29, tzinfo=LONDON), 28, 3)
    clusters = emerging.clusters(contacts(await load.cases(uri, w.start, w.end)), w)
    assert [(k.kind, k.contacts, k.children) for k in clusters] == [
        ("adult", 3, 3), ("district+concern", 3, 3), ("concern", 3, 3), ("district", 4, 3)]
    adult = clusters[0]
    assert adult.key.startswith(people["x_initials"] + " (ADULT-")
    assert (clusters[1].key, clusters[3].key) == ("E8: Child sexual exploitation", "E8")
    risks = tmp_path / "risks.md"
    result = await _cli(stack, "emerging-risks", "--days", "28", "--min", "3",
                  "--as-of", f"{date(2025, 3, 28)}", "--out", str(risks))
    assert result.exit_code == 0, result.output
    assert "4 cluster(s) of 3 or more contacts in the 28 days to 29 Mar 2025" in result.output
    assert adult.key in result.output
    text = risks.read_text("utf-8")
    assert adult.key in text
    assert people["x_name"] not in result.output + text
