"""``run_agent``: an agent's tasks in this process, on the job's own state machine and tools.

The inputs go through ``flink_agents.core.AgentMachine``, the state machine AgentStep runs
in a job, with an in-memory key store for its memory and queue. Its calls are made as the
job's call executor makes them: the model through the same ``openai`` client code, Python
tools in this process, MCP servers started for real. What is left out is Kafka and Flink:
results go straight back to the machine instead of round the events topic, and no call can
be lost, so the lost-call checks never fire (the run has one deadline instead).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from flink_agents.api import Agent, OpenAIModel, ToolContext
from flink_agents.api import events as ev
from flink_agents.core import AgentMachine, Call, Effects, InputRecord, MemoryStore, ModelCall
from flink_agents.runtime import AgentModels, Toolbox, cut, failure
from flink_agents.testing._default_model import default_model
from flink_agents.testing._model_script import Reply, Script
from flink_agents.testing._model_server import ModelServer

#: The topic the inputs of a run are said to come from (it names their task ids).
INPUT_TOPIC = "run_agent"
#: The conversation key of every input when ``run_agent`` is given no key field.
DEFAULT_KEY = "test"
#: A variable that is never set: the simulator needs no key, and a real one must not reach it.
_NO_KEY = "FLINK_AGENTS_SIMULATOR_NEEDS_NO_KEY"

#: What answers an agent's model calls in a run; see ``run_agent``.
Model = Script | ModelServer | OpenAIModel | None


@dataclass
class AgentRun:
    """What ``run_agent`` returns: an output record per input, and every step taken.

    ``outputs[i]`` is the record the job would write to the agent's output topic for
    ``inputs[i]``: the carried fields, the answer's fields and ``task``. ``events`` are the
    events the job would log (``task.accepted``, ``model.request``, ``model.response``,
    ``tool.request``, ``tool.result``, ``task.completed`` or ``task.failed``), in the order
    they happened; ``dead_letters`` what it would send to the dead-letter topic.
    """

    outputs: list[dict[str, Any]]
    events: list[ev.Event] = field(default_factory=list)
    dead_letters: list[ev.DeadLetter] = field(default_factory=list)

    def steps(self, index: int) -> list[ev.Event]:
        """The events of the task that served ``inputs[index]``."""
        task_id = self.outputs[index]["task"]["id"]
        return [e for e in self.events if e.task_id == task_id]

    @property
    def tool_results(self) -> list[ev.ToolResult]:
        """Every tool call's result, in the order they came back."""
        return [e for e in self.events if isinstance(e, ev.ToolResult)]

    @property
    def model_calls(self) -> int:
        """How many model calls the run made."""
        return sum(1 for e in self.events if isinstance(e, ev.ModelResponse))


def run_agent(
    agent: Agent,
    inputs: Iterable[Any],
    *,
    model: Model = None,
    key: str | None = None,
    carry: Sequence[str] = (),
    timeout: float = 60.0,
) -> AgentRun:
    """Run ``agent`` on ``inputs`` (JSON objects) and return the outputs and the steps.

    ``model`` answers the agent's model calls: by default the schema-driven
    ``default_model`` (each tool once, then an answer that fits the output schema); a script
    (a ``Reply`` or a function of a ``ChatRequest``) played by a ``ModelServer`` started for
    the run; a running ``ModelServer``; or an ``OpenAIModel`` to call a real model. It also
    answers a reflection's critic, unless the critic has a model of its own
    (``Reflection.critic_model``), which is called as written: point that one at a second
    ``ModelServer`` to script the critic apart. ``key``
    names the input field that keys conversations, as in ``AgentApp.source``; without it all
    inputs are one conversation. ``carry`` lists input fields copied into the outputs, as in
    ``AgentApp.add``. Inputs of one key run in order, other keys concurrently.

    >>> from pydantic import BaseModel
    >>> from flink_agents import Agent, OpenAIModel, tool
    >>> @tool
    ... def stock(sku: str) -> int:
    ...     '''Units in stock of an article.'''
    ...     return 7
    >>> class Answer(BaseModel):
    ...     available: bool
    >>> agent = Agent(name="shop", instructions="Say if the article is available.",
    ...               model=OpenAIModel(model="any"), tools=[stock], output=Answer)
    >>> run = run_agent(agent, [{"order": "o-1", "sku": "A4"}], key="order")
    >>> run.outputs[0]["order"], run.outputs[0]["available"], run.outputs[0]["task"]["state"]
    ('o-1', True, 'TASK_STATE_COMPLETED')
    >>> [(r.tool, r.content) for r in run.tool_results]
    [('stock', '7')]
    """
    if agent.peers:
        raise ValueError(
            f"run_agent runs one agent in-process, but {agent.name!r} has peers "
            f"{list(agent.peers)}, which are asked over Kafka or HTTP: test delegation on a "
            "MiniCluster (docs/testing.md), or run the agent without its peers here"
        )
    records = [_record(payload, i, key, carry) for i, payload in enumerate(inputs)]
    with ExitStack() as stack:
        spec = _with_model(agent, model, stack)
        # The toolbox gets the agent as written: it keeps the names of its credentials.
        return asyncio.run(_Run(spec, timeout).run(records, Toolbox(agent)))


class _Run:
    def __init__(self, agent: Agent, timeout: float) -> None:
        self.agent = agent
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.stores: dict[str, MemoryStore] = {}
        self.pending: set[asyncio.Task[ev.ModelResponse | ev.ToolResult]] = set()
        self.outputs: dict[str, dict[str, Any]] = {}
        self.events: list[ev.Event] = []
        self.dead_letters: list[ev.DeadLetter] = []

    async def run(self, records: list[InputRecord], toolbox: Toolbox) -> AgentRun:
        client = AgentModels(self.agent)
        try:
            await toolbox.start()
            machine = AgentMachine(self.agent, toolbox.names)
            for record in records:
                store = self.stores.setdefault(record.key, MemoryStore())
                self._apply(machine.on_input(store, record, time.time()), client, toolbox)
            await self._drain(machine, client, toolbox)
        finally:
            for task in self.pending:
                task.cancel()
            await toolbox.close()
            await client.close()
        ids = [_task_id(self.agent, r) for r in records]
        return AgentRun([self.outputs[i] for i in ids], self.events, self.dead_letters)

    async def _drain(self, machine: AgentMachine, client: AgentModels, toolbox: Toolbox) -> None:
        while self.pending:
            left = self.deadline - time.monotonic()
            done, _ = await asyncio.wait(
                self.pending, timeout=max(left, 0), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                raise TimeoutError(
                    f"run_agent: {len(self.pending)} calls of agent {self.agent.name} had no "
                    f"result after {self.timeout:g}s; raise timeout= if the model or a tool is "
                    "slow"
                )
            for task in done:
                self.pending.discard(task)
                result = task.result()
                self.events.append(result)
                store = self.stores[result.key]
                if isinstance(result, ev.ModelResponse):
                    fx = machine.on_model_response(store, result, time.time())
                else:
                    fx = machine.on_tool_result(store, result, time.time())
                self._apply(fx, client, toolbox)

    def _apply(self, fx: Effects, client: AgentModels, toolbox: Toolbox) -> None:
        self.events += fx.events
        self.dead_letters += fx.dead_letters
        for _key, record in fx.outputs:
            self.outputs[record["task"]["id"]] = record
        for call in fx.calls:
            self.pending.add(asyncio.create_task(self._call(call, client, toolbox)))

    async def _call(
        self, call: Call, client: AgentModels, toolbox: Toolbox
    ) -> ev.ModelResponse | ev.ToolResult:
        """Make the call within its deadline, as the call executor does; every failure
        becomes an error result."""
        limits = self.agent.limits
        about = {"agent": call.agent, "key": call.key, "task_id": call.task_id, "step": call.step}
        timer = asyncio.timeout(limits.call_deadline().total_seconds())
        try:
            async with timer:
                if isinstance(call, ModelCall):
                    result = await client.complete(call, toolbox.schemas or None)
                    return ev.ModelResponse(
                        **about,
                        message=result.message,
                        usage=result.usage,
                        latency_ms=result.latency_ms,
                        attempts=result.attempts,
                        at=time.time(),
                    )
                context = ToolContext(call.agent, call.key, call.task_id, call.id)
                timeout = limits.call_timeout.total_seconds()
                outcome = await toolbox.call(call.tool, call.arguments, timeout, context)
        except Exception as exc:  # noqa: BLE001 - as in the job: the task reads the failure
            if isinstance(exc, TimeoutError) and timer.expired():
                exc = TimeoutError(f"the call ran past its deadline ({limits.call_deadline()})")
            return failure(call, exc)
        return ev.ToolResult(
            **about,
            call=call.call,
            call_id=call.call_id,
            tool=call.tool,
            content=cut(outcome.content, limits.max_result_bytes),
            is_error=outcome.is_error,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            at=time.time(),
        )


def _with_model(agent: Agent, model: Model, stack: ExitStack) -> Agent:
    """The agent as it will run: its model pointed at the simulator playing ``model``."""
    if isinstance(model, OpenAIModel):
        return agent.model_copy(update={"model": model})
    if isinstance(model, ModelServer):
        server = model
    elif model is None or isinstance(model, Reply) or callable(model):
        server = ModelServer(model or default_model).start()
        # uvicorn takes ~0.2 s to wind down: let it, without holding the test up.
        stack.callback(threading.Thread(target=server.stop, daemon=True).start)
    else:
        raise TypeError(
            f"run_agent: model= takes a script (a Reply or a function of a ChatRequest), a "
            f"ModelServer or an OpenAIModel, not {type(model).__name__}"
        )
    simulated = agent.model.model_copy(update={"base_url": server.base_url, "api_key_env": _NO_KEY})
    return agent.model_copy(update={"model": simulated})


def _record(payload: Any, index: int, key: str | None, carry: Sequence[str]) -> InputRecord:
    """An input as the job's routing would hand it to the agent (see ``runtime/_router``)."""
    where = f"run_agent: inputs[{index}]"
    if not isinstance(payload, dict):
        raise ValueError(f"{where} is a {type(payload).__name__}; inputs are JSON objects")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} is not JSON: {exc}") from None
    if key is None:
        conversation = DEFAULT_KEY
    else:
        value = payload.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise ValueError(f"{where} has no key field {key!r} (a string or a number)")
        conversation = value if isinstance(value, str) else json.dumps(value)
    fields = [key, *carry] if key is not None else list(carry)
    return InputRecord(
        payload=payload,
        key=conversation,
        source=ev.SourceRef(topic=INPUT_TOPIC, partition=0, offset=index),
        carry={f: payload[f] for f in dict.fromkeys(fields) if f in payload},
    )


def _task_id(agent: Agent, record: InputRecord) -> str:
    source = record.source
    return ev.task_id_for(agent.name, source.topic, source.partition, source.offset)
