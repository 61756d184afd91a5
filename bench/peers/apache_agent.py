"""The benchmark's agent written for Apache Flink Agents 0.2 (runs in the peer's venv only).

One workflow agent serves every workload: its input action asks the chat model, whose
setup carries the workload's tools; Apache Flink Agents' built-in chat action runs the
tool loop (tool request, tool action, tool response, next chat) and sends one
``ChatResponseEvent`` with the structured output; the response action writes the output.
Like the flink-agents agent it keeps the last ``WINDOW`` messages of each key as memory
(short-term memory, in keyed state) and sends them before the new input.

The job sets ``bench.system`` (the system prompt flink-agents renders for the same agent)
in the agent configuration; the chat model's name is the workload's, which the model
simulator's script reads.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flink_agents.api.agents.agent import STRUCTURED_OUTPUT, Agent
from flink_agents.api.agents.types import OutputSchema
from flink_agents.api.chat_message import ChatMessage, MessageRole
from flink_agents.api.decorators import action
from flink_agents.api.events.chat_event import ChatRequestEvent, ChatResponseEvent
from flink_agents.api.events.event import InputEvent, OutputEvent
from flink_agents.api.runner_context import RunnerContext
from pydantic import BaseModel

#: The chat model setup's resource name, registered by the job.
MODEL = "bench_model"
#: Messages of earlier tasks of a key sent with each request (flink-agents: ``Memory(window=4)``).
WINDOW = 4


class Label(BaseModel):
    label: Literal["normal", "suspicious"]
    score: float


class Answer(BaseModel):
    answer: str
    evidence: int


class BenchAgent(Agent):
    """Input -> chat (with the workload's tools) -> output, with a window of memory."""

    @action(InputEvent)
    @staticmethod
    def ask(event: InputEvent, ctx: RunnerContext) -> None:
        record: dict[str, Any] = event.input
        content = json.dumps(record, ensure_ascii=False)
        history = ctx.short_term_memory.get("history") or []
        ctx.sensory_memory.set("id", record.get("id"))
        ctx.sensory_memory.set("content", content)
        workload = ctx.config.get_str("bench.workload")
        schema = Label if workload == "classifier" else Answer
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=ctx.config.get_str("bench.system")),
            *(ChatMessage(role=MessageRole(m["role"]), content=m["content"]) for m in history),
            ChatMessage(role=MessageRole.USER, content=content),
        ]
        ctx.send_event(
            ChatRequestEvent(
                model=MODEL, messages=messages, output_schema=OutputSchema(output_schema=schema)
            )
        )

    @action(ChatResponseEvent)
    @staticmethod
    def answer(event: ChatResponseEvent, ctx: RunnerContext) -> None:
        output: BaseModel = event.response.extra_args[STRUCTURED_OUTPUT]
        history = ctx.short_term_memory.get("history") or []
        history = [
            *history,
            {"role": "user", "content": ctx.sensory_memory.get("content")},
            {"role": "assistant", "content": event.response.content},
        ][-WINDOW:]
        ctx.short_term_memory.set("history", history)
        record = {"id": ctx.sensory_memory.get("id"), **output.model_dump()}
        ctx.send_event(OutputEvent(output=json.dumps(record)))
