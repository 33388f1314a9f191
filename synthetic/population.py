"""Families of a made-up borough."""

import random
from dataclasses import dataclass
from datetime import date, timedelta

GIVEN_F = ("Amelia", "Olivia", "Isla", "Ava", "Mia", "Freya", "Lily", "Aisha", "Zara", "Maya",
           "Grace", "Sophie", "Chloe", "Ruby", "Evie", "Hana", "Leah", "Nia", "Poppy", "Ellie")
GIVEN_M = ("Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Muhammad", "Jack",
           "Theo", "Ethan", "Kai", "Jayden", "Reuben", "Tyler", "Adam", "Ibrahim", "Louis", "Max",
           "Finley")
SURNAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
            "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "Khan", "Hughes",
            "Green", "Hall", "Lewis", "Clarke", "Ahmed", "Okafor", "Nowak", "Kowalski",
            "Mensah", "Begum", "Hussain", "Campbell", "Murphy", "O'Brien")
DISTRICTS = ("RG12", "RG42", "SL1", "SL2", "SL4", "NW1", "NW5", "N7", "RM1", "RM3")


@dataclass(frozen=True)
class Person:
    person_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str
    postcode: str
    role: str  # "child" | "adult"
    relationship: str  # to the family's first child


@dataclass(frozen=True)
class Family:
    family_id: str
    children: tuple[Person, ...]
    adults: tuple[Person, ...]


def _postcode(rng: random.Random) -> str:
    return f"{rng.choice(DISTRICTS)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
           f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def population(size: int = 400, seed: int = 2026, today: date = date(2026, 11, 1)) -> list[Family]:
    rng = random.Random(seed)
    families = []
    for f in range(size):
        surname = rng.choice(SURNAMES)
        postcode = _postcode(rng)
        children = []
        for c in range(rng.choice((1, 1, 2, 2, 3))):
            gender = rng.choice(("female", "male"))
            given = rng.choice(GIVEN_F if gender == "female" else GIVEN_M)
            dob = today - timedelta(days=rng.randint(30, 17 * 365))
            children.append(Person(f"F{f:04d}-C{c}", given, surname, dob, gender, postcode,
                                   "child", "self" if c == 0 else "sibling"))
        adults = [Person(f"F{f:04d}-A0", rng.choice(GIVEN_F), surname,
                         today - timedelta(days=rng.randint(20 * 365, 45 * 365)), "female",
                         postcode, "adult", "mother")]
        if rng.random() < 0.6:
            adults.append(Person(f"F{f:04d}-A1", rng.choice(GIVEN_M),
                                 surname if rng.random() < 0.5 else rng.choice(SURNAMES),
                                 today - timedelta(days=rng.randint(20 * 365, 50 * 365)), "male",
                                 postcode, "adult", rng.choice(("father", "stepfather",
                                                                "mother's partner"))))
        families.append(Family(f"F{f:04d}", tuple(children), tuple(adults)))
    return families
