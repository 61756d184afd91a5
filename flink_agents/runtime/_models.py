"""The model clients of one agent on one worker: its own, and its critic's.

A reflection's critic (``Reflection.critic_model``, else the agent's model) is asked
without the agent's tools and output format: it answers each draft with a verdict. The
call executor and ``run_agent`` share this, so a call goes to the same client in both.
"""

from __future__ import annotations

from typing import Any

from flink_agents.api import Agent
from flink_agents.core import ModelCall
from flink_agents.models import ChatClient, ChatResult


class AgentModels:
    """Which client answers a model call of ``agent``.

    >>> from flink_agents.api import OpenAIModel, Reflection
    >>> writer = OpenAIModel(model="writer", base_url="http://127.0.0.1:9/v1")
    >>> judge = OpenAIModel(model="judge", base_url="http://127.0.0.1:9/v1")
    >>> agent = Agent(name="a", instructions="Write.", model=writer,
    ...               reflection=Reflection(critic="Judge.", critic_model=judge))
    >>> models = AgentModels(agent)
    >>> models.agent.label, models.critic.label
    ('writer@http://127.0.0.1:9/v1', 'judge@http://127.0.0.1:9/v1')
    """

    def __init__(self, agent: Agent) -> None:
        self.name = agent.name
        self.agent = ChatClient(agent.model, agent.limits, agent.output)
        reflection = agent.reflection
        self.critic = (
            ChatClient(reflection.critic_model or agent.model, agent.limits)
            if reflection is not None
            else None
        )

    async def complete(self, call: ModelCall, tools: list[dict[str, Any]] | None) -> ChatResult:
        """The agent's model with its tools, or for a critic's call the critic's, bare."""
        if not call.critic:
            return await self.agent.complete(call.messages, tools, call.id)
        if self.critic is None:
            raise ValueError(f"agent {self.name} has no critic (Agent.reflection is None)")
        return await self.critic.complete(call.messages, request_id=call.id)

    async def close(self) -> None:
        await self.agent.close()
        if self.critic is not None:
            await self.critic.close()
