"""Measure the person index on the synthetic borough.

    python -m bench.person_index [--seed N] [--link 0.85] [--possible 0.7]

Ground truth is `synthetic.population()`: 80% of its families are indexed,
the other 20% never were. Every person of every family is then seen again as
a referrer would write them: with a typo, a nickname, names swapped, a new
address, day and month transposed, no date of birth, or two of these at once.
A query about an indexed person should link to exactly that person; a query
about someone never indexed should not link to anyone. Candidates come from
the same blocking keys the store uses, so misses caused by blocking count.
"""

import argparse
import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from services.intake.person_index import PersonRecord, Thresholds, best, blocking_keys
from synthetic.population import DISTRICTS, Person, population

# Nicknames a referrer might write. Deliberately not the index's own table:
# some of these (Haz, Mimi, Ibby, Pops...) it does not know.
NICKNAMES = {
    "Oliver": ("Olly", "Ollie"), "Olivia": ("Liv", "Livvy"), "Harry": ("Haz", "Henry"),
    "George": ("Georgie",), "Theo": ("Teddy", "Theodore"), "Finley": ("Finn",),
    "Max": ("Maxie",), "Louis": ("Lou", "Louie"), "Muhammad": ("Mohammed", "Mo"),
    "Amelia": ("Millie", "Mimi"), "Sophie": ("Soph", "Sophia"), "Evie": ("Eve",),
    "Ellie": ("Elle", "Eleanor"), "Grace": ("Gracie",), "Jack": ("Jacky", "John"),
    "Jayden": ("Jaden",), "Reuben": ("Ruben",), "Tyler": ("Ty",), "Ibrahim": ("Ibby",),
    "Lily": ("Lil",), "Isla": ("Issy",), "Aisha": ("Ayesha",), "Hana": ("Hannah",),
    "Leo": ("Leon",), "Arthur": ("Art", "Artie"), "Zara": ("Zaz",), "Poppy": ("Pops",),
    "Freya": ("Frey",), "Oscar": ("Ossie",),
}

Perturb = Callable[[PersonRecord, random.Random], PersonRecord]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))
    kind = rng.choice(("swap", "drop", "replace", "double"))
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1:]


def typo(r: PersonRecord, rng: random.Random) -> PersonRecord:
    if rng.random() < 0.5:
        return replace(r, given_name=_typo(r.given_name, rng))
    return replace(r, family_name=_typo(r.family_name, rng))


def nickname(r: PersonRecord, rng: random.Random) -> PersonRecord:
    options = NICKNAMES.get(r.given_name)
    return replace(r, given_name=rng.choice(options)) if options else typo(r, rng)


def swapped(r: PersonRecord, _rng: random.Random) -> PersonRecord:
    return replace(r, given_name=r.family_name, family_name=r.given_name)


def moved(r: PersonRecord, rng: random.Random) -> PersonRecord:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return replace(r, postcode=f"{rng.choice(DISTRICTS)} {rng.randint(1, 9)}"
                              f"{rng.choice(letters)}{rng.choice(letters)}")


def transposed(r: PersonRecord, rng: random.Random) -> PersonRecord:
    d = r.date_of_birth
    if d is None or d.day > 12 or d.day == d.month:
        return typo(r, rng)
    return replace(r, date_of_birth=date(d.year, d.day, d.month))


def no_dob(r: PersonRecord, _rng: random.Random) -> PersonRecord:
    return replace(r, date_of_birth=None)


PERTURBATIONS: dict[str, Perturb] = {
    "typo": typo, "nickname": nickname, "swapped order": swapped, "moved address": moved,
    "dob transposed": transposed, "no date of birth": no_dob,
}


def record(p: Person) -> PersonRecord:
    return PersonRecord(p.given_name, p.family_name, p.date_of_birth, p.postcode,
                        "child" if p.role == "child" else "adult")


@dataclass
class Query:
    truth: str  # the synthetic person id
    indexed: bool
    kinds: tuple[str, ...]
    record: PersonRecord


@dataclass
class Report:
    thresholds: Thresholds
    queries: int = 0
    indexed_queries: int = 0
    true_links: int = 0
    false_links: int = 0
    grey_true: int = 0
    grey_false: int = 0
    missed_by_blocking: int = 0
    recall_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        links = self.true_links + self.false_links
        return self.true_links / links if links else 1.0

    @property
    def recall(self) -> float:
        return self.true_links / self.indexed_queries if self.indexed_queries else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def lines(self) -> list[str]:
        t = self.thresholds
        out = [
            f"person index on the synthetic borough: {self.queries} queries "
            f"({self.indexed_queries} about indexed people, "
            f"{self.queries - self.indexed_queries} about people never indexed)",
            f"thresholds: link >= {t.link}, possible match >= {t.possible}",
            f"link band: precision {self.precision:.3f}  recall {self.recall:.3f}  "
            f"F1 {self.f1:.3f}  ({self.true_links} right links, {self.false_links} wrong links)",
            f"grey band (possible match, for a practitioner): {self.grey_true} true matches, "
            f"{self.grey_false} not the same person",
            f"true matches the blocking keys never offered: {self.missed_by_blocking}",
            "recall by what was changed:",
        ]
        for kind, (hit, n) in sorted(self.recall_by_kind.items()):
            out.append(f"  {kind:<32} {hit / n:.3f}  ({hit}/{n})")
        return out


def generate(seed: int = 11) -> tuple[dict[str, PersonRecord], list[Query]]:
    rng = random.Random(seed)
    families = population()
    indexed_families = {f.family_id for f in families if rng.random() < 0.8}
    index: dict[str, PersonRecord] = {}
    queries = []
    kinds = list(PERTURBATIONS)
    for family in families:
        for person in (*family.children, *family.adults):
            truth = record(person)
            if family.family_id in indexed_families:
                index[person.person_id] = truth
            chosen = tuple(rng.sample(kinds, 2 if rng.random() < 0.3 else 1))
            seen = truth
            for kind in chosen:
                seen = PERTURBATIONS[kind](seen, rng)
            queries.append(Query(person.person_id, family.family_id in indexed_families,
                                 chosen, seen))
    return index, queries


def evaluate(index: dict[str, PersonRecord], queries: list[Query],
             thresholds: Thresholds) -> Report:
    by_key: dict[str, set[str]] = {}
    for person_id, r in index.items():
        for key in blocking_keys(r):
            by_key.setdefault(key, set()).add(person_id)
    report = Report(thresholds)
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for q in queries:
        report.queries += 1
        ids = set().union(*(by_key.get(k, set()) for k in blocking_keys(q.record)))
        found = best(q.record, ((i, (index[i],)) for i in sorted(ids)), thresholds)
        band = thresholds.band(found[1].score) if found else "new"
        right = found is not None and found[0] == q.truth
        label = " + ".join(sorted(q.kinds))
        if q.indexed:
            report.indexed_queries += 1
            totals[label] += 1
            if q.truth not in ids:
                report.missed_by_blocking += 1
        if band == "link":
            if right:
                report.true_links += 1
                hits[label] += 1
            else:
                report.false_links += 1
        elif band == "possible":
            if right:
                report.grey_true += 1
            else:
                report.grey_false += 1
    single = Counter({k: v for k, v in totals.items() if " + " not in k})
    report.recall_by_kind = {k: (hits[k], n) for k, n in single.items()}
    combos = sum(v for k, v in totals.items() if " + " in k)
    if combos:
        report.recall_by_kind["(any two at once)"] = (
            sum(hits[k] for k in totals if " + " in k), combos)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--link", type=float, default=Thresholds().link)
    parser.add_argument("--possible", type=float, default=Thresholds().possible)
    args = parser.parse_args()
    index, queries = generate(args.seed)
    report = evaluate(index, queries, Thresholds(link=args.link, possible=args.possible))
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
