"""`flink-agents replay --savepoint`: a replay that starts from a savepoint of the live job,
with the memory each key held. The live job runs on the standalone cluster, the replays in
MiniClusters of their own, the model is the simulator.

An exact replay from the savepoint repeats the later inputs' outputs without one model
request; a what-if replay from it shows the model each key's messages from before the
savepoint, while the same what-if replay without it shows none of them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flink_agents.local import FlinkCluster, free_port
from flink_agents.replay import starting_point
from flink_agents.testing import ModelServer, TopicClient
from tests.integration._ledger import COMPLETED, JOB, ROOT, Ledger, per_input, seen_by_key
from tests.jobs.ledger import script

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.timeout(600)]
CLI = str(Path(sys.executable).with_name("flink-agents"))
KEYS = 4
BEFORE = range(0, 8)  # answered before the savepoint: two per key
AFTER = range(8, 16)  # sent and answered after it: the replayed inputs


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the command; past ``timeout`` it gets SIGTERM, so a replay stops its job."""
    process = subprocess.Popen(
        [CLI, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def fingerprint(folder: str) -> dict[str, str]:
    """Every file of a folder and a digest of its bytes."""
    root = Path(folder)
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def remembered_ids(sim: ModelServer, since: int) -> dict[int, set[int]]:
    """For each input the model was asked about after request ``since``: the ids of the
    other inputs its prompt held."""
    held: dict[int, set[int]] = {}
    for request in sim.requests[since:]:
        if not request.path.endswith("/chat/completions"):
            continue
        ids = [
            json.loads(m["content"])["id"]
            for m in request.body["messages"]
            if m.get("role") == "user"
        ]
        held.setdefault(ids[-1], set()).update(ids[:-1])
    return held


def chat_requests(sim: ModelServer) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/chat/completions"))


def test_replay_from_a_savepoint_starts_with_the_memory_it_held(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    ledger = Ledger(topics, flink_cluster, job_env)
    env = {**job_env, "FLINK_AGENTS_RUNTIME__PARALLELISM": "1"}
    with ModelServer(script, port=free_port()) as sim:
        job_id = ledger.submit(sim.base_url, env=env)
        try:
            ledger.send(BEFORE.start, len(BEFORE))
            ledger.outputs(BEFORE)
            savepoint = ledger.jobs.savepoint(job_id)  # the job keeps running
            ledger.send(AFTER.start, len(AFTER))
            live = [r for r in ledger.outputs(AFTER) if r.value["id"] in AFTER]
        finally:
            ledger.jobs.cancel(job_id)
        folder = starting_point(savepoint).path  # Flink names it by a file: URI
        held = fingerprint(folder)
        taken_ms = int((Path(folder) / "_metadata").stat().st_mtime * 1000)
        job = [str(JOB.relative_to(ROOT)), "--", "--app", ledger.app, "--input", ledger.input]
        job += ["--output", ledger.output, "--model-url", sim.base_url]

        names = {kind: f"{kind}-{time.time_ns()}" for kind in ("exact", "mem", "empty")}

        # Exact, from the savepoint: the range starts at its time; nothing is asked.
        asked = chat_requests(sim)
        exact = cli(env, "replay", "--savepoint", savepoint, "--name", names["exact"], *job)
        assert exact.returncode == 0, exact.stdout + exact.stderr
        assert f"{len(AFTER)} outputs for {len(AFTER)} inputs" in exact.stdout
        assert chat_requests(sim) == asked
        exact_out = ledger.outputs(AFTER, topic=f"{ledger.output}.replay.{names['exact']}")

        # What-if, from the savepoint: the model sees each key's earlier messages.
        since = len(sim.requests)
        restored = cli(
            env, "replay", "--what-if", "--savepoint", savepoint, "--name", names["mem"], *job
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        with_memory = remembered_ids(sim, since)
        restored_out = ledger.outputs(AFTER, topic=f"{ledger.output}.replay.{names['mem']}")

        # The same what-if replay without the savepoint: empty memory.
        since = len(sim.requests)
        empty = cli(
            env, "replay", "--what-if", "--from", str(taken_ms), "--name", names["empty"], *job
        )
        assert empty.returncode == 0, empty.stdout + empty.stderr
        without_memory = remembered_ids(sim, since)
        empty_out = ledger.outputs(AFTER, topic=f"{ledger.output}.replay.{names['empty']}")

    for outputs in (exact_out, restored_out, empty_out):
        assert sorted(per_input(outputs).items()) == [(i, 1) for i in AFTER]
        assert all(r.value["task"]["state"] == COMPLETED for r in outputs)
    by_task = {r.value["task"]["id"]: r.value for r in live}
    assert {r.value["task"]["id"]: r.value for r in exact_out} == by_task

    earlier = {i: {j for j in BEFORE if j % KEYS == i % KEYS} for i in AFTER}
    # Each input's prompt holds its key's inputs from before the savepoint (and its key's
    # earlier replayed input); without the savepoint, none from before it.
    assert {i: ids & set(BEFORE) for i, ids in with_memory.items()} == earlier
    assert {i: ids & set(BEFORE) for i, ids in without_memory.items()} == {i: set() for i in AFTER}
    assert seen_by_key(restored_out) == seen_by_key(live) == {f"k{k}": [2, 3] for k in range(KEYS)}
    assert seen_by_key(empty_out) == {f"k{k}": [0, 1] for k in range(KEYS)}
    assert fingerprint(folder) == held  # read, never changed
    assert _live_outputs(ledger) == len(BEFORE) + len(AFTER)  # the live topic got nothing


def _live_outputs(ledger: Ledger) -> int:
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer({"bootstrap.servers": ledger.topics.bootstrap_servers, "group.id": "n"})
    try:
        partitions = reader.list_topics(ledger.output, timeout=10).topics[ledger.output].partitions
        ends = [
            reader.get_watermark_offsets(TopicPartition(ledger.output, p), timeout=10)[1]
            for p in partitions
        ]
        return int(sum(ends))
    finally:
        reader.close()


def test_a_path_that_is_no_savepoint_is_refused_before_any_job_starts(
    job_env: dict[str, str], tmp_path: Path
):
    started = time.monotonic()
    done = cli(
        job_env, "replay", str(JOB.relative_to(ROOT)), "--savepoint", str(tmp_path), "--name", "x"
    )
    assert done.returncode != 0
    assert "is not a complete savepoint (no _metadata file in it)" in done.stdout + done.stderr
    assert time.monotonic() - started < 30  # refused before a job was built
    assert not (Path(job_env["FLINK_AGENTS_HOME"]) / "replays" / "x.json").exists()
