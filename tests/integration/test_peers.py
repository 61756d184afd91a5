"""Agents in two jobs delegating to each other over Kafka (A2A 1.0 through inbox topics).

One job hosts the agents that ask (``asker``, ``outsider``, ``ghostly``), another the agent
they ask (``reviewer``, which accepts only ``asker``). Everything is real: Kafka, two Flink
MiniClusters, the model simulator over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flink_agents.a2a import inbox_topic
from flink_agents.a2a._registry import read_cards
from flink_agents.testing import (
    ChatRequest,
    ModelServer,
    Reply,
    ToolCall,
    first_line,
    stop_process,
)
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import TopicClient
from tests.support import eventually, java_partition

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))


def script(req: ChatRequest) -> Reply:
    role = req.model
    if role == "reviewer":
        return Reply.json({"verdict": "approved", "seen": req.last_user_text or ""})
    if role == "sql-reviewer":
        return Reply.text(f"sql verdict on: {req.last_user_text}")
    if not req.tool_results:
        [peer] = req.tool_names
        payload = json.loads(req.last_user_text or "{}")
        return Reply.tool_calls([ToolCall(peer, {"message": f"please review {payload['id']}"})])
    return Reply.json({"answer": req.tool_results[0].content})


class Peers:
    def __init__(self, topics: TopicClient, prefix: str, sim: ModelServer, remote: str) -> None:
        self.topics, self.prefix, self.sim, self.remote_url = topics, prefix, sim, remote
        self.jobs: list[JobProcess] = []
        self._sent = 0

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def ask(self, role: str, key: str) -> str:
        self._sent += 1
        request = {"id": f"{role}-{self._sent}", "k": key}
        self.topics.produce(f"{self.prefix}.requests.{role}", [request])
        return request["id"]

    def answer(self, role: str, request_id: str, timeout: float = 600) -> dict[str, Any]:
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

    def events(self, app: str, until: Any, timeout: float = 30) -> list[dict[str, Any]]:
        return self.topics.events(f"{self.prefix}-{app}.events", until=until, timeout=timeout)


@pytest.fixture(scope="module")
def peers(
    topics: TopicClient, job_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    prefix = topics.unique("a2a")
    roles = ("asker", "outsider", "ghostly", "remoter", "sql-caller")
    topics.create(*[f"{prefix}.requests.{role}" for role in roles])
    # Several partitions where other jobs read what an agent writes (the reviewer's inbox,
    # the callers' reply topic), so the tests see which partition each record went to.
    topics.create(inbox_topic(f"{prefix}-reviewer"), f"{prefix}-callers.events", partitions=4)
    logs = tmp_path_factory.mktemp("peers")
    remote, remote_url = _remote_agent(logs / "remote.log")
    with ModelServer(script) as sim:
        env = {**job_env, "PEERS_PREFIX": prefix, "MODEL_URL": sim.base_url}
        env["REMOTE_URL"] = remote_url
        fixture = Peers(topics, prefix, sim, remote_url)
        try:
            for side in ("reviewers", "callers"):
                job = JobProcess(ROOT / "tests/jobs/peers.py", [side], env, logs / f"{side}.log")
                fixture.jobs.append(job.start())
                if side == "reviewers":
                    # The callers read the reviewer's card when they start: publish it first.
                    eventually(
                        lambda: fixture.name("reviewer") in read_cards(topics.bootstrap_servers),
                        "the reviewers job published its card",
                        timeout=300,
                    )
            yield fixture
        finally:
            for job in fixture.jobs:
                job.stop()
            stop_process(remote)


def _remote_agent(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the remote A2A agent (an a2a-sdk server); return it and its URL."""
    command = [sys.executable, "-m", "tests.a2a_servers.verdict_server", "--port", "0"]
    with log.open("ab") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr)
    try:
        line = first_line(process, 30, log)
    except BaseException:
        stop_process(process)
        raise
    return process, line.rsplit(" ", 1)[1]


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
    [first, *_] = [r.chat for r in peers.sim.requests if r.body.get("model") == "asker"]
    [tool] = first.tools or []
    assert tool["function"]["name"] == peers.name("reviewer")
    assert "Gives a verdict on a request." in tool["function"]["description"]  # from its card
    task = out["task"]["id"]
    logged = peers.events(
        "callers",
        until=lambda es: any(
            e.get("task_id") == task and e.get("kind") == "task.completed" for e in es
        ),
    )
    kinds = Counter(
        e["kind"] for e in logged if e.get("task_id") == task or e["kind"] == "a2a.reply"
    )
    assert (kinds["a2a.request"], kinds["a2a.answered"]) == (1, 1), kinds
    assert kinds["a2a.reply"] >= 1, kinds  # answers are written at least once, applied once


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
    assert record.partition == java_partition(record.key, 4)  # as a Java producer puts it
    # The reviewer's answer: in the reply topic the request named, keyed and partitioned
    # like the conversation, with its kind and correlation id.
    answers = peers.topics.consume(
        f"{peers.prefix}-callers.events",
        until=lambda rs: any(r.header("a2a-correlation-id") == message["messageId"] for r in rs),
        timeout=30,
    )
    [answer, *_] = [r for r in answers if r.header("a2a-correlation-id") == message["messageId"]]
    assert answer.header("fa-kind") == "a2a.reply" and answer.key == record.key
    assert answer.partition == java_partition(record.key, 4)


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
        until=lambda es: any(e.get("kind") == "a2a.rejected" for e in es),
    )
    [event] = [e for e in rejected if e.get("kind") == "a2a.rejected"]
    assert event["caller"] == peers.name("outsider")


def test_a_peer_that_does_not_answer_in_time_gives_a_timeout_result(peers: Peers):
    request = peers.ask("ghostly", "card-4")
    out = peers.answer("ghostly", request)
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["answer"] == f"agent {peers.name('ghost')} did not answer within 3s"


def test_agents_list_and_show_read_the_published_cards(peers: Peers, job_env: dict[str, str]):
    cli = [str(Path(sys.executable).with_name("flink-agents"))]
    listed = subprocess.run([*cli, "agents", "list"], env=job_env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(peers.name("reviewer"))]
    assert inbox_topic(peers.name("reviewer")) in line and "Gives a verdict" in line
    shown = subprocess.run(
        [*cli, "agents", "show", peers.name("reviewer")],
        env=job_env,
        capture_output=True,
        text=True,
    )
    card = json.loads(shown.stdout)
    assert card["supportedInterfaces"][0]["protocolBinding"] == "urn:flink-agents:a2a:kafka:1"
    missing = subprocess.run(
        [*cli, "agents", "show", "no-such-agent"], env=job_env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and "no card for agent 'no-such-agent'" in missing.stderr


def test_trace_shows_the_peers_task_inside_the_delegation(peers: Peers, job_env: dict[str, str]):
    request = peers.ask("asker", "card-5")
    peers.answer("asker", request)
    cli = str(Path(sys.executable).with_name("flink-agents"))
    conversation = f"{peers.name('asker')}/card-5"
    done = subprocess.run(
        [cli, "trace", f"{peers.prefix}-callers", conversation, "--width", "400"],
        env=job_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    asked = next(i for i, ln in enumerate(lines) if " a2a.request " in ln)
    answered = next(i for i, ln in enumerate(lines) if " a2a.answered " in ln)
    peer_lines = [ln for ln in lines[asked:answered] if "task.accepted" in ln]
    assert len(peer_lines) == 1 and "please review" in peer_lines[0], done.stdout
    assert any(" a2a.reply " in ln and "TASK_STATE_COMPLETED" in ln for ln in lines), lines


def test_a_remote_a2a_agent_over_http_is_a_peer_too(peers: Peers):
    request = peers.ask("remoter", "card-6")
    out = peers.answer("remoter", request)
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["answer"] == f"remote verdict on: please review {request}"
    [first, *_] = [r.chat for r in peers.sim.requests if r.body.get("model") == "remoter"]
    [tool] = first.tools or []
    assert tool["function"]["name"].startswith("a2a-127-0-0-1-")
    assert "remote-verdicts: Gives verdicts from outside Flink." in tool["function"]["description"]


SQL_ASKERS = """
CREATE TABLE asks (id STRING, k STRING) WITH ('topic' = '{prefix}.requests.sql');
CREATE TABLE sql_answers (id STRING, agent STRING, status STRING, answer STRING)
  WITH ('topic' = '{prefix}.sql-answers');
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL asking WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                          'openai.model_version' = 'sql-asker');
CREATE CONNECTION reviewer WITH ('type' = 'a2a', 'endpoint' = '{prefix}-reviewer');
CREATE CONNECTION remote WITH ('type' = 'a2a', 'endpoint' = '{remote_url}');
CREATE TOOL review USING CONNECTION reviewer WITH ('type' = 'a2a', 'request_timeout' = '60');
CREATE TOOL remote_review USING CONNECTION remote WITH ('type' = 'a2a');
CREATE AGENT `{prefix}-sql-asker` USING MODEL asking USING PROMPT 'Ask for a review.'
  USING TOOLS review WITH ({options});
CREATE AGENT `{prefix}-sql-remoter` USING MODEL asking USING PROMPT 'Ask for a review.'
  USING TOOLS remote_review WITH ({options});
INSERT INTO sql_answers
SELECT a.id, 'asker', r.status, r.response FROM asks AS a,
  LATERAL TABLE(AI_RUN_AGENT('{prefix}-sql-asker', JSON_OBJECT(KEY 'id' VALUE a.id), a.id,
                             MAP['memory.key', a.k])) AS r(status, response);
INSERT INTO sql_answers
SELECT a.id, 'remoter', r.status, r.response FROM asks AS a,
  LATERAL TABLE(AI_RUN_AGENT('{prefix}-sql-remoter', JSON_OBJECT(KEY 'id' VALUE a.id), a.id,
                             MAP['memory.key', a.k])) AS r(status, response);
"""
ANSWER_SCHEMA = '{"type": "object", "properties": {"answer": {"type": "string"}}}'


def test_a_sql_agent_asks_a_python_agent_by_name_and_a_remote_agent_by_url(
    peers: Peers, job_env: dict[str, str], tmp_path: Path
):
    options = (
        f"'output.schema' = '{ANSWER_SCHEMA}', 'call_timeout' = '5s', "
        "'max_consecutive_failures' = '1'"
    )
    file = tmp_path / "askers.sql"
    file.write_text(
        SQL_ASKERS.format(
            prefix=peers.prefix,
            model_url=peers.sim.base_url,
            remote_url=peers.remote_url,
            options=options,
        )
    )
    app = f"{peers.prefix}-sql"
    peers.topics.create(f"{peers.prefix}.requests.sql", f"{peers.prefix}.sql-answers")
    job = JobProcess(
        CLI,
        ["--home", str(tmp_path / "home"), "sql", "run", str(file), "--name", app],
        job_env,
        tmp_path / "sql.log",
    )
    try:
        job.start()
        peers.topics.produce(f"{peers.prefix}.requests.sql", [{"id": "sql-1", "k": "card-7"}])
        got = peers.topics.consume(
            f"{peers.prefix}.sql-answers",
            until=lambda rs: {r.value["agent"] for r in rs} == {"asker", "remoter"},
            timeout=600,
        )
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{job.tail()}") from None
    finally:
        job.stop()
    assert Counter(r.value["agent"] for r in got) == {"asker": 1, "remoter": 1}
    answers = {r.value["agent"]: r.value for r in got}
    assert {a["status"] for a in answers.values()} == {"TASK_STATE_COMPLETED"}
    # By name: the Python reviewer of the other job answered over Kafka.
    verdict = json.loads(json.loads(answers["asker"]["answer"])["answer"])
    assert verdict == {"verdict": "approved", "seen": "please review sql-1"}
    # By URL: the remote A2A agent answered over HTTP.
    remote = json.loads(answers["remoter"]["answer"])["answer"]
    assert remote == "remote verdict on: please review sql-1"
    # The request went to the reviewer's inbox from the SQL agent, answer to the SQL job.
    context = f"{peers.name('sql-asker')}/card-7"
    inbox = peers.topics.consume(
        inbox_topic(peers.name("reviewer")),
        until=lambda rs: any(r.key == context for r in rs),
        timeout=30,
    )
    [record] = [r for r in inbox if r.key == context]
    assert record.header("a2a-caller") == peers.name("sql-asker")
    assert record.header("a2a-reply-to") == f"{app}.events"


SQL_REVIEWER = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL reviewing WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                             'openai.model_version' = 'sql-reviewer');
CREATE AGENT `{prefix}-sql-reviewer` USING MODEL reviewing USING PROMPT 'Review the request.'
  COMMENT 'Reviews requests, defined in SQL.'
  WITH ('a2a.callers' = '{prefix}-sql-caller', 'call_timeout' = '5s');
"""


def test_a_python_agent_asks_a_sql_agent_that_no_statement_calls(
    peers: Peers, job_env: dict[str, str], tmp_path: Path
):
    file = tmp_path / "reviewer.sql"
    file.write_text(SQL_REVIEWER.format(prefix=peers.prefix, model_url=peers.sim.base_url))
    app, reviewer = f"{peers.prefix}-sql-served", peers.name("sql-reviewer")
    job = JobProcess(
        CLI,
        ["--home", str(tmp_path / "home"), "sql", "run", str(file), "--name", app],
        job_env,
        tmp_path / "sql-served.log",
    )
    try:
        job.start()
        eventually(
            lambda: reviewer in read_cards(peers.topics.bootstrap_servers),
            "the SQL job published its agent's card",
            timeout=300,
        )
        asked = [peers.ask("sql-caller", f"card-{n}") for n in (8, 9, 10)]
        got = peers.topics.consume(
            f"{peers.prefix}.answers",
            until=lambda rs: set(asked) <= {r.value.get("id") for r in rs},
            timeout=600,
        )
        outputs = peers.topics.consume(
            f"{app}.{reviewer}.responses", until=lambda rs: len(rs) >= len(asked), timeout=60
        )
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{job.tail()}") from None
    finally:
        job.stop()
    mine = [r.value for r in got if r.value.get("id") in asked]
    assert Counter(a["id"] for a in mine) == dict.fromkeys(asked, 1)  # one answer per request
    for answer in mine:
        assert answer["task"]["state"] == "TASK_STATE_COMPLETED"
        assert answer["answer"] == f"sql verdict on: please review {answer['id']}"
    # The SQL agent ran each request as its own task, once, and its card says what it is.
    assert sorted(r.value["text"] for r in outputs) == sorted(
        f"sql verdict on: please review {request}" for request in asked
    )
    card = read_cards(peers.topics.bootstrap_servers)[reviewer]
    assert card.description == "Reviews requests, defined in SQL."
