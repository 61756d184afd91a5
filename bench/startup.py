"""Seconds from ``flink-agents submit`` to the first output, phase by phase.

    python -m bench.startup [--runs 3] [--flink-run]   # against the running local stack

Each run puts one classifier input in a fresh topic, runs ``flink-agents submit`` on the
classifier job (the command a user types, in a process of its own), waits for the answer
on the output topic (read ``read_committed``), and cancels the job. ``submit`` builds the
job in the stack's warm client when it runs; ``--flink-run`` measures ``flink run`` instead
(``flink.warm_client: false`` for the submissions only). The phases come from
the JobManager's REST API (the job's and each subtask's state timestamps), the model
simulator (when the model request arrived) and the TaskManager log (``AgentStep.open``'s
own summary line, when it logs one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import ROOT, Outputs, Simulator
from bench.workloads import event
from flink_agents.config import Settings, load_settings
from flink_agents.local import ClusterJobs, LocalStack
from flink_agents.testing import TopicClient

#: A run that has no answer after this long failed (the target is 10 s).
ANSWER_TIMEOUT_S = 180.0
_JOB = re.compile(r"job ([0-9a-f]{32}) is running")
_OPEN = re.compile(r"AgentStep\.open took ([0-9.]+)s")


def first_output(
    settings: Settings, stack: LocalStack, sim: Simulator, runs: int = 3, warm: bool = True
) -> dict[str, Any]:
    """``runs`` submissions of the classifier, each with one input waiting; their phases
    and the median of each."""
    topics = TopicClient(settings.bootstrap_servers)
    done = [_one(settings, stack, sim, topics, warm) for _ in range(runs)]
    phases = [k for k in done[0] if k.endswith("_s")]
    medians = {
        k: round(statistics.median(r[k] for r in done if r.get(k) is not None), 2)
        for k in phases
        if any(r.get(k) is not None for r in done)
    }
    return {"runs": done, "median": medians, "first_output_s": medians["first_output_s"]}


def compare(settings: Settings, stack: LocalStack, sim: Simulator, runs: int) -> dict[str, Any]:
    """``runs`` submissions through the warm client and ``runs`` with ``flink run``,
    alternating, so that both meet the same load on a shared machine."""
    topics = TopicClient(settings.bootstrap_servers)
    done: dict[str, list[dict[str, Any]]] = {"warm": [], "flink_run": []}
    for _ in range(runs):
        for way in done:
            done[way].append(_one(settings, stack, sim, topics, warm=way == "warm"))
    return {
        way: {
            "first_output_s": [r["first_output_s"] for r in found],
            "client_s": [r["client_s"] for r in found],
            "median_first_output_s": statistics.median(r["first_output_s"] for r in found),
            "median_client_s": statistics.median(r["client_s"] for r in found),
        }
        for way, found in done.items()
    }


def _one(
    settings: Settings, stack: LocalStack, sim: Simulator, topics: TopicClient, warm: bool
) -> dict[str, Any]:
    topic_in = topics.unique("startup.in")
    topic_out = topics.unique("startup.out")
    topics.create(topic_in, topic_out)
    topics.produce(topic_in, [event(0, 1)])
    sim.set_latency(0)
    sim.reset()
    outputs = Outputs(settings.bootstrap_servers, topic_out)
    outputs.start()
    app = f"startup-{topic_in.rsplit('-', 1)[1]}"
    args = [
        *("--workload", "classifier", "--capacity", "128", "--app", app),
        *("--input", topic_in, "--output", topic_out, "--model-url", sim.url),
    ]
    cli = str(Path(sys.executable).with_name("flink-agents"))
    jobs = ClusterJobs(stack.flink)
    job_id = None
    submitted = time.time()
    try:
        done = subprocess.run(
            [cli, "submit", str(ROOT / "bench/jobs/agent_job.py"), "--", *args],
            cwd=ROOT,
            env={**os.environ, "FLINK_AGENTS_FLINK__WARM_CLIENT": str(warm).lower()},
            capture_output=True,
            text=True,
            check=False,
        )
        returned = time.time()
        found = _JOB.search(done.stdout)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"submit failed: {done.stdout}{done.stderr}")
        job_id = found.group(1)
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while not outputs.arrived:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer {ANSWER_TIMEOUT_S:.0f}s after submitting {app}")
            time.sleep(0.02)
        answered = min(outputs.arrived.values())
        return {
            "app": app,
            "job_id": job_id,
            **_phases(stack, job_id, submitted, sim, answered),
            "submit_returned_s": round(returned - submitted, 2),
            "first_output_s": round(answered - submitted, 2),
        }
    finally:
        outputs.stop()
        if job_id is not None:
            jobs.cancel(job_id)
            jobs.wait_gone(job_id)


def _phases(
    stack: LocalStack, job_id: str, submitted: float, sim: Simulator, answered: float
) -> dict[str, float | None]:
    """Seconds of each phase, from the REST API's timestamps and the simulator's log."""
    flink = stack.flink
    job = flink.rest(f"/jobs/{job_id}")
    states: dict[str, int] = job["timestamps"]
    times: dict[str, list[float]] = {"DEPLOYING": [], "INITIALIZING": [], "RUNNING": []}
    for vertex in job["vertices"]:
        sub = flink.rest(f"/jobs/{job_id}/vertices/{vertex['id']}/subtasktimes")
        for subtask in sub["subtasks"]:
            for state, values in times.items():
                if subtask["timestamps"].get(state):
                    values.append(subtask["timestamps"][state] / 1000)
    accepted = job["start-time"] / 1000
    scheduled = states["RUNNING"] / 1000
    deploying = max(times["DEPLOYING"])
    initializing = max(times["INITIALIZING"])
    running = max(times["RUNNING"])
    requests = [r["time"] for r in sim.requests() if "chat/completions" in r["path"]]
    model = min(requests) if requests else None
    return {
        "client_s": round(accepted - submitted, 2),
        "scheduling_s": round(scheduled - accepted, 2),
        "deploying_s": round(deploying - scheduled, 2),
        "deployed_s": round(initializing - deploying, 2),
        "open_s": round(running - initializing, 2),
        "agent_open_s": _agent_open(stack),
        "to_model_call_s": round(model - running, 2) if model else None,
        "to_output_s": round(answered - model, 2) if model else None,
    }


def _agent_open(stack: LocalStack) -> float | None:
    """The latest ``AgentStep.open`` time the TaskManagers logged."""
    found = None
    for path in sorted((stack.settings.home / "logs" / "flink").glob("*taskexecutor*.log")):
        for match in _OPEN.finditer(path.read_text(errors="replace")):
            found = float(match.group(1))
    return round(found, 2) if found is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--flink-run", action="store_true", help="submit with flink run, not the warm client"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="alternate the warm client and flink run, --runs of each; medians of both",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    stack = LocalStack(settings)
    logs = settings.home / "logs" / "startup"
    logs.mkdir(parents=True, exist_ok=True)
    sim = Simulator(logs / "simulator.log")
    try:
        if args.compare:
            result = compare(settings, stack, sim, args.runs)
        else:
            result = first_output(settings, stack, sim, args.runs, warm=not args.flink_run)
    finally:
        sim.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
