"""Agent-to-agent (A2A 1.0): this project's Kafka binding, its records, and agent cards.

``docs/a2a.md`` describes the binding: inbox topics, keys, headers, ordering, errors and
how an answer ends a request.
"""

from flink_agents.a2a._binding import (
    BINDING_URI,
    GATEWAY_REPLIES_TOPIC,
    PROTOCOL_VERSION,
    inbox_topic,
)

__all__ = ["BINDING_URI", "GATEWAY_REPLIES_TOPIC", "PROTOCOL_VERSION", "inbox_topic"]
