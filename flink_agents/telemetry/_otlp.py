"""Spans to an OTLP endpoint (HTTP/protobuf) with the OpenTelemetry SDK's exporter."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from flink_agents.errors import ConfigError
from flink_agents.telemetry._spans import Span

_SCOPE = InstrumentationScope("flink_agents")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)

#: Spans per export request.
BATCH = 512


def traces_url(endpoint: str) -> str:
    """The URL traces are posted to: ``/v1/traces`` under an endpoint given without a path.

    >>> traces_url("http://127.0.0.1:4318"), traces_url("https://otel.example.com/otlp/v1/traces")
    ('http://127.0.0.1:4318/v1/traces', 'https://otel.example.com/otlp/v1/traces')
    >>> traces_url("127.0.0.1:4317")
    Traceback (most recent call last):
    ...
    flink_agents.errors.ConfigError: OTLP endpoint '127.0.0.1:4317' is not an http(s) URL: \
give the OTLP/HTTP receiver, e.g. http://127.0.0.1:4318 (traces go to /v1/traces under it)
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"OTLP endpoint {endpoint!r} is not an http(s) URL: give the OTLP/HTTP receiver, "
            "e.g. http://127.0.0.1:4318 (traces go to /v1/traces under it)"
        )
    if parts.path.strip("/"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def readable(span: Span, resource: Resource) -> ReadableSpan:
    """The SDK's finished span for ``span``, with its own ids and times."""

    def context(span_id: int, trace_id: int = span.trace_id) -> SpanContext:
        return SpanContext(trace_id, span_id, False, _SAMPLED)

    attributes = dict(span.attributes)
    status = Status(StatusCode.UNSET)
    if span.error is not None:
        attributes["error.type"] = span.error
        status = Status(StatusCode.ERROR, span.message or span.error)
    return ReadableSpan(
        name=span.name,
        context=context(span.span_id),
        parent=None if span.parent_id is None else context(span.parent_id),
        resource=resource,
        attributes=attributes,
        links=[Link(context(span_id, trace_id)) for trace_id, span_id in span.links],
        kind=SpanKind.CLIENT if span.kind == "client" else SpanKind.INTERNAL,
        status=status,
        start_time=int(span.start * 1e9),
        end_time=int(span.end * 1e9),
        instrumentation_scope=_SCOPE,
    )


def resource_for(service: str) -> Resource:
    return Resource.create({"service.name": service})


def exporter(endpoint: str, timeout_s: float = 10.0) -> OTLPSpanExporter:
    """The SDK's OTLP/HTTP span exporter for ``endpoint``."""
    return OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=timeout_s)


def export(spans: Iterable[Span], endpoint: str, service: str, timeout_s: float = 10.0) -> int:
    """Send ``spans`` to ``endpoint`` now; how many were sent. A batch the receiver does not
    take within ``timeout_s`` (retries included) is a ``ConfigError``."""
    sender, resource = exporter(endpoint, timeout_s), resource_for(service)
    batch: list[ReadableSpan] = []
    sent = 0
    try:
        for span in spans:
            batch.append(readable(span, resource))
            if len(batch) == BATCH:
                sent += _send(sender, batch, endpoint)
                batch = []
        if batch:
            sent += _send(sender, batch, endpoint)
    finally:
        sender.shutdown()  # type: ignore[no-untyped-call]
    return sent


def _send(sender: OTLPSpanExporter, batch: list[ReadableSpan], endpoint: str) -> int:
    if sender.export(batch) != SpanExportResult.SUCCESS:
        raise ConfigError(
            f"the OTLP endpoint {traces_url(endpoint)} did not take {len(batch)} span(s): "
            "is an OTLP/HTTP receiver listening there? (its log says why it refused)"
        )
    return len(batch)
