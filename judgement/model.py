"""One way to judge a contact, whatever the rule set's format: the result,
the protocol every format meets, and loading a rule set by version or file.

Two formats live in ``judgement/rules``: the first-match rule list of
2026.11 (``rulelist``) and the continuum of need from 2026.12
(``continuum``). Both are kept so that a change can be compared and replayed
against the one it replaces.
"""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from contracts.contact import Rag
from contracts.events import Explanation, Outcome, Reason
from judgement.facts import Facts

RULES_DIR = Path(__file__).parent / "rules"
CURRENT_VERSION = "2026.12-1"


@dataclass(frozen=True)
class Judgement:
    """What a rule set proposes for a case, and why."""

    rag: Rag
    outcome: Outcome
    level: int
    reasons: list[Reason]
    version: str
    advice: str | None = None
    explanation: Explanation | None = None
    # The RAG the indicators alone reached, before any floor.
    unfloored: Rag | None = None

    @property
    def floored(self) -> bool:
        return self.unfloored is not None and self.unfloored is not self.rag


class Model(Protocol):
    @property
    def version(self) -> str: ...

    def judge(self, facts: Facts) -> Judgement: ...

    def advice_for(self, outcome: Outcome) -> str | None: ...


def parse(text: str) -> Model:
    """A rule set of either format, checked whole: a file naming anything
    the engine does not know is refused, never half-applied."""
    from judgement import continuum, rulelist

    raw = tomllib.loads(text)
    try:
        if raw.get("format") == "continuum":
            return continuum.build(raw)
        return rulelist.build(raw)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"rule set {raw.get('version', '?')}: missing or wrong {exc}") from exc


def load_file(path: Path) -> Model:
    return parse(path.read_text(encoding="utf-8"))


def named(rules: str | Path) -> Model:
    """A rule set file when one is there, else a version in judgement/rules
    (what an operator types after ``--rules``)."""
    path = Path(rules)
    if path.is_file():
        return load_file(path)
    if path.suffix == ".toml" or len(path.parts) > 1:
        raise ValueError(f"no such rule set file: {path}")
    return load(str(path))


@cache
def load(version: str = CURRENT_VERSION) -> Model:
    path = RULES_DIR / f"{version}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RULES_DIR.glob("*.toml")))
        raise ValueError(f"no rule set {version!r} (known: {known})")
    model = load_file(path)
    if model.version != version:
        raise ValueError(f"{path.name} says it is version {model.version}")
    return model
