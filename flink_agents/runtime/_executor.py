"""The call executor: model and tool calls of one Flink worker, on its own asyncio loop.

The agent operator hands calls over and goes on; it never waits on I/O, except for room:
an agent has at most ``Limits.max_in_flight`` calls running on a worker and as many again
waiting to start (``handed_over_limit``), and ``submit`` waits while that many are handed
over, so a backlog back-pressures the operator and Flink's Kafka sources (as the capacity
of PyFlink's ``AsyncDataStream`` would) instead of piling up calls.

Each call runs on a long-lived event loop in a background thread (MCP sessions and HTTP
connection pools live there), within its deadline counted from when it starts running.
Whatever happens inside a call ends as a result the task can read: an answer, or an error
with the real reason. The result is written to the agent events topic, from which the
operator reads it back as the next step's input; the call counts as in flight until the
operator says it read the result (``settle``), so a check that fires while the result is
on its way does not issue the call again. A result already in that log (found by the
start-up scan after a failure) is not requested again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

from flink_agents.a2a._binding import CORRELATION_ID, REPLY_KIND
from flink_agents.a2a._card import card_summary
from flink_agents.a2a._remote import RemotePeers
from flink_agents.api import Agent, ToolContext
from flink_agents.api.events import (
    ModelResponse,
    ToolResult,
    result_record,
    routing_key,
)
from flink_agents.core import Call, Delegation, ModelCall, ToolCall, is_url, peer_tool_name
from flink_agents.errors import FlinkAgentsError
from flink_agents.runtime._executor_config import (
    ExecutorClosed,
    ExecutorConfig,
    handed_over_limit,
    still_in_flight,
)
from flink_agents.runtime._kafka_io import KIND_HEADER
from flink_agents.runtime._models import AgentModels
from flink_agents.runtime._recorded import Location, RecordedResults
from flink_agents.runtime._replay import Recorded, not_recorded, recorded_key
from flink_agents.runtime._results import cut
from flink_agents.runtime._results import failure as _failure
from flink_agents.runtime._toolbox import Toolbox

log = logging.getLogger(__name__)

Result = ModelResponse | ToolResult


class HandOverListener(Protocol):
    """Told of each result written, and of each write that failed (on the loop thread).

    An executor with a listener leaves the delivered calls to it: the operator's side of a
    call process (``_call_process``) counts them, and settles them there.
    """

    def handed(self, call_id: str) -> None: ...
    def lost(self, call_id: str) -> None: ...


class CallExecutor:
    """Runs calls for a set of agents; ``submit``, ``settle`` and ``cancel`` are for the
    Flink task thread, and safe there."""

    def __init__(
        self,
        agents: Iterable[Agent],
        config: ExecutorConfig,
        listener: HandOverListener | None = None,
    ) -> None:
        self.agents = {a.name: a for a in agents}
        self.config = config
        self._listener = listener
        self._log = RecordedResults(config.bootstrap_servers, config.events_topic)
        self._recorded: dict[str, Location] = {}
        self._served: dict[str, Recorded] | None = None
        self._cond = threading.Condition()
        #: Calls handed over and not yet written, by id, with their agent.
        self._running: dict[str, str] = {}
        #: Calls whose result was handed to the producer and not yet read back, with when.
        self._delivered: dict[str, float] = {}
        self._admitted: Counter[str] = Counter()
        #: Calls handed over and not yet started on the loop, and whether the loop was
        #: already asked to start them: under load one wake-up starts many calls.
        self._handed: list[Call] = []
        self._wake_asked = False
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="flink-agents-calls", daemon=True)
        self._scanner: threading.Thread | None = None
        self._scanned: asyncio.Event | None = None
        self._models: dict[str, AgentModels] = {}
        self._tools: dict[str, Toolbox] = {}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._producer: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_call: dict[str, asyncio.Task[None]] = {}
        self._remote = RemotePeers()

    # -- lifecycle (task thread) ---------------------------------------------------------

    def start(self) -> CallExecutor:
        """Open clients and MCP sessions and list tools; raise what fails, leaving nothing
        running. The scan of the events log goes on in the background."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                "bootstrap.servers": self.config.bootstrap_servers,
                "linger.ms": self.config.linger_ms,
                # Not idempotent: the operator applies each result once by its step id, and
                # librdkafka's idempotent mode with a 1 ms linger cost ~1 ms of CPU per record
                # (measured), ten times the plain producer.
                "enable.idempotence": False,
                # The partition the Java clients (Flink's sinks) choose for the same key.
                "partitioner": "murmur2_random",
                "client.id": "flink-agents-executor",
                **self.config.producer,
            }
        )
        if self.config.recorded is not None:
            self._served = self.config.recorded.load()
        # Clients are built here, not on the loop: building one reads files (package
        # metadata, CA certificates), which would block the loop.
        for name, agent in self.agents.items():
            self._models[name] = AgentModels(agent)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._open(), self._loop)
        try:
            future.result(self.config.start_timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the call executor did not open its MCP sessions within "
                f"{self.config.start_timeout_s:g}s"
            ) from None
        self._scanner = threading.Thread(target=self._scan, name="flink-agents-scan", daemon=True)
        self._scanner.start()

    def close(self) -> None:
        """Stop the calls, close sessions (stdio MCP servers end), flush the producer."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
            except Exception as exc:  # noqa: BLE001 - closing goes on whatever failed
                log.warning("call executor did not shut down cleanly: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()
        if self._producer is not None:
            self._producer.flush(10)
        self._log.close()

    # -- calls (task thread) -------------------------------------------------------------

    def tool_names(self, agent: str) -> tuple[str, ...]:
        toolbox = self._tools.get(agent)
        return toolbox.names if toolbox else ()

    def submit(self, calls: list[Call]) -> None:
        """Start calls not already in flight; wait while their agent has no room.

        A call answered in the log replays that answer.
        """
        with self._cond:
            fresh = [c for c in calls if not self._tracked(c.id)]
            for agent in dict.fromkeys(c.agent for c in fresh):
                limit = handed_over_limit(self.agents[agent].limits)
                while self._admitted[agent] >= limit and not self._closed:
                    self._cond.wait(1.0)
                    if not self._thread.is_alive():
                        break
            if self._closed or not self._thread.is_alive():
                raise ExecutorClosed("the call executor is not running; the job is stopping")
            for call in fresh:
                self._running[call.id] = call.agent
                self._admitted[call.agent] += 1
            # Waking the loop writes to its self-pipe, which gives up the GIL, and on a busy
            # worker the task thread then waits for the loop thread to hand it back: the
            # loop is woken once for all the calls handed over before it got to them.
            self._handed.extend(fresh)
            wake = bool(fresh) and not self._wake_asked
            self._wake_asked = self._wake_asked or wake
        if wake:
            self._loop.call_soon_threadsafe(self._start_handed)

    def delegate(self, delegations: list[Delegation]) -> None:
        """Ask remote A2A agents (peers given by URL); their answers go to the events topic."""
        if delegations:
            self._loop.call_soon_threadsafe(self._start_delegations, delegations)

    def admitted(self, agent: str) -> int:
        """The agent's calls queued or running now."""
        with self._cond:
            return self._admitted[agent]

    def in_flight(self, call_id: str) -> bool:
        """True from ``submit`` until the operator settles the result (or cancels the call)."""
        with self._cond:
            return self._tracked(call_id)

    def settle(self, call_ids: Iterable[str]) -> None:
        """The operator read these results back: the calls are no longer in flight."""
        with self._cond:
            for call_id in call_ids:
                self._delivered.pop(call_id, None)

    def cancel(self, call_ids: Iterable[str]) -> None:
        """Stop these calls (their task ended): queued ones never start, running ones stop."""
        stopped = []
        with self._cond:
            for call_id in call_ids:
                self._delivered.pop(call_id, None)
                agent = self._running.pop(call_id, None)
                if agent is not None:
                    self._admitted[agent] -= 1
                    stopped.append(call_id)
            self._cond.notify_all()
        if stopped and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._cancel_tasks, stopped)

    def _tracked(self, call_id: str) -> bool:
        return still_in_flight(call_id, self._running, self._delivered)

    # -- the loop (executor thread) -----------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _open(self) -> None:
        self._scanned = asyncio.Event()
        for name, agent in self.agents.items():
            toolbox = Toolbox(agent)
            self._tools[name] = toolbox  # closed by _shutdown even if start fails half-way
            await toolbox.start()
            toolbox.add_peers(self.config.peers.get(name, {}))
            toolbox.add_peers(await self._remote_cards(agent))
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
        headers = [
            (KIND_HEADER, REPLY_KIND.encode()),
            (CORRELATION_ID, delegation.message_id.encode()),
        ]
        while True:
            try:
                self._producer.produce(
                    self.config.events_topic,
                    value=answer.encode(),
                    key=delegation.context_id.encode(),
                    headers=headers,
                    on_delivery=_answer_report,
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports to make room, then retry.
                self._producer.poll(0.01)

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._remote.close()
        failures = []
        for toolbox in self._tools.values():
            try:
                await toolbox.close()
            except Exception as exc:  # noqa: BLE001 - close every toolbox, then report
                failures.append(exc)
        for client in self._models.values():
            await client.close()
        if failures:
            raise failures[0]

    def _scan(self) -> None:
        """Find recent results in the log (scan thread); calls wait for it, open() does not."""
        try:
            self._recorded = self._log.scan(
                self.config.recovery_lookback_s, self.config.recovery_scan_timeout_s
            )
        except Exception as exc:  # noqa: BLE001 - without the scan, calls are made for real
            log.warning("could not scan %s for recent results: %s", self.config.events_topic, exc)
        if self._recorded:
            log.info(
                "%d recent results in %s can be replayed",
                len(self._recorded),
                self.config.events_topic,
            )
        if self._scanned is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._scanned.set)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_handed(self) -> None:
        with self._cond:
            calls, self._handed = self._handed, []
            self._wake_asked = False
        for call in calls:
            task = self._spawn(self._run_call(call))
            self._by_call[call.id] = task
            task.add_done_callback(functools.partial(self._forget_task, call.id))

    def _forget_task(self, call_id: str, _task: asyncio.Task[None]) -> None:
        self._by_call.pop(call_id, None)

    def _cancel_tasks(self, call_ids: list[str]) -> None:
        for call_id in call_ids:
            task = self._by_call.pop(call_id, None)
            if task is not None:
                task.cancel()

    async def _run_call(self, call: Call) -> None:
        if self._served is not None:
            self._serve(call)
            return
        assert self._scanned is not None
        await self._scanned.wait()
        where = self._recorded.pop(call.id, None)
        if where is not None:
            record = await asyncio.to_thread(self._log.fetch, where)
            if record is not None:
                value, key = record
                kind = call.id.rpartition("/")[2]  # the id names the result's kind
                self._hand_over(call, value, key or _key(call), kind)
                return
        async with self._gates[call.agent]:
            event = await self._execute(call)
        self._hand_over(call, result_record(event), _key(call), event.kind)

    def _serve(self, call: Call) -> None:
        """Exact replay: write the original run's result, or an error when it has none."""
        assert self._served is not None and self.config.recorded is not None
        recorded = self._served.get(call.id)
        if recorded is None:
            event = not_recorded(call, self.config.recorded.topic)
            self._hand_over(call, result_record(event), _key(call), event.kind)
            return
        kind = call.id.rpartition("/")[2]  # the id names the result's kind
        self._hand_over(call, recorded[0], recorded_key(call, recorded), kind)

    async def _execute(self, call: Call) -> Result:
        """Make the call within its deadline; every failure becomes an error result."""
        deadline = self.agents[call.agent].limits.call_deadline().total_seconds()
        timer = asyncio.timeout(deadline)
        try:
            async with timer:
                if isinstance(call, ModelCall):
                    return await self._call_model(call)
                return await self._call_tool(call)
        except TimeoutError as exc:
            if not timer.expired():
                return _failure(call, exc)
            reason = f"the call ran past its deadline of {deadline:g}s (Limits.call_deadline())"
            return _failure(call, TimeoutError(reason))
        except FlinkAgentsError as exc:
            return _failure(call, exc)  # a failure the client explained (after its retries)
        except Exception as exc:
            log.exception("call %s failed", call.id)
            return _failure(call, exc)

    async def _call_model(self, call: ModelCall) -> ModelResponse:
        result = await self._models[call.agent].complete(
            call, self._tools[call.agent].schemas or None
        )
        return ModelResponse(
            **_about(call),
            message=result.message,
            usage=result.usage,
            latency_ms=result.latency_ms,
            attempts=result.attempts,
            at=time.time(),
        )

    async def _call_tool(self, call: ToolCall) -> ToolResult:
        limits = self.agents[call.agent].limits
        context = ToolContext(call.agent, call.key, call.task_id, call.id)
        outcome = await self._tools[call.agent].call(
            call.tool, call.arguments, limits.call_timeout.total_seconds(), context
        )
        return ToolResult(
            **_about(call),
            call=call.call,
            call_id=call.call_id,
            tool=call.tool,
            content=cut(outcome.content, limits.max_result_bytes),
            is_error=outcome.is_error,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            at=time.time(),
        )

    def _hand_over(self, call: Call, value: bytes, key: bytes, kind: str) -> None:
        """Write a result; from here until ``settle`` the call counts as delivered."""
        with self._cond:
            agent = self._running.pop(call.id, None)
            if agent is None:
                return  # cancelled meanwhile: its task ended
            self._admitted[agent] -= 1
            if self._listener is None:
                self._delivered[call.id] = time.monotonic()
            self._cond.notify_all()
        if self._listener is not None:
            self._listener.handed(call.id)
        from confluent_kafka import KafkaException

        try:
            self._produce(call, value, key, kind)
        except KafkaException as exc:
            reason = f"the result could not be written to {self.config.events_topic}: {exc}"
            self._write_failure(call, reason)

    def _produce(self, call: Call, value: bytes, key: bytes, kind: str) -> None:
        headers = [(KIND_HEADER, kind.encode())]

        def report(error: Any, message: Any) -> None:
            self._delivery_report(call, error, message)

        while True:
            try:
                self._producer.produce(
                    self.config.events_topic,
                    value=value,
                    key=key,
                    headers=headers,
                    on_delivery=report,
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports to make room, then retry.
                self._producer.poll(0.01)

    def _delivery_report(self, call: Call, error: Any, message: Any) -> None:
        if error is None:
            return
        from confluent_kafka import KafkaError

        if error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
            reason = f"the result was too large for {message.topic()}: {error.str()}"
            self._write_failure(call, reason)
            return
        # Not written: the call is no longer in flight, so the step's check issues it again.
        log.error("could not write a call result to %s: %s", message.topic(), error)
        with self._cond:
            self._delivered.pop(call.id, None)
        if self._listener is not None:
            self._listener.lost(call.id)

    def _write_failure(self, call: Call, reason: str) -> None:
        log.error("call %s: %s", call.id, reason)
        failed = _failure(call, RuntimeError(reason))
        self._produce(call, result_record(failed), _key(call), failed.kind)

    async def _poll_producer(self) -> None:
        while True:
            self._producer.poll(0)
            await asyncio.sleep(0.05)


def _about(call: Call) -> dict[str, Any]:
    return {"agent": call.agent, "key": call.key, "task_id": call.task_id, "step": call.step}


def _key(call: Call) -> bytes:
    return routing_key(call.agent, call.key).encode()


def _answer_report(error: Any, message: Any) -> None:
    if error is not None:
        # The caller's delegation ends at its peer_timeout with a timeout result.
        log.error("could not write a remote peer's answer to %s: %s", message.topic(), error)


__all__ = ["CallExecutor", "ExecutorClosed", "ExecutorConfig", "HandOverListener", "cut"]
