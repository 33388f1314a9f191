"""The assumed figures: a practitioner's minutes per piece of work, the
timescales and the research windows, read from a versioned TOML file
(``assumptions.toml`` beside this module, or a MASH's own copy).

Parsing only: the caller hands over the file's text, so nothing here touches
the disk.
"""

import random
import tomllib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from contracts.contact import Rag

RAGS: tuple[Rag, ...] = (Rag.RED, Rag.AMBER, Rag.GREEN)
# The hub's own people; every other role in a staffing plan is an agency's
# researcher, named as the agency is (contracts/agencies.toml).
SCREENER, SOCIAL_WORKER, MANAGER = "referral-advisor", "social-worker", "manager"
PEOPLE: tuple[str, ...] = (SCREENER, SOCIAL_WORKER, MANAGER)
# The activities of seed 000 §13, in the order a case meets them.
ACTIVITIES: tuple[str, ...] = ("screening", "collation", "recommendation", "decision",
                               "feedback")
FILE = "assumptions.toml"

Per = Literal["contact", "case"]


class AssumptionsError(ValueError):
    """The file says something the model cannot use; the message says what."""


@dataclass(frozen=True)
class Work:
    """One piece of work: who does it and how long it takes, by RAG."""

    name: str
    role: str
    minutes: MappingProxyType[Rag, float]
    cv: float
    source: str
    what: str = ""
    per: Per = "case"

    def mean(self, rag: Rag) -> float:
        return self.minutes[rag]

    def draw(self, rng: random.Random, rag: Rag) -> float:
        """Minutes this work takes once: gamma with its mean and coefficient
        of variation (exactly the mean when the spread is 0)."""
        mean = self.mean(rag)
        if mean <= 0:
            return 0.0
        if self.cv <= 0:
            return mean
        shape = 1 / (self.cv * self.cv)
        return rng.gammavariate(shape, mean / shape)


@dataclass(frozen=True)
class Assumptions:
    version: str
    timescales: MappingProxyType[Rag, float]        # hours, receipt to decision
    research_window: MappingProxyType[Rag, float]   # hours agencies have to answer
    activities: MappingProxyType[str, Work]         # ACTIVITIES, by name
    research: MappingProxyType[str, Work]           # by agency; "default" for the rest
    sources: MappingProxyType[str, str]   # "timescales", "research_window", "people"
    casework_share: float = 1.0   # of a shift, the most a person spends hands-on on cases

    def activity(self, name: str) -> Work:
        return self.activities[name]

    def research_of(self, agency: str) -> Work:
        work = self.research.get(agency) or self.research["default"]
        return Work(f"research:{agency}", agency, work.minutes, work.cv, work.source,
                    work.what, "case")

    def timescale_minutes(self, rag: Rag) -> float:
        return 60.0 * self.timescales[rag]

    def window_minutes(self, rag: Rag) -> float:
        return 60.0 * self.research_window[rag]


def _by_rag(table: Any, where: str, positive: bool = True) -> MappingProxyType[Rag, float]:
    if not isinstance(table, dict):
        raise AssumptionsError(f"{where}: expected a table of RED, AMBER and GREEN")
    out: dict[Rag, float] = {}
    for rag in RAGS:
        value = table.get(rag.value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise AssumptionsError(f"{where}.{rag.value}: expected a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise AssumptionsError(f"{where}.{rag.value}: must be more than 0, got {value}")
        out[rag] = float(value)
    return MappingProxyType(out)


def _work(name: str, table: Any, where: str, role: str | None = None) -> Work:
    if not isinstance(table, dict):
        raise AssumptionsError(f"{where}: expected a table")
    source = table.get("source")
    if not isinstance(source, str) or not source.strip():
        raise AssumptionsError(f"{where}.source: say where the figure comes from "
                               "('estimate: ...' if it is one)")
    cv = table.get("cv", 0.5)
    if not isinstance(cv, int | float) or not 0 <= cv <= 3:
        raise AssumptionsError(f"{where}.cv: expected a number from 0 to 3, got {cv!r}")
    per = table.get("per", "case")
    if per not in ("contact", "case"):
        raise AssumptionsError(f"{where}.per: 'contact' or 'case', got {per!r}")
    who = role if role is not None else table.get("role")
    if not isinstance(who, str) or not who:
        raise AssumptionsError(f"{where}.role: who does this work?")
    return Work(name, who, _by_rag(table.get("minutes"), f"{where}.minutes", positive=False),
                float(cv), source.strip(), str(table.get("what", "")), per)


def parse(text: str) -> Assumptions:
    """The file's text -> the assumptions; AssumptionsError saying what is
    wrong otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AssumptionsError(f"not TOML: {error}") from error
    version = data.get("version")
    if not isinstance(version, str | int) or not str(version).strip():
        raise AssumptionsError("version: every assumptions file carries a version")
    sources: dict[str, str] = {}
    for key in ("timescales", "research_window"):
        table = data.get(key)
        if not isinstance(table, dict):
            raise AssumptionsError(f"{key}: missing")
        sources[key] = str(table.get("source", ""))
    activities = data.get("activity", {})
    missing = [a for a in ACTIVITIES if a not in activities]
    if missing:
        raise AssumptionsError(f"activity: missing {', '.join(missing)}")
    unknown = sorted(set(activities) - set(ACTIVITIES))
    if unknown:
        raise AssumptionsError(f"activity: unknown {', '.join(unknown)} "
                               f"(the activities are {', '.join(ACTIVITIES)})")
    people = data.get("people", {})
    share = people.get("casework_share", 1.0) if isinstance(people, dict) else None
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 < share <= 1:
        raise AssumptionsError(f"people.casework_share: a share above 0 and at most 1, got {share!r}")
    sources["people"] = str(people.get("source", "")) if isinstance(people, dict) else ""
    research = data.get("research", {})
    if "default" not in research:
        raise AssumptionsError("research.default: the minutes for an agency not listed")
    return Assumptions(
        version=str(version).strip(),
        timescales=_by_rag(data["timescales"], "timescales"),
        research_window=_by_rag(data["research_window"], "research_window"),
        activities=MappingProxyType({a: _work(a, activities[a], f"activity.{a}")
                                     for a in ACTIVITIES}),
        research=MappingProxyType({a: _work(f"research:{a}", t, f"research.{a}", role=a)
                                   for a, t in research.items()}),
        sources=MappingProxyType(sources), casework_share=float(share))
