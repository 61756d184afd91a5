"""`make bench-peers`: flink-agents and Apache Flink Agents 0.2.0, interleaved runs on the
same broker, simulator and load; medians and ratios to bench/results/peers.json and
bench/README.md.

python -m bench.peers [--quick] [--rounds N] [--workloads classifier tool]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _report, _runs
from bench._harness import Load, Outputs, System, fresh_stack, send_paced
from bench.peers import _compare, _venv
from bench.peers._system import PeerSystem
from flink_agents.config import Settings, load_settings
from flink_agents.local import fetch
from flink_agents.testing import TopicClient

README = _report.README
#: Warm-up inputs a job must answer before it is measured (it is running then).
READY_INPUTS = 50
READY_TIMEOUT_S = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke test")
    parser.add_argument("--rounds", type=int, help="runs per system and workload (default 2)")
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=list(_compare.WORKLOAD_NAMES),
        default=["classifier", "tool"],
    )
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the README section from the last run's peers.json",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((args.results / "peers.json").read_text())
        print(_write(results, args.results))
        return 0
    command = "python -m bench.peers " + " ".join(argv if argv is not None else sys.argv[1:])
    plan = (
        replace(_runs.Plan.quick(), window_s=6.0, warmup_s=3.0)
        if args.quick
        else replace(_runs.Plan(), window_s=20.0, warmup_s=5.0)
    )
    rounds = args.rounds or (1 if args.quick else 2)
    settings = load_settings()
    python = _venv.ensure(settings.home)
    started_stack = fresh_stack(settings, "bench-peers")
    if started_stack is None:
        return 1
    stack, sim, logs = started_stack
    topics = TopicClient(settings.bootstrap_servers)
    ctx = _runs.Context(stack, topics, sim, plan)
    flink = _flink_settings(settings)
    ours = System(_compare.OURS, settings, stack, logs)
    theirs = PeerSystem(python, settings.bootstrap_servers, _jar_uris(settings), logs, flink)
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    try:
        # The broker (and our TaskManager) warmed before either side is measured: see
        # bench/_runs.py's warm_stack.
        _say("warming the fresh broker and TaskManager with the pass-through (unmeasured)")
        _runs.warm_stack(
            ctx, System("pass-through", settings, stack, logs), 8 if args.quick else 40
        )
        for r in range(rounds):
            for workload in args.workloads:
                # Alternate who goes first, so neither always meets a warmer machine.
                order = (ours, theirs) if r % 2 == 0 else (theirs, ours)
                for system in order:
                    _say(f"round {r + 1}/{rounds}: {workload} on {system.name}")
                    runs.append(block(ctx, system, workload))
    finally:
        for system in (ours, theirs):
            system.stop()
        topics.close()
        sim.stop()
        stack.down()
    results = {
        "command": command,
        "commit": _report.commit(),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - started),
        "machine": _report.machine(),
        "plan": {**plan.__dict__, "rounds": rounds},
        "rounds": rounds,
        "peer_version": _venv.VERSION,
        "runs": runs,
    }
    results["settings_diff"] = _compare.settings_diff(
        our_settings(flink, plan.capacity), their_settings(flink, plan.capacity)
    )
    print(_write(results, args.results))
    return 0


def _write(results: dict[str, Any], folder: Path) -> str:
    """Medians and ratios into ``results``, then peers.json and the README section."""
    results["medians"] = _compare.medians(results["runs"])
    results["ratios"] = _compare.ratios(results["medians"])
    results["first_answer_s"] = _compare.first_answers(results["runs"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "peers.json").write_text(json.dumps(results, indent=2) + "\n")
    section = _compare.markdown(results)
    README.write_text(_compare.replace_section(README.read_text(), section))
    return section


def block(ctx: _runs.Context, system: System | PeerSystem, workload: str) -> dict[str, Any]:
    """Start the system on fresh topics, wait for its first answers, then a saturating load
    (four times the in-flight capacity outstanding) at each model latency in turn."""
    plan = ctx.plan
    topic_in = ctx.topics.unique(f"peers-{workload}-{system.name}.in")
    topic_out = ctx.topics.unique(f"peers-{workload}-{system.name}.out")
    ctx.topics.create(topic_in)
    # The broker stamps outputs as it appends them: the same clock for both systems,
    # whatever timestamp each one's sink puts on its records.
    ctx.topics.create(topic_out, config={"message.timestamp.type": "LogAppendTime"})
    ctx.sim.set_latency(0)
    submitted = time.time()
    system.start(workload, plan.capacity, topic_in, topic_out, ctx.sim.url)
    outputs = Outputs(ctx.topics.bootstrap_servers, topic_out)
    outputs.start()
    try:
        first_answer_s = _wait_ready(ctx, system, topic_in, outputs, submitted)
        load = Load(ctx.topics, topic_in, plan.keys, outputs, outstanding=4 * plan.capacity)
        load.start()
        phases = [
            _runs.throughput_phase(
                ctx, system, outputs, latency, workload, plan.capacity, plan.window_s
            )
            for latency in plan.latencies_ms
        ]
        load.stop()
        ids = [i for _, i in list(outputs.seen)]
    finally:
        system.stop()
        outputs.stop()
    return {
        "system": system.name,
        "workload": workload,
        "capacity": plan.capacity,
        "keys": plan.keys,
        "first_answer_s": first_answer_s,
        "answers": len(ids),
        "answered_twice": len(ids) - len(set(ids)),
        "phases": phases,
    }


def _wait_ready(
    ctx: _runs.Context,
    system: System | PeerSystem,
    topic_in: str,
    outputs: Outputs,
    submitted: float,
) -> float:
    """Seconds from submission to the first answer, once every warm-up input is answered."""
    sent = send_paced(ctx.topics, topic_in, -READY_INPUTS, READY_INPUTS, 100.0, ctx.plan.keys)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not set(sent) <= {i for _, i in list(outputs.seen)}:
        failure = system.failed() if isinstance(system, PeerSystem) else None
        if failure:
            raise RuntimeError(failure)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{system.name} answered {outputs.count} of {len(sent)} warm-up inputs in "
                f"{READY_TIMEOUT_S:.0f} s; see its log under {ctx.stack.settings.home}/logs"
            )
        time.sleep(0.2)
    return round(min(outputs.arrived.values()) - submitted, 1)


def _flink_settings(settings: Settings) -> dict[str, Any]:
    """The Flink settings of a flink-agents job, which the peer's job is given too."""
    runtime = settings.runtime
    return {
        "parallelism": runtime.parallelism,
        "execution_mode": runtime.execution_mode,
        "bundle_size": runtime.bundle_size,
        "bundle_time_ms": runtime.bundle_time_ms,
        "buffer_timeout_ms": runtime.buffer_timeout_ms,
        "checkpoint_interval_s": runtime.checkpoint_interval_s,
        "producer_linger_ms": runtime.producer_linger_ms,
    }


def _jar_uris(settings: Settings) -> list[str]:
    """The Kafka connector jars flink-agents verified, for the peer's job."""
    jars = fetch("flink-connectors", settings.jar_cache, settings.maven_url)
    return [j.resolve().as_uri() for j in jars]


def our_settings(flink: dict[str, Any], capacity: int) -> dict[str, Any]:
    """What a flink-agents job of the benchmark runs with, named for the comparison."""
    return {
        **flink,
        "where the job runs": "local standalone cluster (JobManager + TaskManager processes)",
        "calls in flight": f"{capacity} (Limits.max_in_flight, asyncio call executor)",
        "model client": "openai AsyncOpenAI, post() with wire-format messages",
        "structured output": "response_format json_schema sent; reply validated",
        "log of steps": "events topic: every step of every task (replayable)",
        "Kafka records per classifier task": "input, events-topic records, output",
        "output delivery": "at least once",
    }


def their_settings(flink: dict[str, Any], capacity: int) -> dict[str, Any]:
    """What the Apache Flink Agents job runs with (the same Flink settings, passed on)."""
    return {
        **flink,
        "where the job runs": "MiniCluster in the job's own JVM (one process)",
        "calls in flight": f"{capacity} (num-async-threads: a thread pool of blocking calls)",
        "model client": "openai OpenAI (blocking) chat.completions.create on that pool",
        "structured output": "no response_format sent; reply validated (output_schema)",
        "log of steps": "none (their action-state store is off unless configured)",
        "Kafka records per classifier task": "input, output",
        "output delivery": "at least once",
    }


def _say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
