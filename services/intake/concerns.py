"""Whether a contact's Children in Need factors are a child protection
concern: for the formats' reading of consent and urgency. The threshold
model's data says which (``protection = true``), so intake has one
vocabulary of risk, the model's."""

from collections.abc import Iterable

from judgement.continuum import Continuum
from judgement.model import load


def child_protection(concerns: Iterable[str]) -> bool:
    """A concern where seeking consent could itself put the child at risk."""
    model = load()
    assert isinstance(model, Continuum), "the current rule set is a continuum of need"
    return model.child_protection(concerns)
