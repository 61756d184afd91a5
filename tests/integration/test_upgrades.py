"""State across a stop with a savepoint: resumed at a higher parallelism, or with a changed
job. Tasks are running and inputs are queued when the savepoint is taken; every input is
answered once, and each key's answers show its memory whole (``seen`` counts 0, 1, 2, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flink_agents.errors import ConfigError, StackError
from flink_agents.local import FlinkCluster, KeyState, free_port, read_key_state
from flink_agents.testing import ModelServer, TopicClient
from tests.integration._ledger import COMPLETED, Ledger, per_input, seen_by_key
from tests.jobs.ledger import INSTRUCTIONS, script

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def stop_mid_stream(ledger: Ledger, sim: ModelServer, *options: str) -> str:
    """Run the job at parallelism 1 over inputs 0..19, wait for a few answers, and stop it
    with a savepoint while the rest run or wait in their keys' queues; return the savepoint."""
    job_id = ledger.submit(sim.base_url, *options, env={"FLINK_AGENTS_RUNTIME__PARALLELISM": "1"})
    ledger.send(0, 20)
    ledger.outputs(range(4))
    return ledger.jobs.stop_with_savepoint(job_id)


def held_inputs(state: KeyState) -> list[int]:
    """Ids of the inputs a key's state holds: remembered, running, queued, in that order."""
    remembered = [json.loads(m["content"])["id"] for m in state.memory if m["role"] == "user"]
    running = [state.task["input"]["payload"]["id"]] if state.task else []
    return [*remembered, *running, *(q["payload"]["id"] for q in state.queue)]


def inspect_savepoint(cluster: FlinkCluster, savepoint: str, app: str, tmp_path: Path) -> None:
    """What ``state inspect`` reads from the savepoint, offline: each of a key's five
    inputs once, the answered ones in memory with their answers, then the running task,
    then the queue; a key or agent it lacks, or a folder that is no savepoint, is an error."""
    settings = cluster.settings
    [k0] = read_key_state(settings, savepoint, "k0")
    assert (k0.agent, k0.key, k0.operator) == ("ledger", "k0", f"agents:{app}")
    assert held_inputs(k0) == [0, 4, 8, 12, 16]
    answers = [json.loads(m["content"]) for m in k0.memory if m["role"] == "assistant"]
    assert answers and [a["seen"] for a in answers] == list(range(len(answers)))

    with pytest.raises(ConfigError, match=r"no state for key 'k9'.* has 4 keys, such as k"):
        read_key_state(settings, savepoint, "k9")
    with pytest.raises(ConfigError, match=r"no state of agent 'auditor'; its agents: ledger"):
        read_key_state(settings, savepoint, "k0", agent="auditor")
    with pytest.raises(ConfigError, match=r"is not a complete savepoint"):
        read_key_state(settings, str(tmp_path), "k0")
    (tmp_path / "_metadata").write_bytes(b"not a savepoint")
    with pytest.raises(ConfigError, match=r"cannot read the savepoint's metadata"):
        read_key_state(settings, str(tmp_path), "k0")


def test_resumed_at_parallelism_two_keeps_every_keys_memory(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    ledger = Ledger(topics, flink_cluster, job_env)
    ttl = ["--memory-ttl", "1h"]  # memory with a TTL: its state is stored with timestamps
    with ModelServer(script, latency_ms=150, port=free_port()) as sim:
        savepoint = stop_mid_stream(ledger, sim, *ttl)
        ledger.send(20, 20)  # arrives while no job runs
        resumed = ledger.submit(
            sim.base_url,
            *ttl,
            savepoint=savepoint,
            env={"FLINK_AGENTS_RUNTIME__PARALLELISM": "2"},
        )
        try:
            vertices = ledger.jobs.cluster.rest(f"/jobs/{resumed}")["vertices"]
            step = [v for v in vertices if "AgentStep" in v["name"]]
            assert [v["parallelism"] for v in step] == [2]
            answers = ledger.outputs(range(40))
            subtasks = ledger.jobs.cluster.rest(f"/jobs/{resumed}/vertices/{step[0]['id']}")
            busy = [s for s in subtasks["subtasks"] if s["metrics"]["read-records"] > 0]
        finally:
            ledger.jobs.cancel(resumed)

    assert len(busy) == 2  # both workers served keys after the resume
    assert sorted(per_input(answers).items()) == [(i, 1) for i in range(40)]
    assert all(r.value["task"]["state"] == COMPLETED for r in answers)
    for key, seen in seen_by_key(answers).items():
        assert seen == list(range(10)), (key, seen)
    # The savepoint, read offline afterwards (reading it takes a while; the tasks it holds
    # would meanwhile run out of time had the job waited for it).
    inspect_savepoint(flink_cluster, savepoint, ledger.app, tmp_path)


def test_changed_job_resumes_with_memory_running_tasks_and_queued_inputs(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    ledger = Ledger(topics, flink_cluster, job_env)
    with ModelServer(script, latency_ms=150, port=free_port()) as sim:
        savepoint = stop_mid_stream(ledger, sim)
        ledger.send(20, 8)
        # A new prompt and a new tool.
        changed = ["--instructions", "Record each entry; be brief.", "--extra-tool"]
        resumed = ledger.submit(sim.base_url, *changed, savepoint=savepoint)
        try:
            answers = ledger.outputs(range(28))
        finally:
            ledger.jobs.cancel(resumed)
        prompts = {(r.chat.system_text or "").split("\n")[0] for r in sim.requests if r.body}
        # A change the same savepoint cannot follow (an added agent on the input already
        # read changes the routing's operators): refused, with Flink's reason and what to do.
        audits = topics.create(f"{ledger.app}.audit")
        with pytest.raises(StackError) as refused:
            ledger.submit(sim.base_url, "--auditor", audits, savepoint=savepoint)
        first, advice, *_ = str(refused.value).split("\n")

    assert sorted(per_input(answers).items()) == [(i, 1) for i in range(28)]
    assert all(r.value["task"]["state"] == COMPLETED for r in answers)
    for key, seen in seen_by_key(answers).items():
        assert seen == list(range(7)), (key, seen)
    assert prompts == {INSTRUCTIONS, "Record each entry; be brief."}, prompts
    assert "Flink refused the job: java.lang.IllegalStateException: " in first
    assert "Cannot map checkpoint/savepoint state for operator" in first
    assert "flink-agents submit --allow-non-restored-state" in advice
