"""Case documents for the report tests, shaped as the decision service
stores them (ISO text for every time), built by hand."""

from datetime import datetime
from typing import Any

from mash.report.records import CaseDoc


def iso(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else moment.isoformat()


def child(person_id: str | None, postcode: str | None = "RG12 7AB", **extra: Any) -> dict[str, Any]:
    return {"given_name": "Ava", "family_name": "Smith", "person_id": person_id,
            "postcode": postcode, **extra}


def adult(person_id: str, given: str = "Kerry", family: str = "Smith") -> dict[str, Any]:
    return {"given_name": given, "family_name": family, "relationship": "mother",
            "person_id": person_id}


def contact(contact_id: str, received: datetime | str, *, source: str = "6",
            agency: str = "police", children: list[dict[str, Any]] | None = None,
            household: list[dict[str, Any]] | None = None, concerns: list[str] | None = None,
            referrer_rag: str | None = None) -> dict[str, Any]:
    return {"contact_id": contact_id, "referrer_reference": f"REF-{contact_id}",
            "received_at": iso(received), "channel": "notification",
            "referrer": {"agency": agency, "source_code": source},
            "children": children if children is not None else [child(f"P-{contact_id}")],
            "household": household or [], "concerns": concerns or ["3B"],
            "analysis": "Not read by the reports.", "consent": {"state": "given"},
            "referrer_rag": referrer_rag}


def timescale(name: str, due: datetime, *, rag: str | None = None, met: datetime | None = None,
              breached: datetime | None = None, withdrawn: datetime | None = None
              ) -> dict[str, Any]:
    return {"timescale": name, "text": name, "phase": "decision", "rag": rag,
            "started_at": iso(due), "due_at": iso(due), "warn_at": iso(due),
            "met_at": met and iso(met), "breached_at": breached and iso(breached),
            "withdrawn_at": withdrawn and iso(withdrawn)}


def case(case_id: str, opening: dict[str, Any], *, triage: str = "AMBER",
         added: list[tuple[dict[str, Any], str]] | None = None,
         outcome: str | None = None, rag: str | None = None, proposed: str | None = None,
         decided_at: datetime | None = None, decided_by: str = "rules",
         timescales: list[dict[str, Any]] | None = None) -> CaseDoc:
    doc: dict[str, Any] = {
        "_id": case_id,
        "opened": {"case_id": case_id, "contact": opening, "expected_agencies": ["police"],
                   "triage_rag": triage, "opened_at": opening["received_at"],
                   "research_deadline": opening["received_at"]},
        "added": [{"contact": c, "reason": reason, "added_at": c["received_at"]}
                  for c, reason in (added or [])],
        "findings": {"police": {"never": "read"}},
        "state": "gathering",
        "timescales": timescales or [],
    }
    if outcome is not None:
        assert rag is not None
        assert decided_at is not None
        decision = {"case_id": case_id, "rag": rag, "outcome": outcome,
                    "decided_at": iso(decided_at), "decided_by": decided_by,
                    "proposed_rag": proposed or rag, "decision_version": 1,
                    "contact_ids": [opening["contact_id"]] + [c["contact_id"]
                                                              for c, _ in (added or [])]}
        doc |= {"state": "decided", "decision": decision, "decisions": [decision],
                "proposal": {"rag": proposed or rag, "outcome": outcome}}
    return CaseDoc.model_validate(doc)
