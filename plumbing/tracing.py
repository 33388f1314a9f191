"""One trace per contact, across every service.

FastStream's ``KafkaTelemetryMiddleware`` opens a span for every message
received and published and carries the W3C ``traceparent`` in Kafka headers;
the outbox stores that header when an event is emitted and the relay
publishes under it (``plumbing.outbox``), so the trace survives the hop
through the database, however late the relay sends.

Spans are exported over OTLP/HTTP when the standard OpenTelemetry
environment says where (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); without it spans are still made (the
trace id reaches every log line) but go nowhere.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def tracer_provider(service: str) -> TracerProvider:
    """The process's tracer provider, registered globally (once per process)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    name = os.environ.get("OTEL_SERVICE_NAME") or f"mash-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if any(os.environ.get(variable) for variable in ENDPOINT_VARIABLES):
        # Imported here: a process that exports nothing needs no HTTP client.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def flush() -> None:
    """Export what is buffered (a stopping service must not drop its last spans)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis=5000)


def trace_headers() -> dict[str, str]:
    """The active trace context (W3C ``traceparent``, ``tracestate``), if any,
    to keep with work done later: an outbox event, a queued enquiry, a case."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def attached(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Inside the trace whose context was kept in ``carrier``."""
    token = otel_context.attach(propagate.extract(dict(carrier or {})))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def continued(carrier: Mapping[str, str] | None, name: str) -> Iterator[None]:
    """Work done later for a message (a queued enquiry answered, a deadline
    swept) as a span in that message's trace, whose ``traceparent`` was kept
    with the work; the events it emits carry the same trace on."""
    with attached(carrier), trace.get_tracer("mash").start_as_current_span(name):
        yield
