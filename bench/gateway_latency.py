"""Round-trip latency of the A2A gateway for a trivial agent (one model call at 0 ms).

``python -m bench.gateway_latency --requests 100`` starts its own Kafka (free ports, a
temporary home), the agent job of ``tests/jobs/gateway.py`` on a MiniCluster, the model
simulator at 0 ms and ``flink-agents a2a serve``; after a warm-up it sends blocking
``SendMessage`` requests one at a time over plain HTTP JSON-RPC and prints p50/p99 of the
round trip, of the agent's own time (``task.accepted`` to ``task.completed`` in its events
topic) and of their difference, the gateway's share (Kafka hops included). Everything it
started is stopped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench._isolated import start_kafka
from flink_agents.local import free_port
from flink_agents.testing import JobProcess, ModelServer, Reply, TopicClient, stop_process

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {"A2A-Version": "1.0"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def send(url: str, text: str) -> dict[str, Any]:
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    task: dict[str, Any] = httpx.post(url, json=body, headers=HEADERS, timeout=300).json()[
        "result"
    ]["task"]
    return task


def wait_for_card(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway exited")
        try:
            if httpx.get(f"{url}/.well-known/agent-card.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not serve {url} within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    kafka = start_kafka("gateway-bench")
    home, settings, broker = kafka.home, kafka.settings, kafka.broker
    topics = TopicClient(settings.kafka.bootstrap_servers)
    prefix = topics.unique("bench-gw")
    env = {**kafka.job_env(), "GATEWAY_PREFIX": prefix}
    gateway: subprocess.Popen[bytes] | None = None
    job: JobProcess | None = None
    try:
        with ModelServer(lambda req: Reply.text("ok")) as sim:
            env["MODEL_URL"] = sim.base_url
            job = JobProcess(ROOT / "tests/jobs/gateway.py", [], env, home / "job.log").start()
            port = free_port()
            command = [str(Path(sys.executable).parent / "flink-agents"), "a2a", "serve"]
            with (home / "gateway.log").open("ab") as log:
                gateway = subprocess.Popen(
                    [*command, "--port", str(port)], env=env, stdout=log, stderr=log, cwd=ROOT
                )
            url = f"http://127.0.0.1:{port}/agents/{prefix}-echo"
            wait_for_card(url, gateway, 300)
            for _ in range(5):  # warm-up: the job's first tasks start its workers
                send(url, "warm up")
            rounds: dict[str, float] = {}
            for n in range(args.requests):
                started = time.perf_counter()
                task = send(url, f"request {n}")
                rounds[task["id"]] = (time.perf_counter() - started) * 1000
            agent = agent_times(topics, f"{prefix}-app.events", set(rounds))
        report(rounds, agent)
    finally:
        if gateway is not None:
            stop_process(gateway)
        if job is not None:
            job.stop()
        topics.close()
        broker.stop()


def agent_times(topics: TopicClient, events: str, ids: set[str]) -> dict[str, float]:
    """Per task, ms from ``task.accepted`` to ``task.completed`` as the agent logged them."""
    seen: dict[str, dict[str, float]] = {}
    read = 0

    def complete(logged: list[dict[str, Any]]) -> bool:
        nonlocal read
        for e in logged[read:]:
            kind, task = e.get("kind"), e.get("task_id")
            if task in ids and kind in ("task.accepted", "task.completed"):
                seen.setdefault(task, {})[kind] = float(e["at"])
        read = len(logged)
        return all(len(seen.get(t, {})) == 2 for t in ids)

    topics.events(events, until=complete, timeout=120)
    return {t: (seen[t]["task.completed"] - seen[t]["task.accepted"]) * 1000 for t in ids}


def report(rounds: dict[str, float], agent: dict[str, float]) -> None:
    print(f"{len(rounds)} blocking SendMessage requests, one at a time")
    added = [rounds[t] - agent[t] for t in rounds]
    for name, values in (
        ("round trip", list(rounds.values())),
        ("agent's own time", list(agent.values())),
        ("gateway + Kafka hops", added),
    ):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        mean = statistics.fmean(values)
        print(f"{name:<22} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   mean {mean:7.1f} ms")


if __name__ == "__main__":
    main()
