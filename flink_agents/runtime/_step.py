"""AgentStep: the keyed Flink function that hosts agents. A thin shell around the core.

Keyed by ``<agent>/<conversation key>``. For each record it loads that key's state, lets
the agent's state machine decide, stores the state back and routes the effects: calls to
the executor, everything else to Kafka. It never waits on I/O.

The records it writes at least once (outputs, dead letters, requests to peers, answers to
requesters) leave through one side output whose rows name their topic, so one Kafka
producer batches them all; outputs written in transactions (``AgentApp(exactly_once=True)``)
have a side output and a producer of their own. The step's events (one record, unless
``runtime.events_log`` is ``results``) leave through a side output of their own, whose
producer lingers longer: no one waits on them, and the events topic's reader, which the
loop waits on, is then woken by the results more than by them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pyflink.common import Row, Time, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import (
    ListStateDescriptor,
    MapStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)

from flink_agents.a2a import _wire as wire
from flink_agents.a2a._binding import inbox_topic
from flink_agents.api import Agent
from flink_agents.api.events import (
    KIND_HEADER,
    STEP_KIND,
    DeadLetter,
    Event,
    ModelResponse,
    SourceRef,
    ToolResult,
    parse_event,
    routing_key,
    split_routing_key,
    step_record,
)
from flink_agents.core import (
    AgentMachine,
    Effects,
    GatewayView,
    InputRecord,
    TaskState,
    is_url,
)
from flink_agents.runtime._executor_config import ExecutorConfig
from flink_agents.runtime._kafka_io import SINK_ROW, SINK_ROW_TO_TOPIC, SINK_ROW_WITH_HEADERS
from flink_agents.runtime._log_levels import quiet_python_logging
from flink_agents.runtime._metrics import AgentMetrics
from flink_agents.runtime._peers_io import REPLY_PREFIX
from flink_agents.telemetry import LiveTraces

log = logging.getLogger(__name__)

#: Everything written at least once: each row names its topic (events, dead letters, peers'
#: inboxes, requesters' reply topics, and outputs unless they are written in transactions).
RECORDS = OutputTag("records", SINK_ROW_TO_TOPIC)
#: The ``step`` records, to the events topic (``Routes.events``), through a producer of
#: their own that lingers (``runtime.events_log_linger_ms``): no one waits on them.
STEPS = OutputTag("steps", SINK_ROW_WITH_HEADERS)
_STEP_HEADERS = {KIND_HEADER: STEP_KIND.encode()}


def output_tag(topic: str) -> OutputTag:
    """Outputs to ``topic`` written in Kafka transactions (``AgentApp(exactly_once=True)``)."""
    return OutputTag(f"output:{topic}", SINK_ROW)


@dataclass(frozen=True)
class Routes:
    """The topics AgentStep writes to (a replay's own ones when it replays)."""

    events: str
    dead_letters: str
    #: Each output topic the agents name, and the topic this run writes it to.
    outputs: Mapping[str, str] = field(default_factory=dict)
    #: Each peer's inbox topic, and the topic this run writes requests for it to.
    inboxes: Mapping[str, str] = field(default_factory=dict)
    #: Outputs go through their own transactional sinks (``output_tag``).
    exactly_once: bool = False
    #: Answers to requesters are written (not in a replay: requesters are live agents).
    replies: bool = True
    #: Each step's events are written to the events topic (``runtime.events_log: full``);
    #: without them it holds the results, which is all the loop, recovery and replay read.
    steps: bool = True


@dataclass(frozen=True)
class AgentBinding:
    """An agent as deployed in a job: where its results go and which input fields it carries."""

    agent: Agent
    output_topic: str
    carry: tuple[str, ...] = ()
    #: The input field the model reads; None: the whole input, as JSON.
    prompt_field: str | None = None
    #: Where the answers of an agent shown in the gateway are copied (show_in_gateway).
    gateway: GatewayView | None = None


class FlinkKeyStore:
    """The machine's view of one key's Flink state (JSON of pydantic models).

    The queue of waiting inputs is a ``MapState`` by sequence number with the head and tail
    in a ``ValueState``: taking the oldest input costs the same however many wait behind it
    (a ``ListState`` would be rewritten whole on every pop).

    One instance serves one element, so the decoded history is kept for its life: a task
    that ends and starts the next waiting input reads it once.
    """

    def __init__(self, task: Any, queue: Any, ends: Any, history: Any) -> None:
        self._task, self._queue, self._ends, self._history = task, queue, ends, history
        self._decoded: list[dict[str, Any]] | None = None

    def task(self) -> TaskState | None:
        raw = self._task.value()
        return TaskState.model_validate_json(raw) if raw else None

    def has_task(self) -> bool:
        return bool(self._task.value())

    def set_task(self, task: TaskState | None) -> None:
        if task is None:
            self._task.clear()
        else:
            self._task.update(task.model_dump_json())

    def push(self, item: InputRecord) -> None:
        head, tail = self._queue_ends()
        self._queue.put(tail, item.model_dump_json())
        self._ends.update(f"{head} {tail + 1}")

    def pop(self) -> InputRecord | None:
        head, tail = self._queue_ends()
        if head == tail:
            return None
        raw = self._queue.get(head)
        self._queue.remove(head)
        if head + 1 == tail:
            self._ends.clear()
        else:
            self._ends.update(f"{head + 1} {tail}")
        return InputRecord.model_validate_json(raw)

    def queued(self) -> int:
        head, tail = self._queue_ends()
        return tail - head

    def drop(self, match: Callable[[InputRecord], bool]) -> InputRecord | None:
        """Take the first matching input out of the queue; the ones behind it move up.

        Costs a read and write of the queue behind it: a cancel of a waiting task is rare.
        """
        head, tail = self._queue_ends()
        for seq in range(head, tail):
            record = InputRecord.model_validate_json(self._queue.get(seq))
            if not match(record):
                continue
            for later in range(seq, tail - 1):
                self._queue.put(later, self._queue.get(later + 1))
            self._queue.remove(tail - 1)
            if head == tail - 1:
                self._ends.clear()
            else:
                self._ends.update(f"{head} {tail - 1}")
            return record
        return None

    def _queue_ends(self) -> tuple[int, int]:
        raw = self._ends.value()
        if not raw:
            return 0, 0
        head, tail = raw.split()
        return int(head), int(tail)

    def history(self) -> list[dict[str, Any]]:
        if self._decoded is None:
            self._decoded = [json.loads(item) for item in self._history.get() or ()]
        return list(self._decoded)

    def set_history(self, messages: list[dict[str, Any]]) -> None:
        self._history.update([json.dumps(m, ensure_ascii=False) for m in messages])
        self._decoded = list(messages)


class AgentStep(KeyedProcessFunction):  # type: ignore[misc]
    def __init__(
        self, bindings: list[AgentBinding], config: ExecutorConfig, routes: Routes
    ) -> None:
        self.bindings = {b.agent.name: b for b in bindings}
        self.config = config
        self.routes = routes

    def open(self, runtime_context: RuntimeContext) -> None:
        opened = time.monotonic()
        quiet_python_logging()
        group = runtime_context.get_metrics_group()
        self._metrics = {name: AgentMetrics(group, name) for name in self.bindings}
        self._stores = {
            name: _state_handles(runtime_context, b.agent) for name, b in self.bindings.items()
        }
        # The calls run in a process of their own, whose interpreter lock the operator's
        # calls into Java never hand over to (``_call_process``).
        from flink_agents.runtime._call_process import CallProcess

        forked = time.monotonic()
        self._executor = CallProcess([b.agent for b in self.bindings.values()], self.config).start()
        forked = time.monotonic() - forked
        self._machines = {
            name: AgentMachine(b.agent, self._executor.tool_names(name), b.gateway)
            for name, b in self.bindings.items()
        }
        self._outputs = {name: output_tag(b.output_topic) for name, b in self.bindings.items()}
        self._inboxes = {
            inbox_topic(name): name for name, b in self.bindings.items() if b.agent.callers
        }
        self._traces = (
            LiveTraces(self.config.otlp_endpoint, self.config.otlp_service)
            if self.config.otlp_endpoint
            else None
        )
        log.info(
            "AgentStep.open took %.2fs (starting the call process %.2fs)",
            time.monotonic() - opened,
            forked,
        )

    def close(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.close()
        traces = getattr(self, "_traces", None)
        if traces is not None:
            traces.close()

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        agent, key = split_routing_key(ctx.get_current_key())
        machine = self._machines.get(agent)
        if machine is None:
            return  # an event of an agent that this job does not host
        store = FlinkKeyStore(*self._stores[agent])
        now = time.time()
        is_result = row["topic"] == self.config.events_topic
        try:
            if is_result:
                fx = self._on_result(agent, store, row, now)
            elif row["topic"] in self._inboxes:
                fx = self._on_request(agent, key, store, row, now)
            else:
                fx = machine.on_input(store, self._input(agent, key, row), now)
        except Exception as exc:  # noqa: BLE001 - one bad record must not restart the job forever
            fx = self._on_step_error(agent, key, store, row, exc, now, fails_task=is_result)
        yield from self._apply(agent, fx, ctx)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        agent, key = split_routing_key(ctx.get_current_key())
        machine = self._machines.get(agent)
        if machine is None:
            return
        store = FlinkKeyStore(*self._stores[agent])
        now = time.time()
        try:
            fx = machine.on_timer(store, now, self._executor.in_flight)
        except Exception as exc:  # noqa: BLE001 - as in process_element
            fx = self._on_step_error(agent, key, store, None, exc, now, fails_task=True)
        self._metrics[agent].reissued(len(fx.calls))
        yield from self._apply(agent, fx, ctx)

    def _on_step_error(
        self,
        agent: str,
        key: str,
        store: FlinkKeyStore,
        row: Row | None,
        exc: Exception,
        now: float,
        *,
        fails_task: bool,
    ) -> Effects:
        """A record (or timer) made the step raise: dead-letter it, and end the task it was for.

        Restarting the job would only meet the same record again, forever.
        """
        reason = f"the agent step raised {type(exc).__name__}: {exc}"
        log.exception("agent %s, key %r: %s", agent, key, reason)
        task, fx = None, Effects()
        if fails_task:
            try:
                task = store.task()
                fx = self._machines[agent].on_error(store, reason, now)
            except Exception:  # the task's own state is what fails: drop it
                log.exception("agent %s, key %r: the task could not be ended; dropped", agent, key)
                store.set_task(None)
        if row is not None:
            fx.dead_letters.append(
                DeadLetter(
                    kind="record.failed",
                    reason=reason[:2000],
                    agent=agent,
                    key=key,
                    task_id=task.id if task is not None else None,
                    source=SourceRef(
                        topic=row["topic"], partition=row["partition"], offset=row["offset"]
                    ),
                    payload=row["value"],
                    at=now,
                )
            )
        return fx

    def _on_result(self, agent: str, store: FlinkKeyStore, row: Row, now: float) -> Effects:
        machine, metrics = self._machines[agent], self._metrics[agent]
        if row["value"].startswith(REPLY_PREFIX):
            return self._on_answer(agent, store, row, now)
        try:
            event = parse_event(row["value"])
        except ValidationError as exc:
            fx = Effects()
            fx.dead_letters.append(_unreadable(agent, row, str(exc), now))
            return fx
        if self._traces is not None:
            self._traces.observe(event)
        if isinstance(event, ModelResponse):
            self._executor.settle((event.id,))
            metrics.model_response(event)
            fx = machine.on_model_response(store, event, now)
        elif isinstance(event, ToolResult):
            self._executor.settle((event.id,))
            metrics.tool_result(event)
            fx = machine.on_tool_result(store, event, now)
        else:
            fx = Effects()
        metrics.ignored(fx.ignored)
        return fx

    def _on_answer(self, agent: str, store: FlinkKeyStore, row: Row, now: float) -> Effects:
        """A peer's answer to a delegation of this agent."""
        try:
            answer = wire.parse_answer(json.loads(row["value"]))
        except ValueError as exc:
            fx = Effects()
            fx.dead_letters.append(_unreadable(agent, row, f"A2A reply: {exc}", now))
            return fx
        return self._machines[agent].on_peer_answer(store, answer, now)

    def _on_request(
        self, agent: str, key: str, store: FlinkKeyStore, row: Row, now: float
    ) -> Effects:
        """Another agent's request (an A2A message in this agent's inbox), or a cancel."""
        envelope = json.loads(row["value"])
        if wire.is_cancel(envelope):
            try:
                cancel = wire.parse_cancel(envelope)
            except ValueError as exc:
                fx = Effects()
                fx.dead_letters.append(_unreadable(agent, row, f"A2A cancel: {exc}", now))
                return fx
            return self._machines[agent].on_cancel(store, key, cancel, now)
        try:
            payload, reply = wire.parse_request(envelope)
        except ValueError as exc:
            fx = Effects()
            fx.dead_letters.append(_unreadable(agent, row, f"A2A request: {exc}", now))
            return fx
        source = SourceRef(topic=row["topic"], partition=row["partition"], offset=row["offset"])
        record = InputRecord(payload=payload, key=key, source=source, reply=reply)
        return self._machines[agent].on_input(store, record, now)

    def _input(self, agent: str, key: str, row: Row) -> InputRecord:
        record = json.loads(row["value"])
        binding = self.bindings[agent]
        payload = record
        if binding.prompt_field is not None and isinstance(record, dict):
            payload = record.get(binding.prompt_field)
        return InputRecord(
            payload=payload,
            key=key,
            source=SourceRef(topic=row["topic"], partition=row["partition"], offset=row["offset"]),
            carry={f: record[f] for f in binding.carry if isinstance(record, dict) and f in record},
        )

    def _apply(self, agent: str, fx: Effects, ctx: Any) -> Iterator[Any]:
        if fx.cancelled_calls:
            self._executor.cancel(fx.cancelled_calls)
        if fx.calls:
            self._executor.submit(fx.calls)  # waits while the agent has no room: backpressure
        self._metrics[agent].calls_in_flight(self._executor.admitted(agent))
        if fx.queued is not None:
            self._metrics[agent].queue_depth(fx.queued)
        if self._traces is not None:
            for event in fx.events:
                self._traces.observe(event)
        routes = self.routes
        for context_id, events in _by_context(fx.events) if routes.steps else ():
            yield STEPS, Row(context_id, step_record(events), _STEP_HEADERS)
        metrics = self._metrics[agent]
        for key, record in fx.outputs:
            metrics.task_ended(record["task"]["state"])
            value = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            if routes.exactly_once:
                yield self._outputs[agent], Row(key, value)
            else:
                topic = routes.outputs[self.bindings[agent].output_topic]
                yield RECORDS, Row(key, value, {}, topic)
        self._executor.delegate([d for d in fx.delegations if is_url(d.peer)])
        for delegation in fx.delegations:
            if is_url(delegation.peer):
                continue  # asked over HTTP by the executor
            key, value, headers = wire.request_record(delegation, self.config.events_topic)
            yield RECORDS, Row(key, value, headers, routes.inboxes[inbox_topic(delegation.peer)])
        for reply in fx.replies if routes.replies else ():
            topic, key, value, headers = wire.reply_record(reply, self.config.events_topic)
            yield RECORDS, Row(key, value, headers, topic)
        for letter in fx.dead_letters:
            metrics.dead_letter()
            key = routing_key(agent, letter.key or "")
            yield RECORDS, Row(key, letter.model_dump_json(), {}, routes.dead_letters)
        timers = ctx.timer_service()
        for at in fx.cancelled_timers:
            timers.delete_processing_time_timer(int(at * 1000))
        for at in fx.timers:
            timers.register_processing_time_timer(int(at * 1000))


def _by_context(events: list[Event]) -> list[tuple[str, list[Event]]]:
    """A step's events by conversation, in order: one record each (one, in practice)."""
    groups: dict[str, list[Event]] = {}
    for event in events:
        groups.setdefault(event.context_id, []).append(event)
    return list(groups.items())


def _state_handles(ctx: RuntimeContext, agent: Agent) -> tuple[Any, Any, Any, Any]:
    name = agent.name
    history = ListStateDescriptor(f"history:{name}", Types.STRING())
    if agent.memory.ttl is not None:
        # Cleanup strategies are named explicitly: PyFlink's default (a RocksDB compaction
        # filter) builds a py4j Duration, and a TaskManager has no gateway in thread mode.
        ttl = (
            StateTtlConfig.new_builder(
                Time.milliseconds(int(agent.memory.ttl.total_seconds() * 1000))
            )
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .disable_cleanup_in_background()
            .cleanup_incrementally(10, False)
            .cleanup_full_snapshot()
            .build()
        )
        history.enable_time_to_live(ttl)
    return (
        ctx.get_state(ValueStateDescriptor(f"task:{name}", Types.STRING())),
        ctx.get_map_state(MapStateDescriptor(f"queue:{name}", Types.LONG(), Types.STRING())),
        ctx.get_state(ValueStateDescriptor(f"queue-ends:{name}", Types.STRING())),
        ctx.get_list_state(history),
    )


def _unreadable(agent: str, row: Row, reason: str, now: float) -> DeadLetter:
    return DeadLetter(
        kind="input.rejected",
        reason=f"unreadable agent event: {reason[:500]}",
        agent=agent,
        source=SourceRef(topic=row["topic"], partition=row["partition"], offset=row["offset"]),
        payload=row["value"],
        at=now,
    )
