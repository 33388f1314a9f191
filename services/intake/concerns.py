"""Whether a contact's Children in Need factors alone reach child protection
(level 4): for the formats' reading of consent. The threshold model decides
it, so intake has one vocabulary of risk, the model's."""

from collections.abc import Iterable

from judgement.continuum import Continuum
from judgement.model import load


def child_protection(concerns: Iterable[str]) -> bool:
    """A concern where seeking consent could itself put the child at risk."""
    model = load()
    assert isinstance(model, Continuum), "the current rule set is a continuum of need"
    return any(model.factors[c][1] >= 4 for c in concerns if c in model.factors)
