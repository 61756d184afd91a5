"""A job deployed on a topic with history: the backlog back-pressures the sources, every
input is answered once, no task fails by its deadline, and no model call is made twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from bench.workloads import event, script
from flink_agents.testing import ModelServer
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import TopicClient

pytestmark = pytest.mark.integration
INPUTS, KEYS, LATENCY_MS, IN_FLIGHT = 5000, 2000, 200, 32


def test_a_backlog_is_answered_once_per_input_without_deadline_failures_or_repeated_calls(
    topics: TopicClient, run_job: Callable[..., JobProcess]
):
    app = topics.unique("backlog")
    source, out = f"{app}.in", f"{app}.out"
    topics.create(source, out)
    topics.produce(source, [event(i, keys=KEYS) for i in range(INPUTS)])  # before the job starts

    with ModelServer(script, latency_ms=LATENCY_MS) as sim:
        job = run_job(
            "bench/jobs/agent_job.py",
            *("--workload", "classifier", "--capacity", str(IN_FLIGHT), "--app", app),
            *("--input", source, "--output", out, "--model-url", sim.base_url),
        )
        # 5,000 calls of 200 ms, 32 at a time, take 31 s at best.
        try:
            answers = topics.consume(
                out, until=lambda rs: len({r.value["id"] for r in rs}) >= INPUTS, timeout=900
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; model requests: {sim.count()}\n{job.tail(80)}") from None
        assert job.alive, job.tail()
        requests = sim.count()

    per_input = Counter(r.value["id"] for r in answers)
    repeated = {i: n for i, n in per_input.items() if n > 1}
    print(f"backlog: {len(per_input)} inputs, {len(answers)} outputs, {requests} model requests")
    assert set(per_input) == set(range(INPUTS))
    assert not repeated, f"inputs answered more than once: {repeated}"
    failed = [
        r.value["task"] for r in answers if r.value["task"]["state"] != "TASK_STATE_COMPLETED"
    ]
    assert not failed, failed[:3]
    steps = sum(r.value["task"]["steps"] for r in answers)
    assert requests == steps, f"{requests} model requests for {steps} model steps"
