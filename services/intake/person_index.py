"""The person index, free of I/O: is this child or adult someone we have seen
before? Every score is made of named components with weights, and comes with
its explanation, so a practitioner can see why two records were linked.

- name: given and family names, each by Jaro-Winkler similarity (rapidfuzz),
  lifted by the nickname table (Olly = Oliver) and by sounding alike
  (metaphone, jellyfish); also tried in swapped order (a family name written
  first);
- date of birth: exact, day and month transposed, one part mistyped, or only
  the year in common;
- address: the same postcode, or the same postcode district.

A component one side does not give counts 0.5: neither for nor against.
Above ``link`` the records are one person; between ``possible`` and ``link``
a practitioner is asked ("possible match"); below, a new person.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import jellyfish
from rapidfuzz.distance import JaroWinkler, Levenshtein

from services.intake.nicknames import CANONICAL

Role = Literal["child", "adult"]
Band = Literal["link", "possible", "new"]
UNKNOWN = "unknown"
WEIGHTS = {"name": 0.5, "date of birth": 0.35, "address": 0.15}
MISSING = 0.5
# Two people whose given names plainly differ (twins, siblings) are never
# linked on everything else agreeing: at most a possible match. Nor are two
# whose family names plainly differ (a child whose name changed is asked about).
GIVEN_NAME_GATE = 0.75
FAMILY_NAME_GATE = 0.6


@dataclass(frozen=True)
class Thresholds:
    link: float = 0.8
    possible: float = 0.7

    def band(self, score: float) -> Band:
        if score >= self.link:
            return "link"
        return "possible" if score >= self.possible else "new"


@dataclass(frozen=True)
class PersonRecord:
    given_name: str
    family_name: str
    date_of_birth: date | None
    postcode: str | None
    role: Role


@dataclass(frozen=True)
class Component:
    name: str
    score: float
    weight: float
    why: str


@dataclass(frozen=True)
class Scored:
    score: float
    components: tuple[Component, ...]
    capped: str | None = None

    def explanation(self) -> list[str]:
        lines = [f"{c.name} {c.score:.2f} x {c.weight:.2f}: {c.why}" for c in self.components]
        if self.capped:
            lines.append(self.capped)
        return lines


def normal(name: str) -> str:
    """Lower case, no accents, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower().replace("'", "")).split())


def canonical_given(name: str) -> str:
    first = normal(name).split(" ")[0] if normal(name) else ""
    return CANONICAL.get(first, first)


def postcode_key(postcode: str | None) -> str | None:
    if not postcode:
        return None
    key = re.sub(r"[^A-Z0-9]", "", postcode.upper())
    return key or None


def _outward(key: str) -> str:
    return key[:-3] if len(key) > 4 else key


def _known(name: str) -> bool:
    return bool(normal(name)) and normal(name) != UNKNOWN


def given_similarity(a: str, b: str) -> tuple[float, str]:
    if not (_known(a) and _known(b)):
        return MISSING, "not known on one side"
    na, nb = normal(a), normal(b)
    if na == nb:
        return 1.0, "the same"
    ca, cb = canonical_given(a), canonical_given(b)
    if ca == cb:
        return 0.95, f"'{a}' and '{b}' are forms of one name ({ca})"
    jw = JaroWinkler.similarity(na, nb)
    if jellyfish.metaphone(na) == jellyfish.metaphone(nb):
        return max(jw, 0.9), f"'{a}' and '{b}' sound alike"
    return jw, f"'{a}' ~ '{b}' spelled {jw:.0%} alike"


def family_similarity(a: str, b: str) -> tuple[float, str]:
    if not (_known(a) and _known(b)):
        return MISSING, "not known on one side"
    na, nb = normal(a), normal(b)
    if na == nb:
        return 1.0, "the same"
    # Double-barrelled or hyphenated names: one part in common.
    if set(na.split()) & set(nb.split()):
        return 0.9, f"'{a}' and '{b}' share a part"
    jw = JaroWinkler.similarity(na, nb)
    if jellyfish.metaphone(na) == jellyfish.metaphone(nb):
        return max(jw, 0.9), f"'{a}' and '{b}' sound alike"
    return jw, f"'{a}' ~ '{b}' spelled {jw:.0%} alike"


def name_score(q: PersonRecord, c: PersonRecord) -> tuple[float, float, float, str]:
    """(name score, given-name score, family-name score, why), trying the
    names swapped too."""
    g, g_why = given_similarity(q.given_name, c.given_name)
    f, f_why = family_similarity(q.family_name, c.family_name)
    straight = (g + f) / 2
    sg, _ = given_similarity(q.given_name, c.family_name)
    sf, _ = family_similarity(q.family_name, c.given_name)
    swapped = (sg + sf) / 2 * 0.98
    if swapped > straight and swapped > 0.9:
        return swapped, sg, sf, "given and family names swapped, otherwise alike"
    return straight, g, f, f"given name {g_why}; family name {f_why}"


def dob_score(a: date | None, b: date | None) -> tuple[float, str]:
    if a is None or b is None:
        return MISSING, "not given on one side: neither for nor against"
    if a == b:
        return 1.0, "the same"
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return 0.85, "day and month transposed"
    same = sum((a.year == b.year, a.month == b.month, a.day == b.day))
    if same == 2:
        return 0.7, "one part differs (a likely typo)"
    if Levenshtein.distance(a.isoformat(), b.isoformat()) == 1:
        return 0.6, "one digit differs"
    if a.year == b.year:
        return 0.2, "only the year in common"
    return 0.0, "different"


def address_score(a: str | None, b: str | None) -> tuple[float, str]:
    ka, kb = postcode_key(a), postcode_key(b)
    if ka is None or kb is None:
        return MISSING, "no postcode on one side: neither for nor against"
    if ka == kb:
        return 1.0, "the same postcode"
    if _outward(ka) == _outward(kb):
        return 0.5, "the same postcode district"
    return 0.0, "a different postcode (people move)"


def score(q: PersonRecord, c: PersonRecord, thresholds: Thresholds | None = None) -> Scored:
    name, given, family, name_why = name_score(q, c)
    dob, dob_why = dob_score(q.date_of_birth, c.date_of_birth)
    where, where_why = address_score(q.postcode, c.postcode)
    components = (
        Component("name", name, WEIGHTS["name"], name_why),
        Component("date of birth", dob, WEIGHTS["date of birth"], dob_why),
        Component("address", where, WEIGHTS["address"], where_why),
    )
    total = round(sum(x.score * x.weight for x in components), 4)
    limit = (thresholds or Thresholds()).link - 0.0001
    if given < GIVEN_NAME_GATE and total > limit:
        return Scored(limit, components, "given names differ: at most a possible match")
    if family < FAMILY_NAME_GATE and total > limit:
        return Scored(limit, components, "family names differ: at most a possible match")
    return Scored(total, components)


def best(q: PersonRecord, candidates: Iterable[tuple[str, Iterable[PersonRecord]]],
         thresholds: Thresholds) -> tuple[str, Scored] | None:
    """The best-scoring indexed person, scoring each of the variants they
    have been seen with (names spelled differently, earlier addresses)."""
    top: tuple[str, Scored] | None = None
    for person_id, variants in candidates:
        for v in variants:
            if v.role != q.role:
                continue
            s = score(q, v, thresholds)
            if top is None or s.score > top[1].score:
                top = (person_id, s)
    return top


def blocking_keys(r: PersonRecord) -> list[str]:
    """Cheap keys that any plausible match shares at least one of, so the
    store fetches a handful of candidates instead of everyone."""
    keys = []
    family = normal(r.family_name)
    sf = jellyfish.soundex(family) if _known(r.family_name) else ""
    sg = jellyfish.soundex(canonical_given(r.given_name)) if _known(r.given_name) else ""
    if sf and sg:
        keys.append("n:" + "|".join(sorted((sf, sg))))
    if r.date_of_birth is not None:
        d = r.date_of_birth
        keys.append(f"d:{d.year}:{min(d.month, d.day)}:{max(d.month, d.day)}")
        keys.append(f"m:{d.month}:{d.day}:{sf}")
    pc = postcode_key(r.postcode)
    if pc and sf:
        keys.append(f"p:{pc}:{sf}")
    return [f"{r.role}:{k}" for k in keys]
