"""What the call executor is built with, apart from the executor itself.

A job is built by a client that never runs a call: this module keeps the model and MCP
clients, which only the TaskManagers load (``CallExecutor`` in ``_executor``), out of the
client's imports.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flink_agents.api import Limits
    from flink_agents.runtime._replay import RecordedLog


#: How long a written result may take to be read back before its call counts as lost.
#: Results wait behind inputs in a backlog for seconds, not minutes.
DELIVERED_GRACE_S = 300.0


def handed_over_limit(limits: Limits) -> int:
    """How many of an agent's calls a worker's executor holds: ``max_in_flight`` running,
    and as many again waiting to start.

    The waiting ones start the moment a running one ends, on the executor's loop, not a
    round trip through the operator later (the report of a result, then the next record's
    call sent over). On the classifier with 128 in flight at 500 ms the share of Little's
    bound went from 0.75 to 0.85 (``bench/README.md``). A call's deadline counts from when
    it starts running, so waiting here fails nothing.
    """
    return 2 * limits.max_in_flight


def still_in_flight(call_id: str, running: Mapping[str, str], delivered: dict[str, float]) -> bool:
    """Whether a call still counts as in flight: running, or written and not yet read back.

    A result written long ago and never read back (the record was unreadable, say) counts
    as lost and is forgotten, so its task issues the call again instead of waiting for ever.
    """
    if call_id in running:
        return True
    written = delivered.get(call_id)
    if written is None:
        return False
    if time.monotonic() - written < DELIVERED_GRACE_S:
        return True
    del delivered[call_id]
    return False


class ExecutorClosed(RuntimeError):
    """The executor stopped (or never started) while a call was being handed to it."""


@dataclass
class ExecutorConfig:
    bootstrap_servers: str
    events_topic: str
    linger_ms: int = 5
    start_timeout_s: float = 120.0
    #: How far back the start-up scan looks for results to replay instead of requesting.
    recovery_lookback_s: float = 300.0
    #: How long the start-up scan may read; calls wait for it, ``open()`` does not.
    recovery_scan_timeout_s: float = 60.0
    producer: dict[str, str] = field(default_factory=dict)
    #: Exact replay: every result is served from this log; nothing is called.
    recorded: RecordedLog | None = None
    #: Per agent, its peers' descriptions and skills (from their cards) for the peer tools.
    peers: dict[str, dict[str, tuple[str, list[str]]]] = field(default_factory=dict)
    #: OTLP/HTTP receiver of the spans of the agents' tasks (``observability.otlp_endpoint``).
    otlp_endpoint: str | None = None
    #: The ``service.name`` of those spans: the app's name.
    otlp_service: str = "flink-agents"
