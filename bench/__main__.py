"""`make bench`: flink-agents against its baselines, measured back to back in one run.

python -m bench [--quick] [--only classifier react floor capacity recovery replay burst scale]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _report, _runs
from bench._broker import BrokerCounters
from bench._harness import System, fresh_stack
from flink_agents.config import load_settings
from flink_agents.testing import TopicClient

PARTS = _report.PARTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows: a smoke test")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="redraw the table, plots and README from the last run's files",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        results, command = _report.load(args.results)
        print("summary:", _report.write(results, args.results, command))
        return 0
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    plan = _runs.Plan.quick() if args.quick else _runs.Plan()
    settings = load_settings()
    started_stack = fresh_stack(settings, "bench")
    if started_stack is None:
        return 1
    stack, sim, logs = started_stack
    broker_pid = stack.kafka.pid()
    counters = BrokerCounters(broker_pid) if broker_pid else None
    ctx = _runs.Context(stack, TopicClient(settings.bootstrap_servers), sim, plan, counters)
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": _report.machine(),
        "plan": plan.__dict__,
        "commit": _report.commit(),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }

    def system(name: str) -> System:
        return System(name, settings, stack, logs)

    try:
        if "floor" in args.only:
            _say("pass-through floor")
            results["floor"] = _runs.floor_block(ctx, system("pass-through"))
        else:
            _say("warming the fresh broker and TaskManager with the pass-through (unmeasured)")
            _runs.warm_stack(ctx, system("pass-through"), 8 if args.quick else 40)
        for workload in ("classifier", "react"):
            if workload in args.only:
                results[workload] = {}
                # The classifier also runs as the same agent defined in SQL; both workloads
                # run with the full events log (the default) and with results only.
                sql = ("flink-agents-sql",) if workload == "classifier" else ()
                for name in ("flink-agents", "flink-agents-results", *sql, "asyncio"):
                    _say(f"{workload} on {name}")
                    results[workload][name] = _runs.workload_block(ctx, system(name), workload)
        if "capacity" in args.only:
            _say("in-flight capacity sweep at 500 ms")
            results["capacity"] = _runs.capacity_sweep(ctx, system("flink-agents"), plan.sweep)
            if "classifier" in results:
                main_run = _report.phase(results["classifier"]["flink-agents"], 500.0)
                results["capacity"].append({"capacity": plan.capacity, **main_run})
        if "recovery" in args.only:
            _say("recovery after a TaskManager kill")
            results["recovery"] = _runs.recovery(ctx, system("flink-agents"))
        if "replay" in args.only:
            _say("exact replay from the events log")
            results["replay"] = _runs.replay(ctx, system("flink-agents"))
        if "burst" in args.only:
            _say("a queued burst at 500 ms")
            results["burst"] = _runs.burst(ctx, system("flink-agents"))
        if "scale" in args.only:
            _say("parallelism 1 and 2 on two TaskManagers")
            results["scale"] = _runs.scaling(ctx, system("flink-agents"))
    finally:
        if counters is not None:
            counters.close()
        sim.stop()
        stack.down()
    results["seconds"] = time.monotonic() - started
    headline = _report.write(results, args.results, command)
    print(_report.table(results))
    print("summary:", headline)
    return 0


def _say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
