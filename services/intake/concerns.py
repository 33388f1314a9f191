"""What the Children in Need factors say about risk, for triage and consent."""

from collections.abc import Iterable

# Concerns that on their own suggest significant harm (level 4 of need).
HARM = frozenset({"18B", "18C", "19B", "19C", "11A", "12A", "22A", "24A", "23A"})
# Concerns that suggest complex needs (level 3).
COMPLEX = frozenset({"3A", "3B", "3C", "16A", "17A", "10A", "15A", "13A", "9A", "2B", "1B",
                     "4B"})


def child_protection(concerns: Iterable[str]) -> bool:
    """A concern where seeking consent could itself put the child at risk."""
    return bool(HARM & set(concerns))
