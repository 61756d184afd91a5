"""Agents in two jobs delegating to each other over Kafka (A2A 1.0 through inbox topics).

One job hosts the agents that ask (``asker``, ``outsider``, ``ghostly``), another the agent
they ask (``reviewer``, which accepts only ``asker``). Everything is real: Kafka, two Flink
MiniClusters, the model simulator over HTTP.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flink_agents.a2a import inbox_topic
from flink_agents.testing import ChatRequest, ModelServer, Reply, ToolCall
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import Record, TopicClient

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def script(req: ChatRequest) -> Reply:
    role = req.model
    if role == "reviewer":
        return Reply.json({"verdict": "approved", "seen": req.last_user_text or ""})
    if not req.tool_results:
        [peer] = req.tool_names
        payload = json.loads(req.last_user_text or "{}")
        return Reply.tool_calls([ToolCall(peer, {"message": f"please review {payload['id']}"})])
    return Reply.json({"answer": req.tool_results[0].content})


class Peers:
    def __init__(self, topics: TopicClient, prefix: str, sim: ModelServer) -> None:
        self.topics, self.prefix, self.sim = topics, prefix, sim
        self.jobs: list[JobProcess] = []
        self._sent = 0

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def ask(self, role: str, key: str) -> str:
        self._sent += 1
        request = {"id": f"{role}-{self._sent}", "k": key}
        self.topics.produce(f"{self.prefix}.requests", [request])
        return request["id"]

    def answer(self, role: str, request_id: str, timeout: float = 300) -> dict[str, Any]:
        got = self.topics.consume(
            f"{self.prefix}.answers",
            until=lambda rs: any(
                r.value.get("id") == request_id and r.value["task"]["agent"] == self.name(role)
                for r in rs
            ),
            timeout=timeout,
        )
        for job in self.jobs:
            assert job.alive, f"a job died:\n{job.tail()}"
        answers = [
            r.value
            for r in got
            if r.value.get("id") == request_id and r.value["task"]["agent"] == self.name(role)
        ]
        assert len(answers) == 1, answers
        return answers[0]

    def events(self, app: str, until: Any, timeout: float = 30) -> list[Record]:
        return self.topics.consume(f"{self.prefix}-{app}.events", until=until, timeout=timeout)


@pytest.fixture(scope="module")
def peers(
    topics: TopicClient, job_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    prefix = topics.unique("a2a")
    topics.create(f"{prefix}.requests")
    with ModelServer(script) as sim:
        env = {**job_env, "PEERS_PREFIX": prefix, "MODEL_URL": sim.base_url}
        logs = tmp_path_factory.mktemp("peers")
        fixture = Peers(topics, prefix, sim)
        try:
            for side in ("reviewers", "callers"):
                job = JobProcess(ROOT / "tests/jobs/peers.py", [side], env, logs / f"{side}.log")
                fixture.jobs.append(job.start())
            yield fixture
        finally:
            for job in fixture.jobs:
                job.stop()


def test_an_agent_delegates_to_an_agent_of_another_job_and_uses_its_answer(peers: Peers):
    request = peers.ask("asker", "card-1")
    out = peers.answer("asker", request)
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    verdict = json.loads(out["answer"])
    assert verdict == {"verdict": "approved", "seen": f"please review {request}"}
    # The peer saw the request as its own task, keyed by the caller's conversation.
    context = f"{peers.name('asker')}/card-1"
    reviews = peers.topics.consume(
        f"{peers.prefix}.reviews", until=lambda rs: any(r.key == context for r in rs), timeout=30
    )
    assert [r.value["verdict"] for r in reviews if r.key == context] == ["approved"]
    # The model was offered the peer as a tool, and the reply was applied once.
    tools = [r.chat.tool_names for r in peers.sim.requests if r.body.get("model") == "asker"]
    assert tools[0] == [peers.name("reviewer")]
    task = out["task"]["id"]
    logged = peers.events(
        "callers",
        until=lambda rs: any(
            r.value.get("task_id") == task and r.value.get("kind") == "task.completed" for r in rs
        ),
    )
    kinds = Counter(
        r.value.get("kind") or r.header("fa-kind")
        for r in logged
        if r.value.get("task_id") == task or r.header("fa-kind") == "a2a.reply"
    )
    assert kinds["a2a.request"] == 1 and kinds["a2a.answered"] == 1 and kinds["a2a.reply"] == 1


def test_the_inbox_record_is_an_a2a_send_message_with_the_binding_headers(peers: Peers):
    request = peers.ask("asker", "card-2")
    peers.answer("asker", request)
    inbox = peers.topics.consume(
        inbox_topic(peers.name("reviewer")),
        until=lambda rs: any(r.key == f"{peers.name('asker')}/card-2" for r in rs),
        timeout=30,
    )
    [record] = [r for r in inbox if r.key == f"{peers.name('asker')}/card-2"]
    message = record.value["message"]
    assert message["role"] == "ROLE_USER" and message["contextId"] == record.key
    assert message["parts"] == [{"text": f"please review {request}"}]
    assert record.header("a2a-version") == "1.0"
    assert record.header("a2a-message-id") == message["messageId"]
    assert record.header("a2a-reply-to") == f"{peers.prefix}-callers.events"
    assert record.header("a2a-caller") == peers.name("asker")
    assert (record.header("traceparent") or "").startswith("00-")


def test_a_caller_the_peer_does_not_accept_gets_a_rejection_as_the_tool_result(peers: Peers):
    request = peers.ask("outsider", "card-3")
    out = peers.answer("outsider", request)
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"  # the task goes on with the refusal
    assert out["answer"] == (
        f"agent {peers.name('reviewer')} rejected the request: agent {peers.name('reviewer')} "
        f"does not accept requests from {peers.name('outsider')}"
    )
    rejected = peers.events(
        "reviewers",
        until=lambda rs: any(r.value.get("kind") == "a2a.rejected" for r in rs),
    )
    [event] = [r.value for r in rejected if r.value.get("kind") == "a2a.rejected"]
    assert event["caller"] == peers.name("outsider")


def test_a_peer_that_does_not_answer_in_time_gives_a_timeout_result(peers: Peers):
    request = peers.ask("ghostly", "card-4")
    out = peers.answer("ghostly", request)
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["answer"] == f"agent {peers.name('ghost')} did not answer within 3s"
