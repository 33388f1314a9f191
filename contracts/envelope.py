"""The CloudEvents 1.0 envelope every MASH event travels in.

We use the CloudEvents Kafka binding in **structured mode**: the Kafka value is
one JSON object holding the CloudEvents attributes and the event's ``data``,
and the Kafka header ``content-type`` is ``application/cloudevents+json``.
Structured mode keeps an event whole when it is copied to a dead-letter topic
or a file, and lets one pydantic model validate all of it. The Kafka key is the
case id (the contact id before a case exists) so one case's events stay in
order on one partition.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
# Every event a service emits fits in this many bytes. Apache Kafka refuses
# a record over `message.max.bytes` (1,048,588 by default) and the producer
# one over `max.request.size` (1 MiB): one event over the limit once wedged
# a service's outbox, and every contact behind it waited. The rest of the
# megabyte is for headers and the record batch's own framing. Every event
# model is bounded so that its largest instance fits
# (tests/unit/test_event_bounds.py); `Transaction.emit` checks each event.
MAX_EVENT_BYTES = 900_000
_NAMESPACE = uuid.UUID("6f1c8a52-3d0e-4a59-9a43-6a2b3c0d9e11")

DataT = TypeVar("DataT", bound=BaseModel)


def derived_id(*parts: str) -> str:
    """A stable event id derived from the event that caused it.

    Handlers may run twice (a crash before the offset commit); deriving the
    ids of what they emit from what they consumed makes the second run emit
    the same ids, which consumers then recognise and skip.
    """
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel, Generic[DataT]):
    """CloudEvents 1.0 attributes plus our three extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    schema_version_current: ClassVar[int] = 1

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200,
                        description="URI-reference of the producer, e.g. /mash/intake")
    type: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200,
                         description="Case id; the contact id before a case exists")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    schema_version: int = Field(ge=1, description="Version of this event's data schema")
    correlation_id: str = Field(min_length=1, max_length=200,
                                description="The contact that started this flow")
    causation_id: str | None = Field(default=None, max_length=200,
                                     description="Id of the event that caused this one")
    data: DataT

    @classmethod
    def new(
        cls,
        data: DataT,
        *,
        source: str,
        subject: str,
        correlation_id: str,
        causation_id: str | None = None,
        id: str | None = None,
        time: datetime | None = None,
    ) -> Self:
        return cls(
            id=id or str(uuid.uuid4()),
            source=source,
            type=cls.event_type,
            subject=subject,
            time=time or utc_now(),
            schema_version=cls.schema_version_current,
            correlation_id=correlation_id,
            causation_id=causation_id,
            data=data,
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    def checked_bytes(self) -> bytes:
        """The event on the wire, refused when it would not fit (EventTooLarge)."""
        raw = self.to_bytes()
        if len(raw) > MAX_EVENT_BYTES:
            raise EventTooLarge(self.type, len(raw))
        return raw

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        schema = cls.model_json_schema()
        schema["$id"] = f"https://mash.example/schemas/{cls.event_type}.json"
        schema["properties"]["type"]["const"] = cls.event_type
        return schema


def clipped(text: str, limit: int) -> str:
    """Text cut to fit a bounded field, saying so with an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


class EventTooLarge(ValueError):
    """An event that would not fit on the broker: a bug in whatever built it,
    since every model is bounded below the limit."""

    def __init__(self, event_type: str, size: int) -> None:
        super().__init__(f"a {event_type} event of {size:,} bytes is over the "
                         f"{MAX_EVENT_BYTES:,}-byte limit")
        self.event_type = event_type
        self.size = size


class Header(BaseModel):
    """Just the attributes, for routing an event before its data is trusted."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    subject: str
    correlation_id: str
