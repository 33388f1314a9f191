"""Events on the wire: CloudEvents structured mode over Kafka."""

import json
from typing import Any

from faststream.message import StreamMessage
from pydantic import ValidationError

from contracts.envelope import CONTENT_TYPE, Event


def headers_for(event: Event[Any]) -> dict[str, str]:
    # ce_type duplicates the body's `type` so consumers and tools can route
    # or filter without parsing the value; the body stays authoritative.
    return {"content-type": CONTENT_TYPE, "ce_type": event.type, "ce_id": event.id}


def decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", errors="replace")


async def decode_json(msg: StreamMessage[Any]) -> Any:
    """Every MASH message is JSON, whatever its content-type says.

    FastStream decodes only ``application/json``; structured CloudEvents say
    ``application/cloudevents+json``. A body that is not JSON raises here and
    the consumer guard rejects or dead-letters it.
    """
    return json.loads(msg.body)


def plain_errors(error: Exception) -> list[tuple[str, str]]:
    """A validation error as (field, problem) pairs a person can act on."""
    if isinstance(error, ValidationError):
        pairs = []
        # FastStream reports a handler's argument errors under the handler's
        # name, with the parameter name first in each location: drop it.
        from_handler = error.title[:1].islower()
        for item in error.errors(include_url=False):
            loc = item["loc"][1:] if from_handler else item["loc"]
            location = ".".join(str(part) for part in loc)
            pairs.append((location or "(message)", _plain(item)))
        return pairs
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return [("(message)", "is not JSON: a contact must be a JSON CloudEvent as described in "
                              "contracts/schemas/mash.contact.submitted.json")]
    return [("(message)", str(error))]


def _plain(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "is required but was not given"
    if kind == "too_short":
        return "must not be empty"
    if kind == "extra_forbidden":
        return "is not a field we know; check the spelling against the contact schema"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return "must be a date written YYYY-MM-DD"
    if kind == "timezone_aware":
        return "must be a date and time with a timezone, e.g. 2026-11-22T09:30:00Z"
    message = str(item["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message
