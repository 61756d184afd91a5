"""Agents running for real: Kafka, a Flink MiniCluster, the model simulator over HTTP,
MCP servers over stdio and streamable HTTP. One job (tests/jobs/scenarios.py) hosts an
agent per scenario; each test feeds its agent and reads what came out."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flink_agents.api.events import KIND_HEADER, RESULT_KINDS, STEP_KIND, events_in
from flink_agents.testing import (
    ChatRequest,
    Fault,
    JobProcess,
    ModelServer,
    Record,
    Reply,
    ToolCall,
    TopicClient,
    fingerprint,
    stop_process,
)
from tests.jobs.scenarios import agents
from tests.support import start_mcp_http

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-sim-4f7c2a9e1b3d5f60718293a4b5c6d7e8"


def task_turn(req: ChatRequest) -> int:
    """Assistant turns of the current task: those after the last user message."""
    turns = 0
    for message in req.messages:
        if message["role"] == "user":
            turns = 0
        elif message["role"] == "assistant":
            turns += 1
    return turns


def script(req: ChatRequest) -> Reply:
    name, turn = req.model, task_turn(req)
    text = req.last_user_text or ""
    payload: dict[str, Any] = json.loads(text) if text.startswith("{") else {}
    if name == "tools":
        if turn == 0:
            return Reply.tool_calls(
                [
                    ToolCall("add", {"a": payload["a"], "b": payload["b"]}),
                    ToolCall("double", {"n": payload["n"]}),
                ]
            )
        if turn == 1:
            return Reply.tool_calls([ToolCall("slow", {"seconds": 0.01})])
        got = _all_tool_results(req)
        return Reply.json(
            {"total": int(got["add"]), "doubled": int(got["double"]), "http": got["slow"]}
        )
    if name == "parallel":
        if turn == 0:
            return Reply.tool_calls([ToolCall("nap", {"seconds": 0.5})] * 2)
        return Reply.text(json.dumps([json.loads(r.content) for r in req.tool_results]))
    if name == "memory":
        return Reply.json({"seen": sum(m["role"] == "user" for m in req.messages)})
    if name == "ordering":
        return Reply.json({"n": payload["n"]}, delay_ms=300 if payload["k"] == "slow" else 0)
    if name == "toolerr":
        if turn == 0:
            return Reply.tool_calls([ToolCall("explode", {"reason": "disk on fire"})])
        return Reply.json({"handled": req.tool_results[0].content})
    if name == "loop":
        return Reply.tool_calls([ToolCall("double", {"n": 1})])
    if name == "repair":
        fixed = "did not match the required output" in text
        return Reply.json({"verdict": "ok"}) if fixed else Reply.text("certainly!")
    if name == "norepair":
        return Reply.text("no JSON here")
    if name == "crash":
        return Reply.json({"verdict": payload["say"]})
    return Reply.json({"verdict": "ok"})


def _all_tool_results(req: ChatRequest) -> dict[str, str]:
    """Tool results of every turn so far, by tool name (the simulator's helper has the last)."""
    names: dict[str, str] = {}
    out: dict[str, str] = {}
    for message in req.messages:
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
        if message["role"] == "tool":
            out[names[message["tool_call_id"]]] = message["content"]
    return out


@pytest.fixture(scope="module")
def sim() -> Iterator[ModelServer]:
    with ModelServer(script) as server:
        server.add_fault(Fault.status(500, times=2, when=lambda r: r.model == "flaky"))
        server.add_fault(Fault.always(500, when=lambda r: r.model == "broken"))
        server.add_fault(
            Fault.always(
                401,
                message=f"Incorrect API key provided: {SECRET[:14]}...",
                when=lambda r: r.model == "authfail",
            )
        )
        yield server


@pytest.fixture(scope="module")
def mcp_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("mcp") / "calc.log"
    process, ready = start_mcp_http("tests.mcp_servers.calc_server", ["--port", "0"], log)
    try:
        yield ready[1]
    finally:
        stop_process(process)


class Scenarios:
    """The running job, its topics, and helpers to talk to one scenario agent."""

    def __init__(self, topics: TopicClient, prefix: str, job: JobProcess, sim: ModelServer):
        self.topics, self.prefix, self.job, self.sim = topics, prefix, job, sim
        self._sent = 0

    def send(self, agent: str, *events: dict[str, Any] | str) -> list[str]:
        """Send events to an agent; dict events get a unique ``id`` (returned, in order)."""
        ids, records = [], []
        for event in events:
            if isinstance(event, dict):
                self._sent += 1
                event = {"id": f"{agent}-{self._sent}", **event}
                ids.append(event["id"])
            records.append(event)
        self.topics.produce(f"{self.prefix}.{agent}", records)
        return ids

    def outputs(self, agent: str, ids: list[str], timeout: float = 180) -> list[dict[str, Any]]:
        wanted = set(ids)
        got = self.topics.consume(
            f"{self.prefix}.{agent}.out",
            until=lambda rs: wanted <= {r.value.get("id") for r in rs},
            timeout=timeout,
        )
        if not self.job.alive:
            raise AssertionError(f"the job died:\n{self.job.tail()}")
        return [r.value for r in got if r.value.get("id") in wanted]

    def dead_letters(self, until: Any, timeout: float = 60) -> list[Record]:
        return self.topics.consume(f"{self.prefix}.dlq", until=until, timeout=timeout)

    def events(self, until: Any, timeout: float = 60) -> list[dict[str, Any]]:
        return self.topics.events(f"{self.prefix}.events", until=until, timeout=timeout)

    def requests(self, agent: str) -> list[ChatRequest]:
        return [r.chat for r in self.sim.requests if r.body.get("model") == agent]


@pytest.fixture(scope="module")
def scenarios(
    topics: TopicClient,
    sim: ModelServer,
    mcp_http: str,
    job_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scenarios]:
    prefix = topics.unique("scn")
    names = [a.name for a in _agent_specs()]
    topics.create(*[f"{prefix}.{n}" for n in names])
    env = {
        **job_env,
        "SCENARIO_PREFIX": prefix,
        "MODEL_URL": sim.base_url,
        "MCP_HTTP_URL": mcp_http,
        "SIM_API_KEY": SECRET,
    }
    log = tmp_path_factory.mktemp("job") / "scenarios.log"
    job = JobProcess(ROOT / "tests/jobs/scenarios.py", [], env, log).start()
    try:
        yield Scenarios(topics, prefix, job, sim)
    finally:
        job.stop()


def _agent_specs() -> list[Any]:
    os.environ.setdefault("MODEL_URL", "http://127.0.0.1:9/v1")
    os.environ.setdefault("MCP_HTTP_URL", "http://127.0.0.1:9/mcp")
    return agents()


def test_tools_in_python_mcp_stdio_and_mcp_http_over_several_steps(scenarios: Scenarios):
    [tx] = scenarios.send("tools", {"k": "card-1", "a": 2, "b": 3, "n": 4})
    [out] = scenarios.outputs("tools", [tx])
    assert (out["total"], out["doubled"], out["http"]) == (5, 8, "slept 0.01s")
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["task"]["steps"] == 3
    offered = scenarios.requests("tools")[0].tool_names
    assert sorted(offered) == ["add", "double", "slow"]  # allow-lists hid fail, pid, echo_env


def test_each_step_is_one_record_and_the_log_keeps_every_event_once(scenarios: Scenarios):
    [tx] = scenarios.send("tools", {"k": "audit-1", "a": 1, "b": 1, "n": 1})
    [out] = scenarios.outputs("tools", [tx])
    task, context = out["task"]["id"], out["task"]["context_id"]
    records = scenarios.topics.consume(
        f"{scenarios.prefix}.events",
        until=lambda rs: any(
            e["kind"] == "task.completed" and e["task_id"] == task
            for r in rs
            if r.key == context
            for e in events_in(r.header(KIND_HEADER), r.value)
        ),
    )
    mine = [r for r in records if r.key == context]
    steps = [events_in(STEP_KIND, r.value) for r in mine if r.header(KIND_HEADER) == STEP_KIND]
    results = [r for r in mine if r.header(KIND_HEADER) in RESULT_KINDS]
    # What the operator decided in one step left as one record, in order.
    assert [e["kind"] for e in steps[0]] == ["task.accepted", "model.request"]
    assert [e["kind"] for e in steps[-1]] == ["task.completed"]
    assert all(e["task_id"] == task for step in steps for e in step)
    # Results stay one per record, addressable by their step id.
    assert all(r.value["id"].startswith(f"{task}/") for r in results)
    assert len(mine) == len(steps) + len(results)
    # Nothing dropped, nothing twice: the three model calls and three tool calls.
    kinds = Counter(e["kind"] for step in steps for e in step)
    kinds.update(r.value["kind"] for r in results)
    assert kinds == {
        "task.accepted": 1,
        "model.request": 3,
        "model.response": 3,
        "tool.request": 3,
        "tool.result": 3,
        "task.completed": 1,
    }
    assert len(steps) < sum(kinds.values()) - len(results)  # fewer records than events


def test_parallel_tool_calls_of_one_turn_run_concurrently(scenarios: Scenarios):
    [tx] = scenarios.send("parallel", {"k": "p-1"})
    [out] = scenarios.outputs("parallel", [tx])
    first, second = json.loads(out["text"])
    assert max(first["start"], second["start"]) < min(first["end"], second["end"])


def test_second_event_sees_memory_of_the_first(scenarios: Scenarios):
    first, second = scenarios.send(
        "memory", {"k": "m-1", "note": "first"}, {"k": "m-1", "note": "second"}
    )
    outs = scenarios.outputs("memory", [first, second])
    assert [o["seen"] for o in outs] == [1, 2]
    later = [r for r in scenarios.requests("memory") if "second" in (r.last_user_text or "")]
    prompt = json.dumps(later[0].messages)
    assert '\\"note\\": \\"first\\"' in prompt and '{\\"seen\\": 1}' in prompt


def test_a_key_keeps_its_order_while_other_keys_proceed(scenarios: Scenarios):
    events = []
    for n in range(4):
        events += [{"k": "slow", "n": n}, {"k": "fast", "n": n}]
    ids = scenarios.send("ordering", *events)
    outs = scenarios.outputs("ordering", ids)
    assert [o["n"] for o in outs if o["k"] == "slow"] == [0, 1, 2, 3]
    assert [o["n"] for o in outs if o["k"] == "fast"] == [0, 1, 2, 3]
    keys = [o["k"] for o in outs]
    last = {k: len(keys) - 1 - keys[::-1].index(k) for k in ("slow", "fast")}
    assert last["fast"] < last["slow"], "the fast key waited for the slow one"


def test_server_errors_are_retried_then_succeed(scenarios: Scenarios):
    [tx] = scenarios.send("flaky", {"k": "f-1"})
    [out] = scenarios.outputs("flaky", [tx])
    assert out["verdict"] == "ok"
    task = out["task"]["id"]
    found = scenarios.events(
        until=lambda es: any(e.get("task_id") == task and e["kind"] == "model.response" for e in es)
    )
    [response] = [e for e in found if e.get("task_id") == task and e["kind"] == "model.response"]
    assert response["attempts"] == 3


def test_a_model_that_always_fails_ends_the_task_failed_with_a_dead_letter(scenarios: Scenarios):
    [tx] = scenarios.send("broken", {"k": "b-1"})
    [out] = scenarios.outputs("broken", [tx])
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert "HTTP 500" in out["task"]["error"] and "after 4 attempts" in out["task"]["error"]
    task = out["task"]["id"]
    letters = scenarios.dead_letters(
        until=lambda rs: any(r.value.get("task_id") == task for r in rs)
    )
    [letter] = [r.value for r in letters if r.value.get("task_id") == task]
    assert (letter["kind"], letter["agent"], letter["payload"]["id"]) == (
        "task.failed",
        "broken",
        tx,
    )


def test_a_tool_error_reaches_the_model(scenarios: Scenarios):
    [tx] = scenarios.send("toolerr", {"k": "t-1"})
    [out] = scenarios.outputs("toolerr", [tx])
    assert out["handled"] == "tool explode failed: RuntimeError: disk on fire"
    task = out["task"]["id"]
    letters = scenarios.dead_letters(
        until=lambda rs: any(r.value.get("task_id") == task for r in rs)
    )
    assert [r.value["kind"] for r in letters if r.value.get("task_id") == task] == ["tool.failed"]


def test_max_steps_is_enforced(scenarios: Scenarios):
    [tx] = scenarios.send("loop", {"k": "l-1"})
    [out] = scenarios.outputs("loop", [tx])
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert "max_steps" in out["task"]["error"]
    assert out["task"]["steps"] == 3
    assert len(scenarios.requests("loop")) == 3


def test_invalid_output_is_repaired_once_then_fails(scenarios: Scenarios):
    [good] = scenarios.send("repair", {"k": "r-1"})
    [bad] = scenarios.send("norepair", {"k": "r-2"})
    [repaired] = scenarios.outputs("repair", [good])
    [failed] = scenarios.outputs("norepair", [bad])
    assert repaired["verdict"] == "ok" and repaired["task"]["steps"] == 2
    assert failed["task"]["state"] == "TASK_STATE_FAILED"
    assert failed["task"]["error"].startswith("invalid output after one repair")
    assert len(scenarios.requests("norepair")) == 2


def test_a_malformed_event_goes_to_the_dead_letters_while_others_succeed(scenarios: Scenarios):
    keyless, fine = scenarios.send("ordering", "{not json", {"n": 7}, {"k": "ok", "n": 8})
    [out] = scenarios.outputs("ordering", [fine])
    assert out["n"] == 8
    letters = scenarios.dead_letters(
        until=lambda rs: sum(r.value.get("kind") == "input.rejected" for r in rs) >= 2
    )
    rejected = [r.value for r in letters if r.value.get("kind") == "input.rejected"]
    assert {(r["reason"], r["payload"]) for r in rejected} >= {
        ("not JSON", "{not json"),
        ("missing key field 'k' (a string or number)", json.dumps({"id": keyless, "n": 7})),
    }


def test_a_record_that_makes_the_step_raise_is_dead_lettered_and_the_job_goes_on(
    scenarios: Scenarios,
):
    bad, good = scenarios.send("crash", {"k": "c-1", "say": "explode"}, {"k": "c-1", "say": "ok"})
    failed, done = scenarios.outputs("crash", [bad, good])
    reason = "the agent step raised RuntimeError: the output check crashed"
    assert (failed["task"]["state"], failed["task"]["error"]) == ("TASK_STATE_FAILED", reason)
    assert (done["verdict"], done["task"]["state"]) == ("ok", "TASK_STATE_COMPLETED")
    task = failed["task"]["id"]
    letters = scenarios.dead_letters(
        until=lambda rs: (
            {"record.failed", "task.failed"}
            <= {r.value["kind"] for r in rs if r.value.get("task_id") == task}
        )
    )
    [letter] = [
        r.value
        for r in letters
        if r.value["kind"] == "record.failed" and r.value["task_id"] == task
    ]
    assert letter["reason"] == reason
    assert json.loads(letter["payload"])["task_id"] == task  # the result record it could not apply
    # The job did not restart: a restart would have asked the model again.
    assert scenarios.job.alive
    assert len(scenarios.requests("crash")) == 2


def test_the_api_key_appears_in_no_event_output_dead_letter_or_log(scenarios: Scenarios):
    [tx] = scenarios.send("authfail", {"k": "a-1"})
    [out] = scenarios.outputs("authfail", [tx])
    assert "HTTP 401" in out["task"]["error"]
    assert "Incorrect API key provided: [redacted]" in out["task"]["error"]
    key = fingerprint(f"Bearer {SECRET}")
    assert any(r.headers.get("authorization") == key for r in scenarios.sim.requests)
    topics = [t for t in scenarios.topics.topics() if t.startswith(scenarios.prefix)]
    everything = _read_all(scenarios.topics, topics)
    assert everything, "nothing was read"
    for record in everything:
        assert SECRET[:8] not in json.dumps(record.value), record.topic
    log = scenarios.job.log.read_text(errors="replace")
    assert SECRET[:8] not in log


def _read_all(topics: TopicClient, names: list[str]) -> list[Record]:
    """Everything in the topics now (their end offsets are known, so this terminates)."""
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": topics.bootstrap_servers, "group.id": "probe"})
    total = 0
    for name in names:
        meta = probe.list_topics(name, timeout=10).topics[name]
        for p in meta.partitions:
            low, high = probe.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            total += high - low
    probe.close()
    return topics.consume(*names, count=total, timeout=60, read_committed=False)
