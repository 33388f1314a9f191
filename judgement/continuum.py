"""The continuum of need (rule sets 2026.12-* on): indicators by domain,
vulnerability, combinations and cumulative harm, consent, and floors. Pure.

Read with ``rules/2026.12-1.toml``, which says what each part means in
practice; this module only evaluates it. Everything a practitioner would
argue about is in the file, not here.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from contracts.codes import cin_factors
from contracts.contact import ConsentState, Rag
from contracts.envelope import clipped
from contracts.events import (
    MAX_INDICATORS,
    Applied,
    Domain,
    Explanation,
    FindingItem,
    Floor,
    Indicator,
    Outcome,
    Reason,
)
from judgement.facts import Facts, below, higher
from judgement.model import Judgement

TRIO = ("domestic-abuse", "substance", "mental-health")
RISK_LEVEL = {"low": 1, "medium": 2, "high": 3}
FLOOR_LEVEL = {Rag.RED: 4, Rag.AMBER: 2, Rag.GREEN: 1}
# A match just after one of these words is a denial, not an indicator.
_NEGATION = re.compile(r"\b(no|not|nor|never|denies|denied|deny|without|none|nothing)\b",
                       re.IGNORECASE)
_WORD_NUMBERS = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
                 "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "two": 2, "three": 3, "four": 4,
                 "five": 5, "six": 6}
_PLURAL_COUNT = re.compile(r"\b(\d+|two|three|four|five|six)\b")


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in re.split(r"[^a-z0-9]+", text.lower()) if t)


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


@dataclass(frozen=True)
class Phrase:
    indicator: str
    text: str
    domain: Domain
    level: int
    flag: str | None
    young_only: bool
    patterns: tuple[re.Pattern[str], ...]
    history: str | None = None
    all_of: tuple[re.Pattern[str], ...] = ()

    def find(self, analysis: str) -> str | None:
        """The first words that match and are not denied (with ``all_of``,
        each pattern's words, joined)."""
        if self.all_of:
            found = [_said(p, analysis) for p in self.all_of]
            return " ... ".join(f for f in found if f) if all(found) else None
        return next((w for w in (_said(p, analysis) for p in self.patterns) if w), None)


def _said(pattern: re.Pattern[str], analysis: str) -> str | None:
    for m in pattern.finditer(analysis):
        before = analysis[max(0, m.start() - 40):m.start()]
        sentence = re.split(r"[.;!?]", before)[-1]
        if not _NEGATION.search(" ".join(sentence.split()[-3:])):
            return m.group(0)
    return None


@dataclass(frozen=True)
class RecordType:
    indicator: str
    text: str
    domain: Domain
    level: int
    match: tuple[tuple[str, ...], ...]
    phrases: tuple[re.Pattern[str], ...] = ()
    history: str | None = None
    trio: str | None = None
    incident: bool = False
    injury: bool = False
    min_risk: int = 1

    def matches(self, item: FindingItem) -> bool:
        if RISK_LEVEL[item.risk] < self.min_risk:
            return False
        category = _tokens(item.category)
        if any(_contains(category, m) for m in self.match):
            return True
        return bool(item.summary) and any(p.search(item.summary or "") for p in self.phrases)


@dataclass(frozen=True)
class Combination:
    combination_id: str
    text: str
    level: int
    when: Mapping[str, Any]


@dataclass
class _Seen:
    """Everything the indicators told us, while judging one case."""

    indicators: list[Indicator] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    trio: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)
    recent_history: set[str] = field(default_factory=set)
    incidents: int = 0
    said_repeat: int = 0

    def add(self, indicator: str, text: str, domain: Domain, level: int, source: str,
            evidence: str | None) -> None:
        self.indicators.append(Indicator(
            indicator=indicator[:40], text=clipped(text, 120), domain=domain, level=level,
            source=clipped(source, 40), evidence=clipped(evidence, 160) if evidence else None))

    def level(self) -> int:
        return max((i.level for i in self.indicators), default=1)

    def domains(self) -> int:
        return len({i.domain for i in self.indicators if i.level >= 2})


@dataclass(frozen=True)
class Vulnerability:
    non_mobile_days: int
    baby_days: int
    young_child_years: int
    window_days: int


@dataclass(frozen=True)
class Consent:
    single_agency_referrers: frozenset[str]
    texts: Mapping[str, str]


@dataclass(frozen=True)
class Continuum:
    version: str
    levels: Mapping[int, tuple[Rag, Outcome, str]]
    vulnerability: Vulnerability
    factors: Mapping[str, tuple[Domain, int, str, str | None, bool]]
    phrases: tuple[Phrase, ...]
    records: tuple[RecordType, ...]
    combinations: tuple[Combination, ...]
    consent: Consent
    protective: tuple[Combination, ...] = ()
    protection: frozenset[str] = frozenset()
    # Record type of each (category, risk, words) seen: replaying thousands
    # of cases meets the same few hundred again and again.
    _kinds: dict[tuple[str, str, str | None], "RecordType | None"] = field(
        default_factory=dict, compare=False, repr=False)

    def _kind(self, item: FindingItem) -> "RecordType | None":
        key = (item.category, item.risk, item.summary)
        if key not in self._kinds:
            if len(self._kinds) > 50_000:
                self._kinds.clear()
            self._kinds[key] = next((r for r in self.records if r.matches(item)), None)
        return self._kinds[key]

    # -- what the case holds -------------------------------------------------

    def _contact_indicators(self, facts: Facts, seen: _Seen) -> None:
        ages = facts.ages()
        v = self.vulnerability
        young = any(a is None or a < v.young_child_years * 365 for a in ages)
        if any(a is not None and a < 0 for a in ages):
            seen.add("unborn", "An unborn baby", Domain.DEVELOPMENT, 1, "contact",
                     "expected date of delivery")
            seen.flags.add("baby")
        if any(a is not None and 0 <= a < v.baby_days for a in ages):
            seen.add("baby", f"A child under {v.baby_days // 365 or 1} year(s) old",
                     Domain.DEVELOPMENT, 1, "contact",
                     "date of birth")
            seen.flags.add("baby")
        if any(a is not None and 0 <= a < v.non_mobile_days for a in ages):
            seen.flags.add("non-mobile")
        if young:
            seen.flags.add("young")
        for code in sorted(facts.concerns):
            domain, level, text, trio, injury = self.factors[code]
            seen.add(f"cin-{code}", text, domain, level, "contact", f"CIN factor {code}")
            if trio:
                seen.trio.add(trio)
            if injury:
                seen.flags.add("injury")
        for contact in facts.contacts:
            if contact.urgency.value == "immediate":
                seen.add("referrer-immediate", "The referrer says the child is in immediate "
                         "danger", Domain.DEVELOPMENT, 4, "contact", "urgency: immediate")
            for phrase in self.phrases:
                if phrase.young_only and not young:
                    continue
                words = phrase.find(contact.analysis)
                if words is None:
                    continue
                seen.add(phrase.indicator, phrase.text, phrase.domain, phrase.level,
                         "contact analysis", f'"{words}"')
                if phrase.flag:
                    seen.flags.add(phrase.flag)
                if phrase.history:  # what the referrer says is known, as if an agency said it
                    seen.history.add(phrase.history)
                    seen.recent_history.add(phrase.history)
                if phrase.flag == "repeat":
                    seen.said_repeat = max(seen.said_repeat, _repeat_count(words))

    def _finding_indicators(self, facts: Facts, seen: _Seen) -> None:
        window = self.vulnerability.window_days
        for agency in sorted(facts.findings):
            grouped: dict[tuple[str, str, Domain], list[tuple[FindingItem, int]]] = {}
            for item in facts.findings[agency].items:
                kind = self._kind(item)
                child = item.person_ref.startswith("child")
                level = max(kind.level if kind else 1, RISK_LEVEL[item.risk])
                if child and item.risk == "high":
                    seen.flags.add("child-high-record")
                if kind is None:
                    key = ("agency-record", "A record held by the agency", Domain.FAMILY)
                else:
                    trio = kind.trio if not child else None
                    domain = Domain.DEVELOPMENT if child and kind.trio else kind.domain
                    key = (kind.indicator, kind.text, domain)
                    if trio:
                        seen.trio.add(trio)
                    recent = item.occurred_on is None or \
                        (facts.day - item.occurred_on).days <= window
                    if kind.history:
                        seen.history.add(kind.history)
                        if recent:
                            seen.recent_history.add(kind.history)
                    if kind.injury and child:
                        seen.flags.add("injury-record")
                    if kind.incident and item.risk != "low" and recent:
                        seen.incidents += 1
                grouped.setdefault(key, []).append((item, level))
            for (indicator, text, domain), items in grouped.items():
                level = max(lv for _, lv in items)
                dates = [i.occurred_on for i, _ in items if i.occurred_on]
                cats = sorted({f"{i.category} ({i.risk})" for i, _ in items})
                evidence = (f"{len(items)} record{'s' if len(items) > 1 else ''}: "
                            + ", ".join(cats[:4])
                            + (f"; latest {max(dates):%Y-%m-%d}" if dates else ""))
                seen.add(indicator, text, domain, level, agency, evidence)

    # -- combinations ------------------------------------------------------------

    def _holds(self, when: Mapping[str, Any], facts: Facts, seen: _Seen, level: int) -> bool:
        repeat = max(seen.said_repeat, 1 + len(facts.added) + seen.incidents)
        tests: dict[str, Callable[[Any], bool]] = {
            "trio_at_least": lambda n: len(seen.trio) >= n,
            "groups_any": lambda gs: bool(seen.trio & set(gs)),
            "baby": lambda _: "baby" in seen.flags,
            "non_mobile": lambda _: "non-mobile" in seen.flags,
            "young_child": lambda _: "young" in seen.flags,
            "flags_any": lambda fs: bool(seen.flags & set(fs)),
            "concerns_any": lambda cs: bool(facts.concerns & set(cs)),
            "history_any": lambda hs: bool(seen.history & set(hs)),
            "recent_history_any": lambda hs: bool(seen.recent_history & set(hs)),
            "repeat_at_least": lambda n: repeat >= n,
            "repeat_at_most": lambda n: repeat <= n,
            "high_risk_agencies_at_least": lambda n: facts.high_risk_agencies() >= n,
            "level_at_least": lambda n: level >= n,
            "domains_at_least": lambda n: seen.domains() >= n,
            "asked": lambda want: _asked(facts, seen) is want,
            "consent": lambda want: _consented(facts) is want,
            "indicators_at_most": lambda n: seen.level() <= n,
            "flags_none": lambda fs: not seen.flags & set(fs),
            "history_none": lambda hs: not seen.history & set(hs),
            "high_risk_agencies_at_most": lambda n: facts.high_risk_agencies() <= n,
        }
        return all(tests[name](value) for name, value in when.items())

    def _combine(self, facts: Facts, seen: _Seen) -> tuple[int, list[Reason]]:
        level = seen.level()
        applied: dict[str, Reason] = {}
        changed = True
        while changed:  # a raised level can make another combination hold
            changed = False
            for combo in self.combinations:
                if combo.combination_id in applied or not self._holds(combo.when, facts, seen,
                                                                      level):
                    continue
                applied[combo.combination_id] = Reason(rule_id=combo.combination_id,
                                                       text=combo.text)
                if combo.level > level:
                    level, changed = combo.level, True
        for guard in self.protective:
            if guard.level < level < 4 and self._holds(guard.when, facts, seen, level):
                applied[guard.combination_id] = Reason(rule_id=guard.combination_id,
                                                       text=guard.text)
                level = guard.level
        return level, list(applied.values())

    # -- the proposal ------------------------------------------------------------

    def _response(self, level: int, facts: Facts, seen: _Seen) -> tuple[Outcome, Reason, str | None]:
        """Below the social care threshold, consent and the family's request
        choose Early Help, a single agency's own response, or universal services."""
        _, outcome, text = self.levels[level]
        t = self.consent.texts
        if level >= 3:
            return outcome, Reason(rule_id=f"L{level}", text=text), None
        consent, asked = _consented(facts), _asked(facts, seen)
        # Any contact's referrer that works with the family can lead the response.
        professional = any(c.referrer.agency in self.consent.single_agency_referrers
                           for c in facts.contacts)
        # Consent to share a concern is not a request for Early Help: the
        # family asking for it (or agreeing to it) is.
        if consent and asked:
            return Outcome.EARLY_HELP, Reason(rule_id="CONSENT-EARLY-HELP",
                                              text=t["request"]), None
        if asked:
            return (Outcome.SINGLE_AGENCY if professional else Outcome.NFA), \
                Reason(rule_id="CONSENT-NOT-GIVEN", text=t["no_consent"]), t["no_consent_advice"]
        if professional and "routine" not in seen.flags:
            return (Outcome.SINGLE_AGENCY,
                    Reason(rule_id="SINGLE-AGENCY", text=t["single_agency"]),
                    t["single_agency_advice"])
        return Outcome.NFA, Reason(rule_id=f"L{level}", text=t["nfa"]), t["nfa_advice"]

    def judge(self, facts: Facts) -> Judgement:
        seen = _Seen()
        self._contact_indicators(facts, seen)
        self._finding_indicators(facts, seen)
        level, combos = self._combine(facts, seen)
        reached_rag = self.levels[level][0]
        floors: list[Floor] = []
        for name, given in (("referrer", facts.referrer_rag), ("triage", facts.triage_rag)):
            if given is not None:
                floors.append(Floor(floor=name, rag=given,
                                    applied=below(reached_rag, given)))
        floor = higher(*(f.rag for f in floors))
        # A floor holds the rating; the response follows the indicators, but
        # never less than a RED floor's strategy discussion or an AMBER floor's
        # Early Help / single agency consideration.
        final = max(level, FLOOR_LEVEL[floor]) if floor and below(reached_rag, floor) else level
        rag = higher(self.levels[final][0], floor) or reached_rag
        outcome, why, advice = self._response(final, facts, seen)
        reasons = [why, *combos]
        for f in floors:
            if f.applied:
                reasons.append(Reason(
                    rule_id=f"FLOOR-{f.floor.upper()}",
                    text=f"The {'referrer' if f.floor == 'referrer' else 'MASH triage'} rated "
                         f"this {f.rag.value}; the indicators alone reach {reached_rag.value}. "
                         "Only a named practitioner may rate it lower, with a rationale."))
        if facts.missing:
            reasons.append(Reason(
                rule_id="N1-AGENCIES-MISSING",
                text=clipped("No answer by the research deadline from: " + ", ".join(
                    facts.missing) + ". Decided on the information available; late answers "
                    "will be reviewed.", 1000)))
        indicators = sorted(seen.indicators, key=lambda i: -i.level)[:MAX_INDICATORS]
        explanation = Explanation(
            level=level, indicators=indicators,
            combinations=[Applied(rule_id=c.rule_id[:40], text=clipped(c.text, 300))
                          for c in combos[:16]], floors=floors,
            consent=clipped(why.text, 300) if final < 3 else None, missing=facts.missing[:30])
        return Judgement(rag=rag, outcome=outcome, level=final, reasons=reasons[:40],
                         version=self.version, advice=advice, explanation=explanation,
                         unfloored=reached_rag)

    def child_protection(self, concerns: Iterable[str]) -> bool:
        """A concern where seeking consent could itself put the child at risk."""
        return bool(self.protection & set(concerns))

    def advice_for(self, outcome: Outcome) -> str | None:
        t = self.consent.texts
        return {Outcome.NFA: t["nfa_advice"],
                Outcome.SINGLE_AGENCY: t["single_agency_advice"]}.get(outcome)


def _consented(facts: Facts) -> bool:
    return any(c.consent.state is ConsentState.GIVEN for c in facts.contacts)


def _asked(facts: Facts, seen: _Seen) -> bool:
    return "request" in seen.flags or any(c.kind == "early-help-request" for c in facts.contacts)


def _repeat_count(words: str) -> int:
    """'third call' is 3; 'two previous incidents' is 3; 'repeat calls' is 3."""
    lowered = words.lower()
    first = lowered.split()[0]
    if first in _WORD_NUMBERS and ("previous" in lowered or "prior" in lowered
                                   or "other" in lowered or "similar" in lowered):
        return _WORD_NUMBERS[first] + 1
    if first in _WORD_NUMBERS:
        return _WORD_NUMBERS[first]
    m = _PLURAL_COUNT.search(lowered)
    if m and m.group(1).isdigit():
        n = int(m.group(1))
        return n + 1 if "previous" in lowered or "prior" in lowered else n
    return 3


# --- loading -----------------------------------------------------------------------

_CONDITIONS = {"asked": bool, "consent": bool, "indicators_at_most": int, "flags_none": list,
               "history_none": list, "high_risk_agencies_at_most": int, "repeat_at_most": int,
               "trio_at_least": int, "groups_any": list, "baby": bool, "non_mobile": bool,
               "young_child": bool, "flags_any": list, "concerns_any": list,
               "history_any": list, "recent_history_any": list, "repeat_at_least": int,
               "high_risk_agencies_at_least": int, "level_at_least": int,
               "domains_at_least": int}


def _level(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
        raise ValueError(f"{where}: a level of need is 1-4, got {value!r}")
    return value


def _patterns(values: Sequence[str], where: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(p, re.IGNORECASE) for p in values)
    except re.error as exc:
        raise ValueError(f"{where}: {exc}") from exc


def build(raw: Mapping[str, Any]) -> Continuum:
    """A continuum from its TOML, checked whole: every CIN factor mapped,
    every condition known, every level 1-4."""
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("a rule set needs a version")
    levels = {}
    for key in ("1", "2", "3", "4"):
        entry = raw.get("levels", {}).get(key)
        if entry is None:
            raise ValueError(f"levels: level {key} is missing")
        levels[int(key)] = (Rag(entry["rag"]), Outcome(entry["outcome"]), str(entry["text"]))
    v = raw.get("vulnerability", {})
    vulnerability = Vulnerability(**{k: int(v[k]) for k in (
        "non_mobile_days", "baby_days", "young_child_years", "window_days")})
    factors = {}
    for code, entry in raw.get("factors", {}).items():
        trio = entry.get("trio")
        if trio is not None and trio not in TRIO:
            raise ValueError(f"factor {code}: trio must be one of {', '.join(TRIO)}")
        factors[code] = (Domain(entry["domain"]), _level(entry["level"], f"factor {code}"),
                         str(entry["text"]), trio, bool(entry.get("injury", False)))
    protection = frozenset(code for code, entry in raw.get("factors", {}).items()
                           if entry.get("protection"))
    unmapped = sorted(set(cin_factors()) - set(factors))
    if unmapped:
        raise ValueError(f"CIN factor(s) with no domain and level: {', '.join(unmapped)}")
    unknown = sorted(set(factors) - set(cin_factors()))
    if unknown:
        raise ValueError(f"not CIN factor codes: {', '.join(unknown)}")
    for p in raw.get("phrase", []):
        if bool(p.get("patterns")) == bool(p.get("all_of")):
            raise ValueError(f"phrase {p.get('indicator', '?')}: patterns or all_of, not both "
                             "nor neither")
    phrases = tuple(Phrase(
        indicator=p["indicator"], text=p["text"], domain=Domain(p["domain"]),
        level=_level(p["level"], f"phrase {p['indicator']}"), flag=p.get("flag"),
        young_only=bool(p.get("young_only", False)), history=p.get("history"),
        patterns=_patterns(p.get("patterns", []), f"phrase {p['indicator']}"),
        all_of=_patterns(p.get("all_of", []), f"phrase {p['indicator']}"))
        for p in raw.get("phrase", []))
    records = []
    for r in raw.get("finding", []):
        where = f"finding {r['indicator']}"
        if r.get("trio") is not None and r["trio"] not in TRIO:
            raise ValueError(f"{where}: trio must be one of {', '.join(TRIO)}")
        records.append(RecordType(
            indicator=r["indicator"], text=r["text"], domain=Domain(r["domain"]),
            level=_level(r["level"], where), match=tuple(_tokens(m) for m in r["match"]),
            phrases=_patterns(r.get("phrases", []), where), history=r.get("history"),
            trio=r.get("trio"), incident=bool(r.get("incident", False)),
            injury=bool(r.get("injury", False)),
            min_risk=RISK_LEVEL[r.get("min_risk", "low")]))
    combinations = _combinations(raw.get("combination", []), "combination")
    protective = _combinations(raw.get("protective", []), "protective")
    ids = [c.combination_id for c in (*combinations, *protective)]
    if len(ids) != len(set(ids)):
        raise ValueError("combination ids must be unique")
    c = raw.get("consent", {})
    texts = {k: str(c[k]) for k in ("request", "no_consent", "no_consent_advice",
                                    "single_agency", "single_agency_advice", "nfa",
                                    "nfa_advice")}
    return Continuum(version=version, levels=levels, vulnerability=vulnerability,
                     factors=factors, protection=protection, phrases=phrases, records=tuple(records),
                     combinations=combinations, protective=protective,
                     consent=Consent(frozenset(c.get("single_agency_referrers", [])), texts))


def _combinations(raw: Sequence[Mapping[str, Any]], kind_name: str) -> tuple[Combination, ...]:
    combinations = []
    for c in raw:
        cid = c.get("id", "?")
        when = c.get("when") or {}
        if not when:
            raise ValueError(f"{kind_name} {cid}: no conditions")
        for name, value in when.items():
            kind = _CONDITIONS.get(name)
            if kind is None:
                raise ValueError(f"{kind_name} {cid}: unknown condition {name}")
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"{kind_name} {cid}: {name} expects {kind.__name__}")
        combinations.append(Combination(cid, c["text"], _level(c["level"], f"{kind_name} {cid}"),
                                        when))
    return tuple(combinations)
