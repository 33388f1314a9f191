"""Why a contact cannot be used, in words a referrer can act on."""

import json
from typing import Any

from pydantic import ValidationError

from plumbing.guard import Unusable
from plumbing.wire import plain_errors

SCHEMAS = "contracts/schemas/ (mash.contact.submitted.json, or formats/<type>.json)"


def plain(error: Exception) -> list[tuple[str, str]]:
    """(field, problem) for every problem; nothing is summarised away."""
    if isinstance(error, Unusable):
        return list(error.problems)
    if not isinstance(error, ValidationError):
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
            return [("(message)", "is not JSON: a contact must be a JSON CloudEvent as described "
                                  f"in {SCHEMAS}")]
        return plain_errors(error)
    # FastStream reports a handler's argument errors under the handler's
    # name, with the parameter name first in each location: drop it.
    from_handler = error.title[:1].islower()
    pairs = []
    for item in error.errors(include_url=False):
        loc = item["loc"][1:] if from_handler else item["loc"]
        where = ".".join(str(part) for part in loc) or "(message)"
        pairs.append((where, words(item)))
    return pairs


def words(item: Any) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind == "missing":
        return "is required but was not given"
    if kind == "too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"has too many entries (at most {ctx.get('max_length')})"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "string_too_short":
        return ("must not be empty" if ctx.get("min_length") == 1 else
                f"is too short (at least {ctx.get('min_length')} characters)")
    if kind == "string_pattern_mismatch":
        return f"is not in the expected form ({ctx.get('pattern')})"
    if kind == "extra_forbidden":
        return "is not a field we know; check the spelling against the schema in " + SCHEMAS
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind == "list_type":
        return "must be a list"
    if kind in ("string_type", "string_sub_type"):
        return "must be text"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type",
                "date_from_datetime_inexact"):
        return "must be a date written YYYY-MM-DD"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return "must be a date and time, e.g. 2026-11-22T09:30:00Z"
    if kind == "timezone_aware":
        return "must be a date and time with a timezone, e.g. 2026-11-22T09:30:00Z"
    message = str(item["msg"])
    return message.removeprefix("Value error, ")
