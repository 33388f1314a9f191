"""The calibration set: realistic contacts, each with what a MASH manager
would decide, run through a rule set to measure how far it agrees.

Vignettes are TOML in ``tests/fixtures/vignettes/`` (their README gives the
format). Each is judged as the pipeline would judge it: intake triages the
contact alone with the same model, each agency answers (``no-trace`` when it
holds nothing) and discloses what its default policy allows at that triage
and consent, and the model proposes on that.
"""

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from contracts.agencies import agencies
from contracts.contact import ConsentState, Contact, Rag
from contracts.events import FindingData, FindingItem, Outcome
from judgement.facts import ORDER, Facts
from judgement.model import Judgement, Model

RECEIVED = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
Disclosure = Literal["known-only", "summary", "full"]
# What an agency discloses at each triage RAG and consent: the research
# services' default policy (services/research/policies/default.toml; a unit
# test holds the two together).
DISCLOSURE: Mapping[Rag, Mapping[ConsentState, Disclosure]] = {
    Rag.RED: {ConsentState.GIVEN: "full", ConsentState.REFUSED: "full",
              ConsentState.NOT_SOUGHT: "full"},
    Rag.AMBER: {ConsentState.GIVEN: "full", ConsentState.REFUSED: "summary",
                ConsentState.NOT_SOUGHT: "summary"},
    Rag.GREEN: {ConsentState.GIVEN: "summary", ConsentState.REFUSED: "known-only",
                ConsentState.NOT_SOUGHT: "known-only"},
}
# The thresholds `make test` holds a rule set to.
MIN_EXACT_RAG = 0.90
MIN_OUTCOME = 0.85


@dataclass(frozen=True)
class Vignette:
    vignette_id: str
    title: str
    cites: str
    expected_rag: Rag
    min_rag: Rag
    max_rag: Rag
    expected_outcome: Outcome
    contact: Contact
    records: tuple[Mapping[str, Any], ...]
    pair: str | None = None
    differs_in: str | None = None
    source: str = ""


def load_vignettes(directory: Path) -> list[Vignette]:
    """Every vignette in the directory's TOML files, checked: a malformed one
    stops the check with its id, never skipped."""
    found: list[Vignette] = []
    for path in sorted(directory.glob("*.toml")):
        for raw in tomllib.loads(path.read_text(encoding="utf-8")).get("vignette", []):
            vid = raw.get("id", "?")
            try:
                contact = Contact.model_validate({
                    "contact_id": vid, "referrer_reference": vid,
                    "received_at": RECEIVED.isoformat(), **raw["contact"]})
                v = Vignette(
                    vignette_id=vid, title=raw["title"], cites=raw["cites"],
                    expected_rag=Rag(raw["expected_rag"]), min_rag=Rag(raw["min_rag"]),
                    max_rag=Rag(raw["max_rag"]), expected_outcome=Outcome(raw["expected_outcome"]),
                    contact=contact, records=tuple(raw.get("records", [])),
                    pair=raw.get("pair"), differs_in=raw.get("differs_in"), source=path.name)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path.name}: vignette {vid}: {exc}") from exc
            if not ORDER.index(v.min_rag) <= ORDER.index(v.expected_rag) <= ORDER.index(v.max_rag):
                raise ValueError(f"{path.name}: vignette {vid}: min_rag <= expected_rag <= max_rag")
            found.append(v)
    ids = [v.vignette_id for v in found]
    if len(ids) != len(set(ids)):
        raise ValueError("vignette ids must be unique")
    return found


def findings_for(vignette: Vignette, triage: Rag) -> dict[str, FindingData]:
    """Every agency's answer, disclosed as its default policy allows."""
    level = DISCLOSURE[triage][vignette.contact.consent.state]
    by_agency: dict[str, list[FindingItem]] = {a: [] for a in agencies()}
    for r in vignette.records:
        by_agency.setdefault(r["agency"], []).append(FindingItem(
            person_ref=r["person"], category=r["category"], risk=r["risk"],
            summary=r.get("summary") if level == "full" else None,
            occurred_on=r.get("occurred_on") if level != "known-only" else None))
    return {a: FindingData(enquiry_id=f"{vignette.vignette_id}-{a}",
                           case_id=vignette.vignette_id, agency=a,
                           result="trace" if items else "no-trace", items=items,
                           disclosure_level=level, lawful_basis="calibration",
                           answered_at=RECEIVED)
            for a, items in by_agency.items()}


def facts_for(vignette: Vignette, model: Model) -> Facts:
    triage = model.judge(Facts(vignette.contact)).rag
    return Facts(vignette.contact, findings_for(vignette, triage), [],
                 vignette.contact.received_at.date(), triage_rag=triage)


@dataclass(frozen=True)
class Verdict:
    vignette: Vignette
    judgement: Judgement

    @property
    def exact(self) -> bool:
        return self.judgement.rag is self.vignette.expected_rag

    @property
    def outcome_agrees(self) -> bool:
        return self.judgement.outcome is self.vignette.expected_outcome

    @property
    def downgrade(self) -> bool:
        """Below the lowest safe RAG: the worst thing a rule set can do."""
        return ORDER.index(self.judgement.rag) < ORDER.index(self.vignette.min_rag)

    @property
    def over_escalation(self) -> bool:
        return ORDER.index(self.judgement.rag) > ORDER.index(self.vignette.max_rag)


@dataclass(frozen=True)
class Agreement:
    version: str
    verdicts: list[Verdict]

    @property
    def n(self) -> int:
        return len(self.verdicts)

    def share(self, attr: str) -> float:
        return sum(getattr(v, attr) for v in self.verdicts) / self.n if self.n else 0.0

    @property
    def downgrades(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.downgrade]

    @property
    def over_escalations(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.over_escalation]

    def pairs_missed(self) -> list[tuple[Verdict, Verdict]]:
        """Pairs a manager would decide differently that the rule set decides alike."""
        by_id = {v.vignette.vignette_id: v for v in self.verdicts}
        missed = []
        for v in self.verdicts:
            other = by_id.get(v.vignette.pair or "")
            if other is None or v.vignette.vignette_id > other.vignette.vignette_id:
                continue
            expected_differ = (v.vignette.expected_rag, v.vignette.expected_outcome) != \
                (other.vignette.expected_rag, other.vignette.expected_outcome)
            judged_alike = (v.judgement.rag, v.judgement.outcome) == \
                (other.judgement.rag, other.judgement.outcome)
            if expected_differ and judged_alike:
                missed.append((v, other))
        return missed

    def failures(self) -> list[str]:
        """Why `make test` fails on this rule set; empty when it passes."""
        out = []
        if self.downgrades:
            out.append(f"{len(self.downgrades)} dangerous downgrade(s) below min_rag: "
                       + ", ".join(v.vignette.vignette_id for v in self.downgrades))
        if self.share("exact") < MIN_EXACT_RAG:
            out.append(f"exact RAG {self.share('exact'):.1%} < {MIN_EXACT_RAG:.0%}")
        if self.share("outcome_agrees") < MIN_OUTCOME:
            out.append(f"outcome {self.share('outcome_agrees'):.1%} < {MIN_OUTCOME:.0%}")
        return out


def check(model: Model, vignettes: Iterable[Vignette]) -> Agreement:
    return Agreement(model.version, [Verdict(v, model.judge(facts_for(v, model)))
                                     for v in vignettes])
