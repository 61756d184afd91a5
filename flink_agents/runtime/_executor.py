"""The call executor: model and tool calls of one Flink worker, on its own asyncio loop.

The agent operator hands calls over and returns at once; it never waits on I/O. Each call
runs on a long-lived event loop in a background thread (MCP sessions and HTTP connection
pools live there), and its result is written to the agent events topic, from which the
operator reads it back as the next step's input. A result already in that log (found by
the start-up scan after a failure) is not requested again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flink_agents.a2a._binding import CORRELATION_ID, REPLY_KIND
from flink_agents.a2a._card import card_summary
from flink_agents.a2a._remote import RemotePeers
from flink_agents.api._agent import Agent
from flink_agents.api.events import (
    CallError,
    ModelResponse,
    ToolResult,
    routing_key,
)
from flink_agents.core import Call, ModelCall, ToolCall
from flink_agents.core._peers import Delegation, is_url, peer_tool_name
from flink_agents.errors import FlinkAgentsError, RetryableError
from flink_agents.models import ChatClient
from flink_agents.runtime._kafka_io import KIND_HEADER
from flink_agents.runtime._recorded import Location, RecordedResults
from flink_agents.runtime._toolbox import Toolbox

log = logging.getLogger(__name__)


@dataclass
class ExecutorConfig:
    bootstrap_servers: str
    events_topic: str
    linger_ms: int = 1
    start_timeout_s: float = 120.0
    #: How far back the start-up scan looks for results to replay instead of requesting.
    recovery_lookback_s: float = 300.0
    producer: dict[str, str] = field(default_factory=dict)
    #: Per agent, its peers' descriptions and skills (from their cards) for the peer tools.
    peers: dict[str, dict[str, tuple[str, list[str]]]] = field(default_factory=dict)


class CallExecutor:
    """Runs calls for a set of agents; ``submit`` is safe from the Flink task thread."""

    def __init__(self, agents: Iterable[Agent], config: ExecutorConfig) -> None:
        self.agents = {a.name: a for a in agents}
        self.config = config
        self._log = RecordedResults(config.bootstrap_servers, config.events_topic)
        self._recorded: dict[str, Location] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="flink-agents-calls", daemon=True)
        self._models: dict[str, ChatClient] = {}
        self._tools: dict[str, Toolbox] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._producer: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._remote = RemotePeers()

    # -- lifecycle (task thread) ---------------------------------------------------------

    def start(self) -> CallExecutor:
        """Open clients and MCP sessions, list tools, scan the log; raise what fails."""
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                "bootstrap.servers": self.config.bootstrap_servers,
                "linger.ms": self.config.linger_ms,
                # Not idempotent: the operator applies each result once by its step id, and
                # librdkafka's idempotent mode with a 1 ms linger cost ~1 ms of CPU per record
                # (measured), ten times the plain producer.
                "enable.idempotence": False,
                "client.id": "flink-agents-executor",
                **self.config.producer,
            }
        )
        self._recorded = self._log.scan(self.config.recovery_lookback_s)
        if self._recorded:
            log.info(
                "%d recent results in %s can be replayed",
                len(self._recorded),
                self.config.events_topic,
            )
        # Clients are built here, not on the loop: building one reads files (package
        # metadata, CA certificates), which would block the loop.
        for name, agent in self.agents.items():
            self._models[name] = ChatClient(agent.model, agent.limits, agent.output)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._open(), self._loop)
        future.result(self.config.start_timeout_s)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("call executor did not shut down cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if self._producer is not None:
            self._producer.flush(10)
        self._log.close()

    # -- calls (task thread) -------------------------------------------------------------

    def tool_names(self, agent: str) -> tuple[str, ...]:
        toolbox = self._tools.get(agent)
        return toolbox.names if toolbox else ()

    def submit(self, calls: list[Call]) -> None:
        """Start calls not already running; a call answered in the log replays that answer."""
        with self._lock:
            fresh = [c for c in calls if c.id not in self._running]
            self._running.update(c.id for c in fresh)
            replays = {c.id: self._recorded.pop(c.id) for c in fresh if c.id in self._recorded}
        if fresh:
            self._loop.call_soon_threadsafe(self._start_calls, fresh, replays)

    def delegate(self, delegations: list[Delegation]) -> None:
        """Ask remote A2A agents (peers given by URL); their answers go to the events topic."""
        if delegations:
            self._loop.call_soon_threadsafe(self._start_delegations, delegations)

    def in_flight(self, call_id: str) -> bool:
        """True while this worker runs (or replays) the call."""
        with self._lock:
            return call_id in self._running

    # -- the loop (executor thread) -----------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _open(self) -> None:
        for name, agent in self.agents.items():
            toolbox = Toolbox(agent)
            await toolbox.start()
            toolbox.add_peers(self.config.peers.get(name, {}))
            toolbox.add_peers(await self._remote_cards(agent))
            self._tools[name] = toolbox
            self._gates[name] = asyncio.Semaphore(agent.limits.max_in_flight)
        self._spawn(self._poll_producer())

    async def _remote_cards(self, agent: Agent) -> dict[str, tuple[str, list[str]]]:
        """What the model is told about the agent's remote peers, from their cards."""
        timeout = agent.limits.call_timeout.total_seconds()
        found = {}
        for url in (p for p in agent.peers if is_url(p)):
            card = await self._remote.card(url, timeout)
            if card is not None:
                description, skills = card_summary(card)
                found[peer_tool_name(url)] = (f"{card.name}: {description}", skills)
        return found

    def _start_delegations(self, delegations: list[Delegation]) -> None:
        for delegation in delegations:
            self._spawn(self._ask_remote(delegation))

    async def _ask_remote(self, delegation: Delegation) -> None:
        limits = self.agents[delegation.caller].limits
        answer = await self._remote.ask(
            delegation,
            timeout=limits.call_timeout.total_seconds(),
            retries=limits.max_retries,
            backoff=limits.backoff.total_seconds(),
        )
        headers = [(CORRELATION_ID, delegation.message_id.encode())]
        await self._send(answer.encode(), delegation.context_id.encode(), REPLY_KIND, headers)

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._remote.close()
        for toolbox in self._tools.values():
            await toolbox.close()
        for client in self._models.values():
            await client.close()

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_calls(self, calls: list[Call], replays: dict[str, Location]) -> None:
        for call in calls:
            where = replays.get(call.id)
            self._spawn(self._replay(call, where) if where else self._execute(call))

    async def _replay(self, call: Call, where: Location) -> None:
        """Write the recorded result again; make the call for real if it cannot be read."""
        record = await asyncio.to_thread(self._log.fetch, where)
        if record is None:
            await self._execute(call)
            return
        try:
            value, key = record
            kind = call.id.rpartition("/")[2]  # the id names the result's kind
            await self._send(value, key or routing_key(call.agent, call.key).encode(), kind)
        finally:
            with self._lock:
                self._running.discard(call.id)

    async def _execute(self, call: Call) -> None:
        try:
            async with self._gates[call.agent]:
                if isinstance(call, ModelCall):
                    event: ModelResponse | ToolResult = await self._call_model(call)
                else:
                    event = await self._call_tool(call)
            await self._produce(call, event)
        finally:
            with self._lock:
                self._running.discard(call.id)

    async def _call_model(self, call: ModelCall) -> ModelResponse:
        base = {"agent": call.agent, "key": call.key, "task_id": call.task_id, "step": call.step}
        try:
            result = await self._models[call.agent].complete(
                call.messages, self._tools[call.agent].schemas or None
            )
        except FlinkAgentsError as exc:
            error = CallError(
                type=type(exc).__name__, message=str(exc), retryable=isinstance(exc, RetryableError)
            )
            return ModelResponse(**base, error=error, at=time.time())
        return ModelResponse(
            **base,
            message=result.message,
            usage=result.usage,
            latency_ms=result.latency_ms,
            attempts=result.attempts,
            at=time.time(),
        )

    async def _call_tool(self, call: ToolCall) -> ToolResult:
        timeout = self.agents[call.agent].limits.call_timeout.total_seconds()
        outcome = await self._tools[call.agent].call(call.tool, call.arguments, timeout)
        return ToolResult(
            agent=call.agent,
            key=call.key,
            task_id=call.task_id,
            step=call.step,
            call=call.call,
            call_id=call.call_id,
            tool=call.tool,
            content=outcome.content,
            is_error=outcome.is_error,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            at=time.time(),
        )

    async def _produce(self, call: Call, event: ModelResponse | ToolResult) -> None:
        key = routing_key(call.agent, call.key).encode()
        await self._send(event.model_dump_json().encode(), key, event.kind)

    async def _send(
        self, value: bytes, key: bytes, kind: str, extra: list[tuple[str, bytes]] | None = None
    ) -> None:
        headers = [(KIND_HEADER, kind.encode()), *(extra or [])]
        while True:
            try:
                self._producer.produce(
                    self.config.events_topic,
                    value=value,
                    key=key,
                    headers=headers,
                    on_delivery=_delivery_report,
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports to make room, then retry.
                self._producer.poll(0)
                await asyncio.sleep(0.01)

    async def _poll_producer(self) -> None:
        while True:
            self._producer.poll(0)
            await asyncio.sleep(0.05)


def _delivery_report(error: Any, message: Any) -> None:
    if error is not None:
        # The step's check timer issues the call again when its result never arrives.
        log.error("could not write a call result to %s: %s", message.topic(), error)
