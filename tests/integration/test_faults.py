"""Faults on the standalone cluster, each counted per input id: the model endpoint down and
back, an MCP server killed and restarted, the Kafka broker restarted. The job never needs a
person: every input gets one answer, the ones that could not be served fail with the reason
in the dead-letter topic, and nothing is answered or recorded twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from flink_agents.config import Settings, load_settings
from flink_agents.local import FlinkCluster, KafkaBroker, free_port
from flink_agents.testing import Fault, ModelServer, TopicClient, stop_process
from tests.integration._ledger import COMPLETED, FAILED, Ledger, per_input, seen_by_key
from tests.jobs.ledger import script
from tests.support import ROOT, eventually, stack_env, start_mcp_http

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def answered_ids(sim: ModelServer) -> Counter[object]:
    """Input ids of the chat requests the model answered (200), one per answer."""
    ids: Counter[object] = Counter()
    for request in sim.requests:
        if request.status == 200 and request.path.endswith("/chat/completions"):
            messages = request.body["messages"]
            user = [m for m in messages if m.get("role") == "user"][-1]
            ids[json.loads(user["content"])["id"]] += 1
    return ids


def test_model_down_then_503s_then_back_answers_every_input_once(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    ledger = Ledger(topics, flink_cluster, job_env)
    sim = ModelServer(script, port=free_port()).start()
    job_id = ledger.submit(sim.base_url)
    try:
        ledger.send(0, 8)
        ledger.outputs(range(8))

        # A short outage, within the retry window (about 11 s): connection refused for a
        # while, then a 503 for each first request, then answers.
        sim.stop()
        ledger.send(8, 8)
        time.sleep(1.5)  # the outage's length, not a wait for a condition
        unavailable = sim.add_fault(Fault.status(503, times=8))
        sim.start()
        ledger.outputs(range(16))
        assert unavailable.fired == 8

        # A long outage: the calls give up after their retries, the tasks fail with the
        # reason, and the job goes on with the next inputs once the model is back.
        sim.stop()
        ledger.send(16, 4)
        ledger.outputs(range(20), timeout=60)
        sim.start()
        ledger.send(20, 4)
        answers = ledger.outputs(range(24))
        assert ledger.jobs.state(job_id) == "RUNNING"
    finally:
        ledger.jobs.cancel(job_id)
        sim.stop()

    assert [i for i, n in per_input(answers).items() if n != 1] == []
    state = {r.value["id"]: r.value["task"]["state"] for r in answers}
    assert [i for i in range(24) if state[i] != COMPLETED] == [16, 17, 18, 19]
    errors = [r.value["task"]["error"] for r in answers if r.value["task"]["state"] == FAILED]
    assert len(errors) == 4 and all("could not connect" in e for e in errors), errors

    dead = topics.consume(ledger.dead_letters, count=4)
    assert sorted(d.value["payload"]["id"] for d in dead) == [16, 17, 18, 19]
    assert all(d.value["kind"] == "task.failed" for d in dead)
    assert all("could not connect" in d.value["reason"] for d in dead)
    # One answered model request per completed input: a retry is not a second answer.
    completed = [i for i in range(24) if state[i] == COMPLETED]
    assert answered_ids(sim) == Counter(completed)
    # Memory holds the completed tasks: each key's answers count its earlier ones.
    for key, seen in seen_by_key([r for r in answers if r.value["id"] in completed]).items():
        assert seen == list(range(len(seen))), (key, seen)


def ledger_rows(db: Path) -> tuple[Counter[str], int]:
    """Entries per input id, and how many requests reached the server."""
    with sqlite3.connect(db) as con:
        entries = Counter(entry for (entry,) in con.execute("SELECT entry FROM entries"))
        (arrivals,) = con.execute("SELECT COUNT(*) FROM arrivals").fetchone()
    return entries, int(arrivals)


def test_mcp_server_killed_and_restarted_records_each_input_once(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    db, log = tmp_path / "ledger.db", tmp_path / "ledger-server.log"
    port = free_port()
    server_args = ["--port", str(port), "--db", str(db), "--delay", "0.3"]
    server, ready = start_mcp_http("tests.mcp_servers.ledger_server", server_args, log, timeout=90)
    ledger = Ledger(topics, flink_cluster, job_env)
    sim = ModelServer(script, port=free_port()).start()
    job_id = ledger.submit(sim.base_url, "--tool-url", ready.group(1))
    try:
        ledger.send(0, 8)
        ledger.outputs(range(8))
        ledger.send(8, 16)
        # Killed while calls run (each takes 0.3 s), started again on the same port.
        eventually(lambda: ledger_rows(db)[1] > 10, "calls of the second batch arrived", 60)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        server, _ = start_mcp_http("tests.mcp_servers.ledger_server", server_args, log, timeout=90)
        answers = ledger.outputs(range(24))
        assert ledger.jobs.state(job_id) == "RUNNING"
    finally:
        ledger.jobs.cancel(job_id)
        sim.stop()
        stop_process(server)

    assert [i for i, n in per_input(answers).items() if n != 1] == []
    assert all(r.value["task"]["state"] == COMPLETED for r in answers)
    assert all(r.value["recorded"] for r in answers), [r.value for r in answers]
    entries, arrivals = ledger_rows(db)
    assert entries == Counter(str(i) for i in range(24))  # one side effect per input
    print(f"mcp restart: 24 inputs, {arrivals} requests reached the server")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of this test's own, which it may stop and start (the session's is shared)."""
    settings: Settings = load_settings(
        {
            "home": str(tmp_path / "stack"),
            "cache": str(ROOT / ".flink-agents" / "cache"),
            "kafka": {"port": free_port(), "controller_port": free_port()},
        },
        environ={},
        file=None,
    )
    broker = KafkaBroker(settings)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


def test_broker_restarted_under_load_answers_each_input_once_exactly_once(
    flink_cluster: FlinkCluster, own_broker: KafkaBroker, tmp_path: Path
):
    settings = own_broker.settings
    env = stack_env(
        settings.home,
        kafka__port=settings.kafka.port,
        flink__rest_port=flink_cluster.settings.flink.rest_port,
        flink__rpc_port=flink_cluster.settings.flink.rpc_port,
        runtime__checkpoint_interval_s=2,
    )
    topics = TopicClient(settings.kafka.bootstrap_servers)
    ledger = Ledger(topics, flink_cluster, env)
    sim = ModelServer(script, port=free_port()).start()
    job_id = ledger.submit(sim.base_url, "--exactly-once")
    try:
        ledger.send(0, 20)
        ledger.outputs(range(20))
        ledger.send(20, 20)
        own_broker.stop()  # SIGTERM, then SIGKILL if it lingers
        time.sleep(3)  # the broker stays down this long, not a wait for a condition
        own_broker.start()
        ledger.send(40, 20)
        answers = ledger.outputs(range(60), timeout=180)
        # Transactions still open commit with the next checkpoints: read again after two
        # more, so a late second answer would be counted.
        done = ledger.jobs.cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
        eventually(
            lambda: (
                ledger.jobs.cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
                >= done + 2
            ),
            "two more checkpoints completed",
            timeout=60,
        )
        answers = topics.consume(ledger.output, count=len(answers), timeout=30)
        with pytest.raises(TimeoutError):  # and nothing after them
            topics.consume(ledger.output, count=len(answers) + 1, timeout=5)
    finally:
        ledger.jobs.cancel(job_id)
        sim.stop()
        topics.close()

    assert sorted(per_input(answers).items()) == [(i, 1) for i in range(60)]
    assert all(r.value["task"]["state"] == COMPLETED for r in answers)
    assert FAILED not in {r.value["task"]["state"] for r in answers}
    for key, seen in seen_by_key(answers).items():
        assert seen == list(range(len(seen))), (key, seen)
