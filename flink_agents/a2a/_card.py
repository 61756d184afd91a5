"""Agent cards: what an agent of this framework says about itself, generated from its spec.

A card names the agent, says what it does (description, one skill made of its
instructions and tools) and how to reach it: the Kafka binding (its inbox topic) and,
when one serves it, the HTTP gateway.
"""

from __future__ import annotations

from typing import Any

from flink_agents.a2a._binding import BINDING_URI, PROTOCOL_VERSION, inbox_topic
from flink_agents.api import Agent


def agent_card(agent: Agent, bootstrap_servers: str, gateway_url: str | None = None) -> Any:
    """The A2A ``AgentCard`` of ``agent`` (an ``a2a-sdk`` protobuf message).

    >>> from flink_agents.api import OpenAIModel
    >>> review = Agent(name="review", description="Reviews payments.", instructions="Review.",
    ...                model=OpenAIModel(model="m"), callers=["*"])
    >>> card = agent_card(review, "127.0.0.1:9092")
    >>> card.name, card.supported_interfaces[0].url, card.supported_interfaces[0].protocol_binding
    ('review', 'kafka://127.0.0.1:9092/a2a.inbox.review', 'urn:flink-agents:a2a:kafka:1')
    """
    from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill

    interfaces = [
        AgentInterface(
            url=f"kafka://{bootstrap_servers}/{inbox_topic(agent.name)}",
            protocol_binding=BINDING_URI,
            protocol_version=PROTOCOL_VERSION,
        )
    ]
    if gateway_url:
        interfaces.append(
            AgentInterface(
                url=f"{gateway_url.rstrip('/')}/agents/{agent.name}",
                protocol_binding="JSONRPC",
                protocol_version=PROTOCOL_VERSION,
            )
        )
    tools = [t.name for t in agent.function_tools]
    for server in agent.mcp_servers:
        tools += list(server.allowed_tools or [server.label])
    output = ["application/json"] if agent.output is not None else ["text/plain"]
    return AgentCard(
        name=agent.name,
        description=describe(agent),
        version="1",
        supported_interfaces=interfaces,
        capabilities=AgentCapabilities(streaming=False, push_notifications=False),
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=output,
        skills=[
            AgentSkill(
                id=agent.name,
                name=agent.name,
                description=agent.instructions,
                tags=sorted(set(tools)),
            )
        ],
    )


def describe(agent: Agent) -> str:
    """The card's description: the spec's, or the first line of the instructions."""
    return agent.description or agent.instructions.strip().splitlines()[0]


def card_summary(card: Any) -> tuple[str, list[str]]:
    """What a caller's model is told about a peer: its description and its skills.

    >>> from flink_agents.api import OpenAIModel
    >>> spec = Agent(name="r", instructions="Review.\\nCarefully.", model=OpenAIModel(model="m"))
    >>> card_summary(agent_card(spec, "k:9"))
    ('Review.', ['r'])
    """
    return str(card.description), [str(s.name) for s in card.skills]
