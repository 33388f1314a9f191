"""Each agency's disclosure policy, written as data (policies/<agency>.toml).

What an agency tells the MASH depends on how urgent the case is (RAG) and on
consent, and may be capped lower for sensitive kinds of record. The policy is
the agency's own: a hub changes it by editing the file (or pointing
MASH_POLICY_DIR at its own), never the code.
"""

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.contact import ConsentState, Rag

Level = Literal["known-only", "summary", "full"]
ORDER: tuple[Level, ...] = ("known-only", "summary", "full")
POLICIES = Path(__file__).parent / "policies"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ByConsent(_Strict):
    given: Level
    refused: Level
    not_sought: Level

    def for_consent(self, consent: ConsentState) -> Level:
        level: Level = getattr(self, consent.value)
        return level


class RecordRule(_Strict):
    cap: dict[Rag, Level] = {}


class DisclosurePolicy(_Strict):
    version: str
    levels: dict[Rag, ByConsent]
    record_types: dict[str, RecordRule] = {}

    def level(self, rag: Rag, consent: ConsentState) -> Level:
        """The most this agency discloses for a case at this RAG and consent."""
        return self.levels[rag].for_consent(consent)

    def level_for(self, record_type: str, rag: Rag, consent: ConsentState) -> Level:
        level = self.level(rag, consent)
        cap = self.record_types.get(record_type, RecordRule()).cap.get(rag)
        if cap is not None and ORDER.index(cap) < ORDER.index(level):
            return cap
        return level


def load_policy(agency: str, directory: Path | None = None) -> DisclosurePolicy:
    folder = directory or POLICIES
    path = folder / f"{agency}.toml"
    if not path.exists():
        path = folder / "default.toml"
    policy = DisclosurePolicy.model_validate(tomllib.loads(path.read_text("utf-8")))
    missing = set(Rag) - set(policy.levels)
    if missing:
        raise ValueError(f"{path}: no disclosure levels for {', '.join(sorted(missing))}")
    return policy
