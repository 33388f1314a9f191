"""Children in Need census codes, loaded from versioned data."""

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def _codes() -> dict[str, Any]:
    return tomllib.loads(files("contracts").joinpath("cin_codes.toml").read_text("utf-8"))


def cin_version() -> str:
    return str(_codes()["version"])


def cin_factors() -> dict[str, str]:
    """Factor code -> label (the 'factors identified' list)."""
    return dict(_codes()["factor"])


def cin_referral_sources() -> dict[str, str]:
    """Referral source code -> label."""
    return dict(_codes()["referral_source"])
