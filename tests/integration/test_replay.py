"""`flink-agents replay` and `diff` on a real run: Kafka, Flink MiniClusters, the model
simulator. An exact replay answers every input as the original run did without one model
request; a what-if replay (a changed job file) calls the model and the diff counts what
changed; neither writes to the original topics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flink_agents.api.events import KIND_HEADER, STEP_KIND, events_in, parse_event
from flink_agents.testing import ChatRequest, JobProcess, ModelServer, Reply, ToolCall, TopicClient

# Two MiniCluster jobs run one after the other in a test (the original run is shared).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))
INPUTS = 30


def script(req: ChatRequest) -> Reply:
    """Look up the risk, then BLOCK above 50 (above 20 when the prompt says strict)."""
    if not req.tool_results:
        amount = json.loads(req.last_user_text or "{}")["amount"]
        return Reply.tool_calls([ToolCall("risk", {"amount": amount})])
    score = int(req.tool_results[-1].content)
    limit = 20 if "strict" in (req.system_text or "") else 50
    return Reply.json({"decision": "BLOCK" if score > limit else "APPROVE", "risk": score})


def chat_requests(sim: ModelServer) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/chat/completions"))


@pytest.fixture(scope="module")
def sim() -> Iterator[ModelServer]:
    with ModelServer(script) as server:
        yield server


@pytest.fixture(scope="module")
def original(
    topics: TopicClient,
    job_env: dict[str, str],
    sim: ModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The live run: INPUTS payments answered, then the job stopped."""
    return run_original(topics, job_env, sim, tmp_path_factory.mktemp("replay"))


def run_original(
    topics: TopicClient, job_env: dict[str, str], sim: ModelServer, folder: Path, **settings: str
) -> dict[str, Any]:
    """Run the triage job (with ``settings`` as FLINK_AGENTS_... variables) until INPUTS
    payments over 7 keys are answered, then stop it."""
    app, source, out = topics.unique("pay"), topics.unique("pay-in"), topics.unique("pay-out")
    topics.create(source, out)
    env = {
        **job_env,
        **{f"FLINK_AGENTS_{name.upper()}": value for name, value in settings.items()},
        "REPLAY_APP": app,
        "REPLAY_INPUT": source,
        "REPLAY_OUTPUT": out,
        "MODEL_URL": sim.base_url,
        "SIM_API_KEY": "sk-sim",
    }
    job = JobProcess(ROOT / "tests/jobs/replay_triage.py", [], env, folder / "original.log").start()
    try:
        started = int(time.time() * 1000)
        topics.produce(
            source, [{"k": f"card-{i % 7}", "id": i, "amount": 10 * i} for i in range(INPUTS)]
        )
        outputs = topics.consume(out, count=INPUTS, timeout=400)
        ended = int(time.time() * 1000) + 1
    finally:
        job.stop()
    return {"env": env, "from": started, "to": ended, "outputs": outputs, "out": out}


def cli(env: dict[str, str], *args: str, timeout: float = 480) -> subprocess.CompletedProcess[str]:
    """Run the command; past ``timeout`` it gets SIGTERM, so a replay stops its job."""
    process = subprocess.Popen(
        [CLI, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # the test itself was interrupted
            process.terminate()
            process.wait(60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def records_in(topics: TopicClient, topic: str) -> int:
    """How many records ``topic`` holds (its end offset: it has one partition)."""
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer({"bootstrap.servers": topics.bootstrap_servers, "group.id": "count"})
    try:
        return int(reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        reader.close()


def by_task(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {r.value["task"]["id"]: r.value for r in records}


def test_exact_replay_repeats_every_output_without_a_model_request(
    original: dict[str, Any], topics: TopicClient, sim: ModelServer
):
    asked_before = chat_requests(sim)
    name = f"exact-{time.time_ns()}"

    done = cli(
        original["env"],
        "replay",
        "tests/jobs/replay_triage.py",
        "--from",
        str(original["from"]),
        "--to",
        str(original["to"]),
        "--name",
        name,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"replay {name} (exact): {INPUTS} outputs for {INPUTS} inputs" in done.stdout
    assert chat_requests(sim) == asked_before  # every result came from the events log
    replayed = topics.consume(f"{original['out']}.replay.{name}", count=INPUTS, timeout=60)
    assert Counter(r.value["id"] for r in replayed) == Counter(range(INPUTS))
    assert by_task(replayed) == by_task(original["outputs"])
    assert records_in(topics, original["out"]) == INPUTS  # the original topic got nothing

    diff = cli(original["env"], "diff", name, "--json")
    assert diff.returncode == 0, diff.stderr
    counts = json.loads(diff.stdout)
    assert (counts["unchanged"], counts["changed"], counts["failed"]) == (INPUTS, 0, 0)


def test_a_log_of_results_only_answers_once_each_and_replays_exactly_without_the_model(
    topics: TopicClient, job_env: dict[str, str], sim: ModelServer, tmp_path: Path
):
    asked_before = chat_requests(sim)
    run = run_original(topics, job_env, sim, tmp_path, runtime__events_log="results")
    asked = chat_requests(sim) - asked_before
    events_topic = f"{run['env']['REPLAY_APP']}.events"
    logged = topics.consume(events_topic, count=records_in(topics, events_topic), timeout=60)
    name = f"results-{time.time_ns()}"

    done = cli(
        run["env"], "replay", "tests/jobs/replay_triage.py", "--from", str(run["from"]),
        "--to", str(run["to"]), "--name", name,
    )  # fmt: skip

    assert Counter(r.value["id"] for r in run["outputs"]) == Counter(range(INPUTS))
    assert not [r for r in logged if r.header(KIND_HEADER) == STEP_KIND]
    # One result per call: a tool call and a decision per input, each model call once.
    ids = Counter(r.value["id"] for r in logged)
    assert set(ids.values()) == {1}
    assert Counter(r.header(KIND_HEADER) for r in logged) == {
        "model.response": 2 * INPUTS,
        "tool.result": INPUTS,
    }
    assert asked == 2 * INPUTS
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"replay {name} (exact): {INPUTS} outputs for {INPUTS} inputs" in done.stdout
    assert chat_requests(sim) == asked_before + asked  # the replay asked the model nothing
    replayed = topics.consume(f"{run['out']}.replay.{name}", count=INPUTS, timeout=60)
    assert Counter(r.value["id"] for r in replayed) == Counter(range(INPUTS))
    assert by_task(replayed) == by_task(run["outputs"])


def test_what_if_replay_calls_the_model_and_diff_counts_changed_decisions(
    original: dict[str, Any], topics: TopicClient, sim: ModelServer
):
    asked_before = chat_requests(sim)
    name = f"strict-{time.time_ns()}"

    done = cli(
        original["env"],
        "replay",
        "tests/jobs/replay_triage_strict.py",
        "--what-if",
        "--from",
        str(original["from"]),
        "--to",
        str(original["to"]),
        "--name",
        name,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert chat_requests(sim) - asked_before == 2 * INPUTS  # the tool turn and the decision
    diff = cli(original["env"], "diff", name, "--json")
    assert diff.returncode == 0, diff.stderr
    result = json.loads(diff.stdout)
    # Risk is amount // 10 = i: strict blocks 21..50 that were approved before.
    changed = {row["old"]["id"] for row in result["inputs"] if row["status"] == "changed"}
    assert changed == set(range(21, INPUTS))
    assert (result["unchanged"], result["failed"]) == (INPUTS - len(changed), 0)
    table = cli(original["env"], "diff", name)
    assert f"{len(changed)} changed, {INPUTS - len(changed)} unchanged, 0 failed" in table.stdout
    assert records_in(topics, original["out"]) == INPUTS


def test_exact_replay_reads_a_log_written_before_compact_records(
    original: dict[str, Any], topics: TopicClient, sim: ModelServer
):
    """The original run's events, rewritten as the previous version wrote them (step records
    with every event whole, results with every field), under another app's name."""
    app = topics.unique("pay-old")
    copied = _copy_in_old_shape(topics, f"{original['env']['REPLAY_APP']}.events", app)
    env = {**original["env"], "REPLAY_APP": app}
    asked_before = chat_requests(sim)
    name = f"old-{time.time_ns()}"

    done = cli(
        env, "replay", "tests/jobs/replay_triage.py", "--from", str(original["from"]),
        "--to", str(original["to"]), "--name", name,
    )  # fmt: skip

    assert copied >= 3 * INPUTS  # each task's steps and results
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"replay {name} (exact): {INPUTS} outputs for {INPUTS} inputs" in done.stdout
    assert chat_requests(sim) == asked_before
    replayed = topics.consume(f"{original['out']}.replay.{name}", count=INPUTS, timeout=60)
    assert Counter(r.value["id"] for r in replayed) == Counter(range(INPUTS))
    assert by_task(replayed) == by_task(original["outputs"])


def _copy_in_old_shape(topics: TopicClient, source: str, app: str) -> int:
    """Copy ``source`` to ``<app>.events`` in the old shape, keeping keys, kinds and times."""
    from confluent_kafka import Producer

    events = topics.create(f"{app}.events")
    records = topics.consume(source, count=records_in(topics, source), timeout=60)
    producer = Producer({"bootstrap.servers": topics.bootstrap_servers})
    for record in records:
        kind = record.header(KIND_HEADER)
        whole = events_in(kind, record.value)
        if kind == STEP_KIND:
            value = json.dumps({"v": 1, "kind": STEP_KIND, "events": whole})
        else:
            [event] = whole
            value = parse_event(json.dumps(event)).model_dump_json()
        producer.produce(
            events,
            value=value.encode(),
            key=(record.key or "").encode(),
            headers=list(record.headers.items()),
            timestamp=int((record.timestamp or 0) * 1000),
        )
    assert producer.flush(30) == 0
    return len(records)
