"""Live export from a running job: spans as tasks go, sent by the SDK's batch processor.

The agent operator calls ``observe`` on its task thread with each event it writes or reads
back; building a span there is a few dictionary operations, and ``BatchSpanProcessor`` only
queues it. The network I/O happens on the processor's own thread, so a slow or absent
receiver never stalls the operator: past the queue's bound, spans are dropped (and the SDK
logs it), the job goes on.
"""

from __future__ import annotations

from opentelemetry.sdk.trace.export import BatchSpanProcessor

from flink_agents.api import events as ev
from flink_agents.telemetry._otlp import exporter, readable, resource_for
from flink_agents.telemetry._spans import TaskSpans


class LiveTraces:
    """Spans of one operator instance's tasks, exported to ``endpoint`` as they end."""

    def __init__(self, endpoint: str, service: str) -> None:
        self._spans = TaskSpans()
        self._resource = resource_for(service)
        self._processor = BatchSpanProcessor(exporter(endpoint))

    def observe(self, event: ev.Event) -> None:
        for span in self._spans.add(event):
            self._processor.on_end(readable(span, self._resource))

    def close(self) -> None:
        """Send what is queued (within the exporter's timeout) and stop the thread."""
        self._processor.shutdown()  # type: ignore[no-untyped-call]
