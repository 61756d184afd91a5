"""Round trip of an A2A delegation over Kafka between two jobs (model at 0 ms).

``python -m bench.delegation_latency --requests 100`` starts its own Kafka (free ports, a
temporary home), the model simulator at 0 ms and the two jobs of
``bench/jobs/delegation_job.py`` on MiniClusters: an asker whose model delegates each input
once to a reviewer in the other job, then answers. After a warm-up it sends inputs one at a
time and prints p50/p99 of, per delegation, the round trip as the asker logged it
(``a2a.request`` to ``a2a.answered`` in its events), the reviewer's own time
(``task.accepted`` to ``task.completed``) and their difference: the Kafka hops and the A2A
envelope both ways. Everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench._isolated import start_kafka
from bench.gateway_latency import percentile
from flink_agents.a2a._registry import read_cards
from flink_agents.api.events import task_id_for_request
from flink_agents.testing import (
    ChatRequest,
    JobProcess,
    ModelServer,
    Reply,
    ToolCall,
    TopicClient,
)

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "bench/jobs/delegation_job.py"


def script(req: ChatRequest) -> Reply:
    if req.model == "reviewer":
        return Reply.json({"answer": f"reviewed: {req.last_user_text}"})
    if not req.tool_results:
        [peer] = req.tool_names
        return Reply.tool_calls([ToolCall(peer, {"message": req.last_user_text or ""})])
    return Reply.json({"answer": req.tool_results[0].content})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    kafka = start_kafka("delegation-bench")
    home, settings, broker = kafka.home, kafka.settings, kafka.broker
    topics = TopicClient(settings.kafka.bootstrap_servers)
    prefix = topics.unique("bench-a2a")
    topics.create(f"{prefix}.requests")
    env = {**kafka.job_env(), "DELEGATION_PREFIX": prefix}
    jobs: list[JobProcess] = []
    try:
        with ModelServer(script) as sim:
            env["MODEL_URL"] = sim.base_url
            jobs.append(JobProcess(JOB, ["reviewer"], env, home / "reviewer.log").start())
            _await_card(settings.kafka.bootstrap_servers, f"{prefix}-reviewer", 300)
            jobs.append(JobProcess(JOB, ["asker"], env, home / "asker.log").start())
            for n in range(5):  # warm-up: the jobs' first tasks start their workers
                _ask(topics, prefix, f"warm-{n}", timeout=300)
            measured_from = time.time()
            for n in range(args.requests):
                _ask(topics, prefix, f"r-{n}", timeout=60)
            report(*delegations(topics, prefix, args.requests, measured_from))
    finally:
        for job in jobs:
            job.stop()
        topics.close()
        broker.stop()


def _await_card(bootstrap: str, agent: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while agent not in read_cards(bootstrap):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{agent} published no card within {timeout:.0f}s")
        time.sleep(0.5)


def _ask(topics: TopicClient, prefix: str, request: str, timeout: float) -> None:
    topics.produce(f"{prefix}.requests", [{"id": request, "k": request}])
    topics.consume(
        f"{prefix}.answers",
        until=lambda rs: any(r.value.get("id") == request for r in rs),
        timeout=timeout,
    )


def delegations(
    topics: TopicClient, prefix: str, expected: int, since: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Per delegation asked at or after ``since`` (by the reviewer's task id): the asker's
    round trip and the reviewer's own time, in ms, from the two apps' events."""
    asked: dict[str, dict[str, Any]] = {}

    def asker_done(events: list[dict[str, Any]]) -> bool:
        for e in events:
            kind = e.get("kind")
            if kind in ("a2a.request", "a2a.answered") and float(e["at"]) >= since:
                asked.setdefault(f"{e['task_id']}/{e['call_id']}", {})[kind] = e
        return sum(len(v) == 2 for v in asked.values()) >= expected

    topics.events(f"{prefix}-askers.events", until=asker_done, timeout=120)
    rounds = {}
    for pair in asked.values():
        if len(pair) == 2:
            request, answered = pair["a2a.request"], pair["a2a.answered"]
            task = task_id_for_request(f"{prefix}-reviewer", request["message_id"])
            rounds[task] = (float(answered["at"]) - float(request["at"])) * 1000
    seen: dict[str, dict[str, float]] = {}

    def reviewer_done(events: list[dict[str, Any]]) -> bool:
        for e in events:
            if e.get("kind") in ("task.accepted", "task.completed"):
                seen.setdefault(e["task_id"], {})[e["kind"]] = float(e["at"])
        return all(len(seen.get(t, {})) == 2 for t in rounds)

    topics.events(f"{prefix}-reviewers.events", until=reviewer_done, timeout=120)
    own = {t: (seen[t]["task.completed"] - seen[t]["task.accepted"]) * 1000 for t in rounds}
    return rounds, own


def report(rounds: dict[str, float], own: dict[str, float]) -> None:
    print(json.dumps({"delegations": len(rounds)}))
    added = [rounds[t] - own[t] for t in rounds]
    for name, values in (
        ("round trip", list(rounds.values())),
        ("reviewer's own time", list(own.values())),
        ("Kafka hops + A2A", added),
    ):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"{name:<22} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


if __name__ == "__main__":
    main()
