"""The benchmark workloads: the same agents for flink-agents and for the baselines.

``classifier`` answers in one model call. ``react`` calls three tools one after another
(reason, act, observe) and then answers: four model calls and three tool calls per task.
The model simulator plays ``script``; the tools are plain Python, cheap and deterministic,
so what is measured is the runtime around them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Literal

from pydantic import BaseModel

from flink_agents import Agent, Limits, Memory, OpenAIModel, tool
from flink_agents.testing import ChatRequest, Reply, ToolCall

KEY_FIELD = "key"


class Label(BaseModel):
    label: Literal["normal", "suspicious"]
    score: float


class Answer(BaseModel):
    answer: str
    evidence: int


@tool
def account_age(account: str) -> int:
    """Days since the account was opened."""
    return _digest(account, "age") % 3650


@tool
def recent_volume(account: str) -> int:
    """Number of transactions of the account in the last 30 days."""
    return _digest(account, "volume") % 200


@tool
def peer_score(account: str) -> float:
    """Share of the account's peers flagged as risky, 0..1."""
    return (_digest(account, "peers") % 1000) / 1000


TOOLS = (account_age, recent_volume, peer_score)
INSTRUCTIONS = {
    "classifier": "Label the event normal or suspicious, with a score in 0..1.",
    "react": "Check the account with the tools one at a time, then answer with the evidence count.",
}


def _digest(account: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{account}".encode()).digest()[:4], "big")


def model(name: str, base_url: str) -> OpenAIModel:
    return OpenAIModel(model=name, base_url=base_url, timeout="60s")


def agent(name: Literal["classifier", "react"], capacity: int, base_url: str) -> Agent:
    """The agent of a workload, with ``capacity`` calls in flight per worker."""
    return Agent(
        name=name,
        instructions=INSTRUCTIONS[name],
        model=model(name, base_url),
        tools=TOOLS if name == "react" else (),
        memory=Memory(window=4),
        output=Label if name == "classifier" else Answer,
        limits=Limits(max_steps=6, call_timeout="60s", max_in_flight=capacity),
    )


#: Tool calls per task: the ReAct script asks for each tool once, one per turn; every
#: task ends with one more model call, the answer.
TOOL_CALLS = {"classifier": 0, "react": len(TOOLS)}


def add_workload_args(parser: argparse.ArgumentParser) -> None:
    """The options both systems take: workload, in-flight capacity, topics, model URL."""
    parser.add_argument("--workload", choices=list(INSTRUCTIONS), required=True)
    parser.add_argument("--capacity", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model-url", required=True)


def event(index: int, keys: int) -> dict[str, object]:
    """The ``index``-th input event, spread over ``keys`` keys."""
    return {"id": index, KEY_FIELD: f"acct-{index % keys:05d}", "amount": (index * 37) % 5000 / 10}


def script(req: ChatRequest) -> Reply:
    """The simulated model of both workloads."""
    if req.model == "classifier":
        amount = _amount(req)
        return Reply.json(
            {"label": "suspicious" if amount > 400 else "normal", "score": amount / 500}
        )
    done = _tools_done(req)
    if done < len(TOOLS):
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
