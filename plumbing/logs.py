"""One JSON object per log line, each naming its service, case and trace.

An engineer paged at 3 a.m. greps one case id across nine processes, or opens
the trace a log line names; neither works unless every line carries both. The
case id comes from the message being handled (every event is keyed by case
id, or by contact id before a case exists: that goes in ``contact_id``), set
by the consumer guard for the whole of the handler; the trace and span ids
from OpenTelemetry's current span. No personal data is logged: ids and codes.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

_subject: ContextVar[str | None] = ContextVar("mash_log_subject", default=None)

LogFormat = Literal["json", "text"]


@contextmanager
def about(subject: str | None) -> Iterator[None]:
    """Every line logged inside names this case (or contact)."""
    token = _subject.set(subject)
    try:
        yield
    finally:
        _subject.reset(token)


class _Context(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.time = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        record.service = self.service
        subject = _subject.get()
        is_case = subject is not None and subject.startswith("CASE-")
        record.case_id = subject if is_case else None
        record.contact_id = subject if subject is not None and not is_case else None
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        return True


def configure(service: str, level: str, fmt: LogFormat = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_Context(service))
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "{time}{levelname}{name}{message}{service}{case_id}{contact_id}{trace_id}{span_id}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s [%(case_id)s %(trace_id)s]: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # The Kafka client logs every rebalance and reconnect at INFO.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
