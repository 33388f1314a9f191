"""No event a service emits can exceed the broker's limit.

For every event type, the largest instance its model allows is built and
serialised: every text at its maximum length in the character that costs
most on the wire (a control character, escaped as six bytes), every list at
its maximum length, every optional field present. A field with no bound fails
the test by name: an unbounded field is how one message once wedged a
service's outbox.
"""

import types
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from annotated_types import MaxLen
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from contracts.envelope import MAX_EVENT_BYTES, Event, EventTooLarge
from contracts.events import ALL_EVENTS, EVENTS_BY_TYPE

# Costliest first: each text is made of the first of these its field accepts.
CHARACTERS = ("\x01", "\U0001f600", '"', "x")
MOMENT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class Unbounded(Exception):
    pass


def _max_len(metadata: list[Any]) -> int | None:
    lengths = [m.max_length for m in metadata if isinstance(m, MaxLen)]
    return min(lengths) if lengths else None


def _text(where: str, annotation: Any, metadata: list[Any]) -> str:
    limit = _max_len(metadata)
    if limit is None:
        raise Unbounded(f"{where}: text with no max_length")
    adapter = TypeAdapter(Annotated[annotation, *metadata] if metadata else annotation)
    for char in CHARACTERS:
        try:
            adapter.validate_python(char)
        except ValidationError:
            continue
        return char * limit
    return "x" * limit


def largest(where: str, annotation: Any, metadata: list[Any] | None = None) -> Any:
    """The value of this type that costs most on the wire."""
    metadata = list(metadata or [])
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        # Field(...) inside Annotated carries its constraints in its metadata.
        unpacked = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        return largest(where, inner, [*metadata, *unpacked])
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        values = [largest(where, a, metadata) for a in options]
        return max(values, key=lambda v: len(TypeAdapter(Any).dump_json(v)))
    if origin is Literal:
        return max(get_args(annotation), key=lambda v: len(str(v)))
    if origin is list:
        limit = _max_len(metadata)
        if limit is None:
            raise Unbounded(f"{where}: list with no max_length")
        (item,) = get_args(annotation)
        return [largest(f"{where}[]", item) for _ in range(limit)]
    if origin is dict:
        raise Unbounded(f"{where}: a mapping (give it a model with bounded fields)")
    if annotation is AwareDatetime:
        return MOMENT
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return build(annotation, where)
        if issubclass(annotation, Enum):
            return max(annotation, key=lambda e: len(str(e.value)))
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int):
            return -(2 ** 63)
        if issubclass(annotation, float):
            return -1.2345678901234567e-300
        if issubclass(annotation, datetime):
            return MOMENT
        if issubclass(annotation, date):
            return MOMENT.date()
        if issubclass(annotation, str):
            return _text(where, annotation, metadata)
    raise Unbounded(f"{where}: no largest value known for {annotation!r}")


def _field(model: type[BaseModel], name: str, info: FieldInfo, where: str) -> Any:
    return largest(f"{where}.{name}", info.annotation, info.metadata)


def build(model: type[BaseModel], where: str) -> BaseModel:
    values = {name: _field(model, name, info, where) for name, info in model.model_fields.items()}
    return model.model_construct(**values)


def largest_event(cls: type[Event[Any]]) -> Event[Any]:
    event = build(cls, cls.event_type)
    assert isinstance(event, Event)
    return event


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.event_type)
def test_the_largest_event_of_every_type_fits_on_the_broker(cls: type[Event[Any]]) -> None:
    try:
        event = largest_event(cls)
    except Unbounded as unbounded:
        pytest.fail(f"{cls.event_type} has an unbounded field: {unbounded}")
    size = len(event.model_dump_json(warnings=False).encode())
    assert size <= MAX_EVENT_BYTES, f"{cls.event_type}: up to {size:,} bytes"


def test_every_event_type_is_covered() -> None:
    assert set(EVENTS_BY_TYPE) == {c.event_type for c in ALL_EVENTS}


def test_an_unbounded_field_is_named() -> None:
    class Loose(BaseModel):
        note: str

    with pytest.raises(Unbounded, match=r"x\.note: text with no max_length"):
        build(Loose, "x")


def test_an_event_over_the_limit_is_refused_before_it_is_sent() -> None:
    from contracts.events import Problem

    big = largest_event(EVENTS_BY_TYPE["mash.contact.rejected"])
    assert len(big.checked_bytes()) <= MAX_EVENT_BYTES

    class Huge(Event[Problem]):
        event_type = "test.huge"

    huge = Huge.model_construct(**{**dict(big), "data": Problem.model_construct(
        field="f", problem="\x01" * MAX_EVENT_BYTES)})
    with pytest.raises(EventTooLarge, match=r"over the 900,000-byte limit"):
        huge.checked_bytes()
