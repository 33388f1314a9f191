"""The MASH's judgement: one threshold model, used by intake's triage and by
decision's proposal, so the two cannot disagree. Pure: no I/O but reading
its own rule sets."""

from judgement.facts import Facts
from judgement.model import CURRENT_VERSION, Judgement, Model, load, load_file, named, parse

__all__ = ["CURRENT_VERSION", "Facts", "Judgement", "Model", "load", "load_file", "named", "parse"]
