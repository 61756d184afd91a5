"""The measurements: per-step overhead, throughput per model latency, capacity, recovery,
replay."""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench._broker import BrokerCounters, per_step
from bench._harness import (
    ROOT,
    Load,
    Outputs,
    PeakMemory,
    Simulator,
    System,
    cpu_seconds,
    send_paced,
)
from bench.workloads import TOOL_CALLS, event
from flink_agents.local import LocalStack
from flink_agents.replay import run_replay
from flink_agents.testing import TopicClient


@dataclass(frozen=True)
class Plan:
    """How long and how hard each measurement runs (``--quick`` shrinks it for a smoke test)."""

    latencies_ms: tuple[float, ...] = (0.0, 50.0, 500.0)
    capacity: int = 128
    sweep: tuple[int, ...] = (32, 512)
    keys: int = 1000
    warmup_s: float = 8.0
    window_s: float = 35.0
    sweep_window_s: float = 20.0
    overhead_rate: float = 25.0
    overhead_count: int = 300
    recovery_rate: float = 100.0
    replay_inputs: int = 3000
    burst_inputs: int = 10000

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            warmup_s=3.0,
            window_s=8.0,
            sweep_window_s=6.0,
            overhead_count=60,
            sweep=(32,),
            recovery_rate=50.0,
            replay_inputs=500,
            burst_inputs=4000,
        )


@dataclass
class Context:
    stack: LocalStack
    topics: TopicClient
    sim: Simulator
    plan: Plan
    #: The broker's own counters; None when they cannot be read (no JDK attach here).
    counters: BrokerCounters | None = None

    def broker_counts(self) -> dict[str, int]:
        return self.counters.read() if self.counters is not None else {}

    def fresh_topics(self, name: str) -> tuple[str, str]:
        names = (self.topics.unique(f"{name}.in"), self.topics.unique(f"{name}.out"))
        self.topics.create(*names)
        return names


def workload_block(ctx: Context, system: System, workload: str) -> dict[str, Any]:
    """Overhead at low load, then throughput at each model latency, then state size."""
    plan = ctx.plan
    topic_in, topic_out = ctx.fresh_topics(f"{workload}-{system.name}")
    ctx.sim.set_latency(0)
    system.start(workload, plan.capacity, topic_in, topic_out, ctx.sim.url)
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    try:
        overhead = overhead_phase(ctx, topic_in, outputs, workload)
        answered_before = outputs.count
        load = Load(
            ctx.topics,
            topic_in,
            plan.keys,
            outputs,
            outstanding=4 * plan.capacity,
            first=plan.overhead_count,
        )
        memory = PeakMemory(system.pids)
        load.start()
        memory.start()
        phases = []
        for latency in plan.latencies_ms:
            phase = throughput_phase(
                ctx, system, outputs, latency, workload, plan.capacity, plan.window_s
            )
            # State over the run: does it stay bounded (memory window, queues) as tasks
            # per key grow? From the latest checkpoint, taken under load.
            size = system.checkpointed_state_bytes("AgentStep") if system.job_id else None
            phase["tasks_per_key"] = round(outputs.count / plan.keys, 1)
            phase["state_bytes_per_key"] = round(size / plan.keys, 1) if size else None
            phases.append(phase)
        load.stop()
        peak = memory.stop()
        expected = answered_before + load.sent
        state = state_per_key(ctx, system, outputs, expected) if system.job_id else None
    finally:
        system.stop()
        outputs.stop()
    return {
        "system": system.name,
        "workload": workload,
        "capacity": plan.capacity,
        "keys": plan.keys,
        "overhead": overhead,
        "phases": phases,
        "peak_rss_bytes": peak,
        "state_bytes_per_key": state,
    }


def overhead_phase(ctx: Context, topic_in: str, outputs: Outputs, workload: str) -> dict[str, Any]:
    """Per-step overhead above the model's time, at 0 ms model latency and a light load.

    For each task: (output time - input time - time spent inside model calls) divided by
    the task's steps (model calls + tool calls). Tool calls are Python functions of a few
    microseconds, counted in the overhead.
    """
    plan = ctx.plan
    ctx.sim.set_latency(0)
    _warm_up(ctx, topic_in, outputs)
    ctx.sim.reset()
    sent = send_paced(ctx.topics, topic_in, 0, plan.overhead_count, plan.overhead_rate, plan.keys)
    _wait_answered(outputs, sent, 120)
    done = {i: ts for ts, i in list(outputs.seen) if i in sent}
    model_time: dict[Any, float] = {}
    calls: dict[Any, int] = {}
    for request in ctx.sim.requests():
        task = _input_id(request["body"])
        if task in sent and request.get("finished"):
            model_time[task] = model_time.get(task, 0.0) + request["finished"] - request["time"]
            calls[task] = calls.get(task, 0) + 1
    per_step = []
    end_to_end = []
    for task, sent_at in sent.items():
        if task not in done or task not in calls:
            continue
        e2e = done[task] - sent_at
        steps = calls[task] + TOOL_CALLS[workload]
        end_to_end.append(e2e)
        per_step.append((e2e - model_time[task]) / steps)
    return {
        "tasks": len(per_step),
        "rate_per_s": plan.overhead_rate,
        "overhead_ms_p50": _ms(_pct(per_step, 50)),
        "overhead_ms_p99": _ms(_pct(per_step, 99)),
        "end_to_end_ms_p50": _ms(_pct(end_to_end, 50)),
        "end_to_end_ms_p99": _ms(_pct(end_to_end, 99)),
    }


def throughput_phase(
    ctx: Context,
    system: System,
    outputs: Outputs,
    latency_ms: float,
    workload: str,
    capacity: int,
    window_s: float,
) -> dict[str, Any]:
    """Saturating load at one model latency: tasks/s, share of the Little's-law bound, CPU."""
    ctx.sim.set_latency(latency_ms)
    time.sleep(ctx.plan.warmup_s)
    broker = [pid for pid in [ctx.stack.kafka.pid()] if pid]
    start = time.time()
    cpu0, broker0, calls0 = cpu_seconds(system.pids), cpu_seconds(broker), ctx.sim.completed()
    counts0 = ctx.broker_counts()
    time.sleep(window_s)
    end = time.time()
    cpu1, broker1, calls1 = cpu_seconds(system.pids), cpu_seconds(broker), ctx.sim.completed()
    counts1 = ctx.broker_counts()
    tasks = outputs.between(start, end)
    model_calls = calls1 - calls0
    steps = model_calls * (1 + TOOL_CALLS[workload] / (TOOL_CALLS[workload] + 1))
    bound = capacity / (latency_ms / 1000) if latency_ms else None
    seconds = end - start
    return {
        "latency_ms": latency_ms,
        "window_s": round(seconds, 1),
        "events_per_s": round(tasks / seconds, 1),
        "model_calls_per_s": round(model_calls / seconds, 1),
        "little_bound_calls_per_s": bound,
        "little_bound_share": round(model_calls / seconds / bound, 3) if bound else None,
        "cpu_cores": round((cpu1 - cpu0) / seconds, 2),
        "cpu_s_per_1k_steps": round((cpu1 - cpu0) / steps * 1000, 3) if steps else None,
        "broker_cpu_s_per_1k_steps": round((broker1 - broker0) / steps * 1000, 3)
        if steps
        else None,
        **per_step(counts0, counts1, steps),
        # The raw counts, for figures per event (bench/peers).
        "events": tasks,
        "cpu_s": round(cpu1 - cpu0, 3),
        "broker_cpu_s": round(broker1 - broker0, 3),
    }


def state_per_key(ctx: Context, system: System, outputs: Outputs, expected: int) -> float | None:
    """Bytes of agent state per key, from a checkpoint taken once the backlog drained."""
    deadline = time.monotonic() + 180
    while outputs.count < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    before = system.latest_checkpoint_id()
    deadline = time.monotonic() + 60
    while system.latest_checkpoint_id() <= before + 1 and time.monotonic() < deadline:
        time.sleep(0.5)  # the second checkpoint after draining holds no in-flight task
    size = system.checkpointed_state_bytes("AgentStep")
    return round(size / ctx.plan.keys, 1) if size else None


def capacity_sweep(
    ctx: Context, system: System, capacities: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Throughput against in-flight capacity at 500 ms model latency (classifier)."""
    rows = []
    for capacity in capacities:
        topic_in, topic_out = ctx.fresh_topics(f"sweep-{capacity}")
        system.start("classifier", capacity, topic_in, topic_out, ctx.sim.url)
        outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
        outputs.start()
        load = Load(ctx.topics, topic_in, ctx.plan.keys, outputs, outstanding=4 * capacity)
        load.start()
        try:
            rows.append(
                {
                    "capacity": capacity,
                    **throughput_phase(
                        ctx, system, outputs, 500.0, "classifier", capacity, ctx.plan.sweep_window_s
                    ),
                }
            )
        finally:
            load.stop()
            system.stop()
            outputs.stop()
    return rows


def floor_block(ctx: Context, system: System) -> dict[str, Any]:
    """The pipeline without the agent: latency at light load, throughput when saturated."""
    plan = ctx.plan
    topic_in, topic_out = ctx.fresh_topics("floor")
    system.start("classifier", plan.capacity, topic_in, topic_out, ctx.sim.url)
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    try:
        _warm_up(ctx, topic_in, outputs)
        sent = send_paced(
            ctx.topics, topic_in, 0, plan.overhead_count, plan.overhead_rate, plan.keys
        )
        _wait_answered(outputs, sent, 60)
        latencies = [ts - sent[i] for ts, i in list(outputs.seen) if i in sent]
        load = Load(
            ctx.topics, topic_in, plan.keys, outputs, outstanding=20_000, first=plan.overhead_count
        )
        load.start()
        time.sleep(plan.warmup_s)
        start = time.time()
        cpu0 = cpu_seconds(system.pids)
        time.sleep(plan.window_s)
        end = time.time()
        cpu1 = cpu_seconds(system.pids)
        load.stop()
        events = outputs.between(start, end)
    finally:
        system.stop()
        outputs.stop()
    return {
        "latency_ms_p50": _ms(_pct(latencies, 50)),
        "latency_ms_p99": _ms(_pct(latencies, 99)),
        "events_per_s": round(events / (end - start), 1),
        "cpu_cores": round((cpu1 - cpu0) / (end - start), 2),
        "cpu_s_per_1k_events": round((cpu1 - cpu0) / events * 1000, 3) if events else None,
    }


def warm_stack(ctx: Context, system: System, seconds: float = 40.0) -> None:
    """The pass-through saturated for ``seconds``, measured by nobody: a freshly started
    broker and TaskManager run their first minute on cold JIT code (here, measured: the
    first job after ``local up`` spent about 1.5 times the CPU per step, and the broker about
    three times, of the same job run a few minutes later), so whichever system ran first
    would pay for it. ``make bench``'s pass-through floor does this; ``--only`` without
    ``floor`` runs this instead."""
    topic_in, topic_out = ctx.fresh_topics("warm")
    system.start("classifier", ctx.plan.capacity, topic_in, topic_out, ctx.sim.url)
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    load = Load(ctx.topics, topic_in, ctx.plan.keys, outputs, outstanding=20_000)
    load.start()
    try:
        time.sleep(seconds)
    finally:
        load.stop()
        system.stop()
        outputs.stop()


def recovery(ctx: Context, system: System) -> dict[str, Any]:
    """The recovery run with outputs at least once, then again with exactly-once outputs,
    and what exactly-once costs a saturated job."""
    figures = recovery_run(ctx, system, exactly_once=False)
    figures["exactly_once"] = recovery_run(ctx, system, exactly_once=True)
    figures["exactly_once_cost"] = exactly_once_cost(ctx, system)
    return figures


def exactly_once_cost(ctx: Context, system: System, latency_ms: float = 50.0) -> dict[str, Any]:
    """The classifier saturated at ``latency_ms``, outputs at least once then exactly once:
    tasks/s and CPU per step of each, and the ratios.

    Outputs are read ``read_uncommitted`` here: a transaction's records become readable
    only when the checkpoint that commits them completes, so a closed loop paced by
    committed answers would measure the checkpoint interval, not the job. The delay until
    an answer is readable is measured by the recovery run (``visible_ms_p50``)."""
    plan = ctx.plan
    runs: dict[str, dict[str, Any]] = {}
    for mode, exactly_once in (("at_least_once", False), ("exactly_once", True)):
        topic_in, topic_out = ctx.fresh_topics(f"eo-cost-{mode}")
        ctx.sim.set_latency(latency_ms)
        system.start(
            "classifier",
            plan.capacity,
            topic_in,
            topic_out,
            ctx.sim.url,
            exactly_once=exactly_once,
        )
        outputs = Outputs(ctx.topics.bootstrap_servers, topic_out, committed=False)
        outputs.start()
        load = Load(ctx.topics, topic_in, plan.keys, outputs, outstanding=4 * plan.capacity)
        load.start()
        try:
            runs[mode] = throughput_phase(
                ctx, system, outputs, latency_ms, "classifier", plan.capacity, plan.window_s
            )
        finally:
            load.stop()
            system.stop()
            outputs.stop()
    base, once = runs["at_least_once"], runs["exactly_once"]
    return {
        **runs,
        "events_per_s_ratio": round(once["events_per_s"] / base["events_per_s"], 3)
        if base["events_per_s"]
        else None,
        "cpu_per_step_ratio": round(once["cpu_s_per_1k_steps"] / base["cpu_s_per_1k_steps"], 3)
        if base["cpu_s_per_1k_steps"] and once["cpu_s_per_1k_steps"]
        else None,
    }


def recovery_run(ctx: Context, system: System, *, exactly_once: bool) -> dict[str, Any]:
    """Kill the TaskManager running the job; time until decisions flow again; count losses
    and inputs answered twice (read ``read_committed``); the latency from an input to its
    readable answer before the kill."""
    plan = ctx.plan
    flink = ctx.stack.flink
    topic_in, topic_out = ctx.fresh_topics("recovery")
    ctx.sim.set_latency(50)
    system.start(
        "classifier", plan.capacity, topic_in, topic_out, ctx.sim.url, exactly_once=exactly_once
    )
    victim = flink.taskmanager_pids()[0]
    flink.add_taskmanager()
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    try:
        before = send_paced(
            ctx.topics, topic_in, 0, int(plan.recovery_rate * 10), plan.recovery_rate, plan.keys
        )
        killed = time.time()
        os.kill(victim, signal.SIGKILL)
        after = send_paced(
            ctx.topics,
            topic_in,
            len(before),
            int(plan.recovery_rate * 20),
            plan.recovery_rate,
            plan.keys,
        )
        sent = {**before, **after}
        _wait_answered(outputs, sent, 180)
        # A late second answer would be committed by one of the next two checkpoints.
        checkpoint = system.latest_checkpoint_id()
        deadline = time.monotonic() + 60
        while system.latest_checkpoint_id() < checkpoint + 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        # Only the restored job can answer an input sent after the kill; answers written
        # before it may still be arriving, so they do not mark the recovery.
        resumed = min((outputs.arrived[i] for i in after if i in outputs.arrived), default=None)
        ids = [i for _, i in list(outputs.seen)]
        visible = [outputs.arrived[i] - t for i, t in before.items() if i in outputs.arrived]
    finally:
        system.stop()
        outputs.stop()
    return {
        "recovery_s": round(resumed - killed, 2) if resumed else None,
        "inputs": len(sent),
        "answered": len(set(ids) & set(sent)),
        "lost": len(set(sent) - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "visible_ms_p50": _ms(_pct(visible, 50)),
        "visible_ms_p99": _ms(_pct(visible, 99)),
        "rate_per_s": plan.recovery_rate,
        "model_latency_ms": 50,
        "exactly_once": exactly_once,
    }


def scaling(ctx: Context, system: System) -> dict[str, Any]:
    """The classifier saturated at parallelism 1, then 2, on two TaskManagers (each its own
    JVM and embedded Python, so its own GIL): tasks/s and CPU per step at 0 and 500 ms, the
    same in-flight limit per subtask, and the inputs outstanding scaled with it."""
    plan = ctx.plan
    flink = ctx.stack.flink
    while len(flink.taskmanager_pids()) < 2:
        flink.add_taskmanager()
    runs: dict[str, Any] = {}
    for parallelism in (1, 2):
        topic_in, topic_out = ctx.fresh_topics(f"scale-p{parallelism}")
        ctx.sim.set_latency(0)
        system.start(
            "classifier",
            plan.capacity,
            topic_in,
            topic_out,
            ctx.sim.url,
            parallelism=parallelism,
        )
        placed = system.taskmanagers_of("AgentStep")
        outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
        outputs.start()
        outstanding = 4 * plan.capacity * parallelism
        load = Load(ctx.topics, topic_in, plan.keys, outputs, outstanding=outstanding)
        load.start()
        try:
            phases = [
                throughput_phase(
                    ctx,
                    system,
                    outputs,
                    latency,
                    "classifier",
                    plan.capacity * parallelism,
                    plan.window_s,
                )
                for latency in (0.0, 500.0)
            ]
        finally:
            load.stop()
            system.stop()
            outputs.stop()
        runs[str(parallelism)] = {
            "agentstep_subtasks": len(placed),
            "taskmanagers_used": len(set(placed)),
            "phases": phases,
        }
    ratios = {
        f"{int(one['latency_ms'])}ms": round(two["events_per_s"] / one["events_per_s"], 2)
        if one["events_per_s"]
        else None
        for one, two in zip(runs["1"]["phases"], runs["2"]["phases"], strict=True)
    }
    return {"parallelism": runs, "events_per_s_ratio_2_over_1": ratios}


def burst(ctx: Context, system: System, latency_ms: float = 500.0) -> dict[str, Any]:
    """The classifier started on a topic already holding ``burst_inputs`` inputs, the model
    at ``latency_ms``: the share of the Little's-law bound while the backlog drains (the
    window starts at the first answer, after the warm-up), the seconds from submission to
    the first answer, and answers counted per input id once it drained."""
    plan = ctx.plan
    topic_in, topic_out = ctx.fresh_topics("burst")
    backlog = [event(i, plan.keys) for i in range(plan.burst_inputs)]
    ctx.topics.produce(topic_in, backlog)
    ctx.sim.set_latency(latency_ms)
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    submitted = time.time()
    system.start("classifier", plan.capacity, topic_in, topic_out, ctx.sim.url)
    try:
        deadline = time.monotonic() + 120
        while outputs.count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        first = min((t for t, _ in list(outputs.seen)), default=None)
        phase = throughput_phase(
            ctx, system, outputs, latency_ms, "classifier", plan.capacity, plan.sweep_window_s
        )
        left = plan.burst_inputs - outputs.count
        sent = {e["id"]: submitted for e in backlog}
        _wait_answered(outputs, sent, 60 + left / 50)
        ids = [i for _, i in list(outputs.seen)]
    finally:
        system.stop()
        outputs.stop()
    return {
        "inputs": plan.burst_inputs,
        "left_after_window": left,
        "first_answer_s": round(first - submitted, 2) if first else None,
        "answered": len(set(ids) & set(sent)),
        "duplicates": len(ids) - len(set(ids)),
        **phase,
    }


def replay(ctx: Context, system: System) -> dict[str, Any]:
    """The classifier answers ``replay_inputs`` inputs at 0 ms; then an exact replay of that
    range serves every result from the events log: its outputs per second, first output to
    last, and the model requests it made (none)."""
    plan = ctx.plan
    topic_in, topic_out = ctx.fresh_topics("replay")
    ctx.sim.set_latency(0)
    system.start("classifier", plan.capacity, topic_in, topic_out, ctx.sim.url)
    assert system.submitted is not None
    script, args = system.submitted
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    started = int(time.time() * 1000)
    try:
        sent = send_paced(
            ctx.topics, topic_in, 0, plan.replay_inputs, plan.replay_inputs / 10, plan.keys
        )
        _wait_answered(outputs, sent, 180)
    finally:
        system.stop()
        outputs.stop()
    ended = int(time.time() * 1000) + 1
    asked = ctx.sim.completed()
    result = run_replay(
        ctx.stack.settings, ROOT / script, args, mode="exact", from_ms=started, to_ms=ended
    )
    return {
        "inputs": len(sent),
        "replayed": result.outputs,
        "failed": result.failed,
        "seconds": round(result.seconds, 2),
        "events_per_s": round(result.tasks_per_s, 1),
        "model_requests": ctx.sim.completed() - asked,
    }


def _warm_up(ctx: Context, topic_in: str, outputs: Outputs) -> None:
    """A third of the light load, with ids below 0, answered before anything is measured."""
    plan = ctx.plan
    count = plan.overhead_count
    warmup = send_paced(ctx.topics, topic_in, -count, count // 3, plan.overhead_rate, plan.keys)
    _wait_answered(outputs, warmup, 60)


def _wait_answered(outputs: Outputs, sent: dict[Any, float], timeout: float) -> None:
    """Until every input in ``sent`` has an answer, or ``timeout`` seconds (then the
    figures count what is missing)."""
    deadline = time.monotonic() + timeout
    while _answered(outputs, sent) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.2)


def _answered(outputs: Outputs, sent: dict[Any, float]) -> int:
    return len({i for _, i in list(outputs.seen) if i in sent})


def _input_id(body: dict[str, Any]) -> Any:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            try:
                return json.loads(message.get("content", "")).get("id")
            except (ValueError, AttributeError):
                return None
    return None


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None
