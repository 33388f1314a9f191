"""The first-match rule list (rule sets 2026.11-*), kept so that the
continuum of need can be compared with it and replayed against it. Pure.

A rule set is a TOML file in ``judgement/rules/<version>.toml``. Each
rule has an id, plain-words text, the RAG, outcome and level of need it sets,
and ``when``: conditions that must all hold, each one of the predicates
below. A file naming a predicate this engine does not know is refused when
it is loaded, never half-applied.
"""

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.contact import Rag
from contracts.events import Outcome, Reason
from judgement.facts import Facts
from judgement.model import Judgement

Sets = Mapping[str, frozenset[str]]
Predicate = Callable[[Facts, Any, Sets], bool]


def _codes(names: Any, sets: Sets) -> frozenset[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"expected a list of set names, got {names!r}")
    unknown = [n for n in names if n not in sets]
    if unknown:
        raise ValueError(f"unknown concern set(s): {', '.join(unknown)}")
    return frozenset().union(*(sets[n] for n in names))


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _true(value: Any) -> bool:
    if value is not True:
        raise ValueError(f"expected true, got {value!r}")
    return True


PREDICATES: dict[str, tuple[Callable[[Any, Sets], Any], Predicate]] = {
    # name: (check and normalise the value at load time, evaluate)
    "concerns_any": (_codes, lambda f, codes, _s: bool(f.concerns & codes)),
    "concerns_not_only": (lambda v, _s: frozenset(v),
                          lambda f, codes, _s: not f.concerns <= codes),
    "baby_in_household": (lambda v, _s: _true(v), lambda f, _v, _s: f.has_baby()),
    "high_risk_agencies_at_least": (lambda v, _s: _int(v),
                                    lambda f, n, _s: f.high_risk_agencies() >= n),
    "high_risk_agencies_at_most": (lambda v, _s: _int(v),
                                   lambda f, n, _s: f.high_risk_agencies() <= n),
    "concerning_agencies_at_least": (lambda v, _s: _int(v),
                                     lambda f, n, _s: f.concerning_agencies() >= n),
    "concerning_agencies_at_most": (lambda v, _s: _int(v),
                                    lambda f, n, _s: f.concerning_agencies() <= n),
    "only_referrer_agency_concerned": (
        lambda v, _s: _true(v),
        lambda f, _v, _s: f.concerning() == [f.contact.referrer.agency]),
    "referrer_rag_is": (lambda v, _s: Rag(v),
                        lambda f, rag, _s: any(c.referrer_rag is rag for c in f.contacts)),
    "always": (lambda v, _s: _true(v), lambda _f, _v, _s: True),
}


@dataclass(frozen=True)
class Rule:
    rule_id: str
    text: str
    rag: Rag
    outcome: Outcome
    level: int
    when: Mapping[str, Any]
    advice: str | None = None
    sets: Sets = field(default_factory=dict, repr=False)

    def applies(self, facts: Facts) -> bool:
        return all(PREDICATES[name][1](facts, value, self.sets) for name, value in self.when.items())

    def describe_when(self) -> str:
        return ", ".join(f"{k} = {v!r}" for k, v in self.when.items())


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    notes: Mapping[str, str]

    def evaluate(self, facts: Facts) -> tuple[Rule, list[Rule]]:
        """The strongest rule that applies, and every rule that applies (in order)."""
        fired = [rule for rule in self.rules if rule.applies(facts)]
        if not fired:
            raise ValueError(f"rule set {self.version}: no rule applied; the last must always")
        return fired[0], fired

    def reasons(self, facts: Facts) -> tuple[Rule, list[Reason]]:
        strongest, fired = self.evaluate(facts)
        last = self.rules[-1]
        reasons = [Reason(rule_id=r.rule_id, text=r.text) for r in fired
                   if r is not last or r is strongest]
        if facts.missing and "N1-AGENCIES-MISSING" in self.notes:
            reasons.append(Reason(rule_id="N1-AGENCIES-MISSING",
                                  text=self.notes["N1-AGENCIES-MISSING"].format(
                                      missing=", ".join(facts.missing))))
        return strongest, reasons

    def judge(self, facts: Facts) -> Judgement:
        # As it ran: no floors but its own R6, no explanation in indicators.
        rule, reasons = self.reasons(facts)
        return Judgement(rag=rule.rag, outcome=rule.outcome, level=rule.level, reasons=reasons,
                         version=self.version, advice=rule.advice)

    def advice_for(self, outcome: Outcome) -> str | None:
        return next((r.advice for r in self.rules if r.outcome is outcome and r.advice), None)


def parse(text: str) -> RuleSet:
    return build(tomllib.loads(text))


def build(raw: Mapping[str, Any]) -> RuleSet:
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("a rule set needs a version")
    sets: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in raw.get("sets", {}).items()}
    rules = []
    for item in raw.get("rule", []):
        rid = item.get("id", "?")
        when = item.get("when") or {}
        unknown = [k for k in when if k not in PREDICATES]
        if unknown:
            raise ValueError(f"rule {rid}: unknown condition(s) {', '.join(unknown)}")
        if not when:
            raise ValueError(f"rule {rid}: no conditions (use always = true)")
        try:
            checked = {k: PREDICATES[k][0](v, sets) for k, v in when.items()}
            rule = Rule(rule_id=rid, text=item["text"], rag=Rag(item["rag"]),
                        outcome=Outcome(item["outcome"]), level=int(item["level"]),
                        when=checked, advice=item.get("advice"), sets=sets)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"rule {rid}: {exc}") from exc
        if not 1 <= rule.level <= 4:
            raise ValueError(f"rule {rid}: level of need must be 1-4")
        rules.append(rule)
    if not rules:
        raise ValueError("a rule set needs rules")
    ids = [r.rule_id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("rule ids must be unique")
    if "always" not in rules[-1].when:
        raise ValueError("the last rule must always apply, so every case gets an outcome")
    notes = {n["id"]: n["text"] for n in raw.get("note", [])}
    return RuleSet(version=version, rules=tuple(rules), notes=notes)
