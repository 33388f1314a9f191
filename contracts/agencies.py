"""Which agencies take part: configuration, not code."""

import os
import re
import tomllib
from functools import cache
from importlib.resources import files

_AGENCY_NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


@cache
def agencies() -> tuple[str, ...]:
    """The agencies researched for every case, in a stable order.

    ``MASH_AGENCIES`` (comma-separated) overrides the packaged list so that a
    hub can add or drop a partner without a release.
    """
    override = os.environ.get("MASH_AGENCIES", "").strip()
    if override:
        names = tuple(name.strip() for name in override.split(",") if name.strip())
    else:
        data = tomllib.loads(files("contracts").joinpath("agencies.toml").read_text("utf-8"))
        names = tuple(entry["name"] for entry in data["agency"])
    for name in names:
        if not _AGENCY_NAME.match(name):
            raise ValueError(f"agency name {name!r} must be lower-case letters, digits and '-'")
    return names


def is_agency(name: str) -> bool:
    return name in agencies()
