"""The benchmark workloads: the same agents for flink-agents and for the baselines.

``classifier`` answers in one model call. ``tool`` calls one tool and then answers: two
model calls and one tool call per task. ``react`` calls three tools one after another
(reason, act, observe) and then answers: four model calls and three tool calls per task.
The model simulator plays ``script``; the tools are plain Python, cheap and deterministic,
so what is measured is the runtime around them. The tools' bodies, the instructions and
the inputs live in ``bench._workload_data``, which the peer benchmark's job shares.
"""

from __future__ import annotations

import argparse
import json
from typing import Literal

from pydantic import BaseModel

from bench._workload_data import INSTRUCTIONS, KEY_FIELD, TOOL_CALLS, TOOL_FUNCTIONS, event
from flink_agents import Agent, Limits, Memory, OpenAIModel, tool
from flink_agents.testing import ChatRequest, Reply, ToolCall

__all__ = ["INSTRUCTIONS", "KEY_FIELD", "TOOLS", "TOOL_CALLS", "agent", "event", "script"]

Workload = Literal["classifier", "tool", "react"]


class Label(BaseModel):
    label: Literal["normal", "suspicious"]
    score: float


class Answer(BaseModel):
    answer: str
    evidence: int


TOOLS = tuple(tool(f) for f in TOOL_FUNCTIONS)


def model(name: str, base_url: str) -> OpenAIModel:
    return OpenAIModel(model=name, base_url=base_url, timeout="60s")


def agent(name: Workload, capacity: int, base_url: str) -> Agent:
    """The agent of a workload, with ``capacity`` calls in flight per worker."""
    return Agent(
        name=name,
        instructions=INSTRUCTIONS[name],
        model=model(name, base_url),
        tools=TOOLS[: TOOL_CALLS[name]],
        memory=Memory(window=4),
        output=Label if name == "classifier" else Answer,
        limits=Limits(max_steps=6, call_timeout="60s", max_in_flight=capacity),
    )


def add_workload_args(parser: argparse.ArgumentParser) -> None:
    """The options both systems take: workload, in-flight capacity, topics, model URL."""
    parser.add_argument("--workload", choices=list(INSTRUCTIONS), required=True)
    parser.add_argument("--capacity", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model-url", required=True)


def script(req: ChatRequest) -> Reply:
    """The simulated model of every workload (the request's model names the workload)."""
    if req.model == "classifier":
        amount = _amount(req)
        return Reply.json(
            {"label": "suspicious" if amount > 400 else "normal", "score": amount / 500}
        )
    done = _tools_done(req)
    if done < TOOL_CALLS.get(req.model, len(TOOLS)):
        account = _account(req)
        return Reply.tool_calls([ToolCall(TOOLS[done].name, {"account": account})])
    return Reply.json({"answer": "checked", "evidence": done})


def _current_input(req: ChatRequest) -> dict[str, object]:
    for message in reversed(req.messages):
        if message.get("role") == "user" and str(message.get("content", "")).startswith("{"):
            try:
                return dict(json.loads(message["content"]))
            except ValueError:
                continue
    return {}


def _amount(req: ChatRequest) -> float:
    return float(_current_input(req).get("amount", 0))  # type: ignore[arg-type]


def _account(req: ChatRequest) -> str:
    return str(_current_input(req).get(KEY_FIELD, "unknown"))


def _tools_done(req: ChatRequest) -> int:
    """Tool results since the last user message: how far the current task has come."""
    done = 0
    for message in req.messages:
        if message.get("role") == "user":
            done = 0
        elif message.get("role") == "tool":
            done += 1
    return done
