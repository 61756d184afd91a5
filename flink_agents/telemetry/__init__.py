"""The audit log as OpenTelemetry traces: a trace per task, a span per model call, tool call
and delegation, with the GenAI semantic conventions, sent over OTLP/HTTP.

``flink-agents trace APP --otlp ENDPOINT`` exports a time range of the events topic;
``observability.otlp_endpoint`` makes a running job export the same spans as they end.
See ``docs/observability.md``.
"""

from flink_agents.telemetry._live import LiveTraces
from flink_agents.telemetry._log import spans_in_range, task_spans
from flink_agents.telemetry._otlp import export, traces_url
from flink_agents.telemetry._spans import Span, TaskSpans, span_id_of, trace_id_of

__all__ = [
    "LiveTraces",
    "Span",
    "TaskSpans",
    "export",
    "span_id_of",
    "spans_in_range",
    "task_spans",
    "trace_id_of",
    "traces_url",
]
