"""The A2A gateway in front of an agent running in Flink: any A2A 1.0 client reaches it.

Real parts throughout: Kafka, a Flink MiniCluster job hosting the agent, the model
simulator over HTTP, the gateway as the ``flink-agents a2a serve`` process, the official
``a2a-sdk`` client and plain HTTP JSON-RPC.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flink_agents.local import free_port
from flink_agents.testing import (
    ChatRequest,
    JobProcess,
    ModelServer,
    Reply,
    ToolCall,
    TopicClient,
    stop_process,
)
from tests.support import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-" + uuid.uuid4().hex
V1 = {"A2A-Version": "1.0", "Authorization": f"Bearer {TOKEN}"}


QUESTION = "Which account should I look at?"


def script(req: ChatRequest) -> Reply:
    text = req.last_user_text or ""
    if req.model == "triage":  # asks the echo agent over Kafka, then passes its answer on
        if req.tool_results:
            return Reply.text(f"verdict: {req.tool_results[0].content}")
        [peer] = req.tool_names
        case = json.loads(text)["id"]
        return Reply.tool_calls([ToolCall(peer, {"message": f"ask me about {case}"})])
    if "ask me" in text and req.tool_results:
        return Reply.text(f"thanks: {req.tool_results[0].content}")
    if "ask me" in text:
        return Reply.tool_calls([ToolCall("ask_for_input", {"question": QUESTION})])
    if "hold" in text:
        return Reply.text(f"echo: {text}", delay_ms=10_000)
    if "slow" in text:
        return Reply.text("too late", delay_ms=90_000)
    if "medium" in text:
        return Reply.text(f"echo: {text}", delay_ms=5_000)
    return Reply.text(f"echo: {text}")


class Gateway:
    def __init__(self, topics: TopicClient, prefix: str, env: dict[str, str], logs: Path) -> None:
        self.topics, self.prefix, self.env, self.logs = topics, prefix, env, logs
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def agent(self) -> str:
        return f"{self.prefix}-echo"

    def start(self, timeout: float = 120, *, only: str | None = None) -> str:
        """Start a gateway process; return its agent URL once its card answers (the job
        publishes the card when it is built, which takes minutes on a loaded machine).

        ``only``: the gateway serves only that agent (``gateway.agents``), and the URL is
        returned once the gateway answers at all.
        """
        port = free_port()
        command = [
            str(Path(sys.executable).parent / "flink-agents"),
            "a2a",
            "serve",
            "--token-env",
            "GATEWAY_TOKEN",
            "--max-request-bytes",
            "20000",
            "--wait",
            "120",
        ]
        log = self.logs / f"gateway-{len(self.processes)}.log"
        with log.open("ab") as out:
            env = {**self.env, "FLINK_AGENTS_GATEWAY__PORT": str(port)}  # a setting, not a flag
            if only is not None:
                env["FLINK_AGENTS_GATEWAY__AGENTS"] = only
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}/agents/{self.agent}"

        def card_served() -> bool:
            assert process.poll() is None, log.read_text()
            ready = f"{url}/.well-known/agent-card.json" if only is None else url.rsplit("/", 1)[0]
            try:
                return httpx.get(ready, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(card_served, "the gateway serves the agent's card", timeout=timeout)
        return url

    def warm_up(self, url: str) -> None:
        """Return once the job answers a first message (the MiniCluster takes a while)."""
        params = {"message": message("warm up"), "configuration": {"returnImmediately": True}}
        task = self.rpc(url, "SendMessage", params).json()["result"]["task"]["id"]

        def completed() -> bool:
            got = self.rpc(url, "GetTask", {"id": task}).json()["result"]
            return bool(got["status"]["state"] == "TASK_STATE_COMPLETED")

        eventually(completed, "the job answered a first message", timeout=300)

    def rpc(
        self, url: str, method: str, params: dict[str, Any], headers: dict[str, str] = V1
    ) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return httpx.post(url, json=body, headers=headers, timeout=90)


@pytest.fixture(scope="module")
def gateway(
    topics: TopicClient, job_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, str]]:
    prefix = topics.unique("gw")
    logs = tmp_path_factory.mktemp("gateway")
    with ModelServer(script) as sim:
        env = {**job_env, "GATEWAY_PREFIX": prefix, "MODEL_URL": sim.base_url}
        env["GATEWAY_TOKEN"] = TOKEN
        job = JobProcess(ROOT / "tests/jobs/gateway.py", [], env, logs / "job.log").start()
        fixture = Gateway(topics, prefix, env, logs)
        try:
            url = fixture.start(timeout=600)
            fixture.warm_up(url)
            yield fixture, url
        finally:
            for process in fixture.processes:
                stop_process(process)
            job.stop()


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}], **extra}


async def _sdk_send(url: str, text: str, streaming: bool, **ids: str) -> list[Any]:
    from a2a.client import ClientConfig, create_client
    from a2a.types import Message, Part, Role, SendMessageRequest

    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    client = await create_client(
        url, client_config=ClientConfig(streaming=streaming, httpx_client=http)
    )
    request = SendMessageRequest(
        message=Message(
            message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)], **ids
        )
    )
    try:
        return [event async for event in client.send_message(request)]
    finally:
        await client.close()
        await http.aclose()


def test_the_a2a_sdk_client_gets_a_completed_task_with_the_agents_answer(gateway):
    _, url = gateway
    [last] = asyncio.run(_sdk_send(url, "hello", streaming=False))
    task = last.task
    assert task.status.state == 3  # TASK_STATE_COMPLETED
    assert [p.text for a in task.artifacts for p in a.parts] == ["echo: hello"]
    assert task.history[0].parts[0].text == "hello"


def test_streaming_gives_the_task_then_its_updates_ending_completed(gateway):
    from a2a.types import TaskState

    _, url = gateway
    events = asyncio.run(_sdk_send(url, "stream me", streaming=True))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task" and kinds[-1] == "status_update", kinds
    assert events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    states = [e.status_update.status.state for e in events if e.HasField("status_update")]
    assert states == [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED], states
    [artifact] = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
    assert artifact.parts[0].text == "echo: stream me"
    assert {e.status_update.task_id for e in events[1:] if e.HasField("status_update")} == {
        events[0].task.id
    }


def test_plain_json_rpc_send_get_and_list(gateway):
    gw, url = gateway
    context = uuid.uuid4().hex
    sent = gw.rpc(
        url,
        "SendMessage",
        {
            "message": message("plain", contextId=context),
            "configuration": {"returnImmediately": True},
        },
    ).json()
    task = sent["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED" and task["contextId"] == context

    def state() -> str:
        got = gw.rpc(url, "GetTask", {"id": task["id"]}).json()["result"]
        return str(got["status"]["state"])

    eventually(lambda: state() == "TASK_STATE_COMPLETED", "the task completed", timeout=60)
    got = gw.rpc(url, "GetTask", {"id": task["id"], "historyLength": 0}).json()["result"]
    assert got["artifacts"][0]["parts"] == [{"text": "echo: plain"}] and "history" not in got
    listed = gw.rpc(url, "ListTasks", {"contextId": context}).json()["result"]
    assert [t["id"] for t in listed["tasks"]] == [task["id"]] and listed["totalSize"] == 1


def test_list_tasks_pages_newest_first(gateway):
    gw, url = gateway
    context = uuid.uuid4().hex
    ids = []
    for n in range(3):
        sent = gw.rpc(url, "SendMessage", {"message": message(f"page {n}", contextId=context)})
        ids.append(sent.json()["result"]["task"]["id"])
    first = gw.rpc(url, "ListTasks", {"contextId": context, "pageSize": 2}).json()["result"]
    second = gw.rpc(
        url, "ListTasks", {"contextId": context, "pageSize": 2, "pageToken": first["nextPageToken"]}
    ).json()["result"]
    assert [t["id"] for t in first["tasks"] + second["tasks"]] == ids[::-1]
    assert "nextPageToken" not in second or second["nextPageToken"] == ""


def test_cancel_reaches_the_task_in_flink(gateway):
    gw, url = gateway
    sent = gw.rpc(
        url,
        "SendMessage",
        {"message": message("slow one"), "configuration": {"returnImmediately": True}},
    ).json()
    task_id = sent["result"]["task"]["id"]
    events = f"{gw.prefix}-app.events"
    # Cancel once the model call is under way in Flink.
    gw.topics.consume(
        events,
        until=lambda rs: any(
            r.value.get("task_id") == task_id and r.value.get("kind") == "model.request" for r in rs
        ),
        timeout=60,
    )
    cancelled = gw.rpc(url, "CancelTask", {"id": task_id}).json()
    assert cancelled["result"]["status"]["state"] == "TASK_STATE_CANCELED", cancelled
    logged = gw.topics.consume(
        events,
        until=lambda rs: any(
            r.value.get("task_id") == task_id and r.value.get("kind") == "task.canceled" for r in rs
        ),
        timeout=30,
    )
    kinds = [r.value.get("kind") for r in logged if r.value.get("task_id") == task_id]
    assert kinds.count("task.canceled") == 1 and "model.response" not in kinds, kinds
    again = gw.rpc(url, "CancelTask", {"id": task_id}).json()
    assert again["error"]["code"] == -32002  # TaskNotCancelableError


def test_refusals_are_clear_json_rpc_errors(gateway):
    gw, url = gateway
    params = {"message": message("x")}
    no_token = gw.rpc(url, "SendMessage", params, headers={"A2A-Version": "1.0"})
    assert no_token.status_code == 401 and "bearer token" in no_token.json()["error"]["message"]
    wrong = gw.rpc(url, "SendMessage", params, headers={**V1, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    old = gw.rpc(url, "SendMessage", params, headers={"Authorization": V1["Authorization"]})
    assert old.json()["error"]["code"] == -32009  # no A2A-Version: 0.3, not supported
    big = gw.rpc(url, "SendMessage", {"message": message("x" * 30_000)})
    assert big.status_code == 413 and "20000 bytes" in big.json()["error"]["message"]
    unknown = gw.rpc(url, "GetTask", {"id": "no-such-task"}).json()
    assert unknown["error"]["code"] == -32001
    method = gw.rpc(url, "NoSuchMethod", {}).json()
    assert method["error"]["code"] == -32601
    push = gw.rpc(
        url, "CreateTaskPushNotificationConfig", {"taskId": "t", "url": "http://x"}
    ).json()
    assert push["error"]["code"] == -32003
    card = httpx.get(f"{url}/.well-known/agent-card.json").json()
    assert card["supportedInterfaces"][0] == {
        "url": url,
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    assert card["capabilities"]["streaming"] is True and "bearer" in card["securitySchemes"]
    nobody = httpx.get(url.rsplit("/", 1)[0] + "/nobody/.well-known/agent-card.json")
    assert nobody.status_code == 404 and gw.agent in nobody.json()["error"]["message"]


def _kinds(gw: Gateway, task_id: str, until: str) -> list[str]:
    """The kinds the agent logged for a task, once ``until`` is among them."""
    logged = gw.topics.consume(
        f"{gw.prefix}-app.events",
        until=lambda rs: any(
            r.value.get("task_id") == task_id and r.value.get("kind") == until for r in rs
        ),
        timeout=60,
    )
    return [str(r.value.get("kind")) for r in logged if r.value.get("task_id") == task_id]


def test_a_task_asks_for_input_and_the_answer_by_task_id_resumes_it(gateway):
    from a2a.types import TaskState

    gw, url = gateway
    [asked] = asyncio.run(_sdk_send(url, "ask me about card-7", streaming=False))
    task = asked.task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, task
    assert task.status.message.parts[0].text == QUESTION
    got = gw.rpc(url, "GetTask", {"id": task.id}).json()["result"]
    assert got["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert got["status"]["message"]["parts"] == [{"text": QUESTION}]

    events = asyncio.run(
        _sdk_send(url, "account 42", streaming=True, task_id=task.id, context_id=task.context_id)
    )
    states = [e.status_update.status.state for e in events if e.HasField("status_update")]
    assert events[0].task.id == task.id and states[-1] == TaskState.TASK_STATE_COMPLETED, events
    [artifact] = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
    assert artifact.parts[0].text == "thanks: account 42"
    kinds = _kinds(gw, task.id, "task.completed")
    assert [k for k in kinds if k.startswith("task.")] == [
        "task.accepted",
        "task.input_required",
        "task.resumed",
        "task.completed",
    ], kinds

    again = gw.rpc(
        url, "SendMessage", {"message": message("more", taskId=task.id, contextId=task.context_id)}
    ).json()
    assert again["error"]["code"] == -32004 and "already ended" in again["error"]["message"]
    unknown = gw.rpc(url, "SendMessage", {"message": message("x", taskId="no-such-task")}).json()
    assert unknown["error"]["code"] == -32001


def test_a_stream_shows_working_and_the_question_then_ends_input_required(gateway):
    from a2a.types import TaskState

    _, url = gateway
    events = asyncio.run(_sdk_send(url, "ask me, streaming", streaming=True))
    updates = [e.status_update.status for e in events if e.HasField("status_update")]
    assert events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert [u.state for u in updates] == [
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_INPUT_REQUIRED,
    ], updates
    assert updates[1].message.parts[0].text == "step 1: calling ask_for_input"
    assert updates[2].message.parts[0].text == QUESTION


def test_cancel_of_a_task_queued_behind_another_leaves_the_running_one_alone(gateway):
    gw, url = gateway
    context = uuid.uuid4().hex
    first, second = (
        gw.rpc(
            url,
            "SendMessage",
            {
                "message": message(text, contextId=context),
                "configuration": {"returnImmediately": True},
            },
        ).json()["result"]["task"]["id"]
        for text in ("hold one", "queued one")
    )
    _kinds(gw, first, "model.request")  # the first runs; the second waits behind it
    cancelled = gw.rpc(url, "CancelTask", {"id": second}).json()
    assert cancelled["result"]["status"]["state"] == "TASK_STATE_CANCELED", cancelled

    def completed() -> bool:
        got = gw.rpc(url, "GetTask", {"id": first}).json()["result"]
        return bool(got["status"]["state"] == "TASK_STATE_COMPLETED")

    eventually(completed, "the running task completed", timeout=60)
    got = gw.rpc(url, "GetTask", {"id": first}).json()["result"]
    assert got["artifacts"][0]["parts"] == [{"text": "echo: hold one"}]
    assert _kinds(gw, second, "task.canceled") == ["task.canceled"]
    kinds = _kinds(gw, first, "task.completed")
    assert kinds.count("task.completed") == 1 and "task.canceled" not in kinds, kinds


def test_a_gateway_serves_only_the_agents_it_is_given(gateway):
    gw, _ = gateway
    other = gw.start(only="someone-else")
    assert httpx.get(other.rsplit("/", 1)[0]).json() == {"agents": []}
    card = httpx.get(f"{other}/.well-known/agent-card.json")
    assert (
        card.status_code == 404 and "not served by this gateway" in card.json()["error"]["message"]
    )
    sent = gw.rpc(other, "SendMessage", {"message": message("x")})
    assert sent.status_code == 404
    stop_process(gw.processes.pop())


def test_a_gateway_restarted_mid_task_answers_for_it_and_for_earlier_tasks(gateway):
    """Runs last: it kills the module's first gateway."""
    gw, url = gateway
    done = gw.rpc(url, "SendMessage", {"message": message("remember me")}).json()["result"]["task"]
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    params = {"message": message("medium one"), "configuration": {"returnImmediately": True}}
    pending = gw.rpc(url, "SendMessage", params).json()["result"]["task"]
    gw.processes[0].kill()  # no goodbye: all it knew must be in Kafka
    gw.processes[0].wait(30)
    other = gw.start()
    got = gw.rpc(other, "GetTask", {"id": done["id"]}).json()["result"]
    assert got["status"]["state"] == "TASK_STATE_COMPLETED"
    assert got["artifacts"] == done["artifacts"]

    def answered() -> bool:
        task = gw.rpc(other, "GetTask", {"id": pending["id"]}).json()["result"]
        return bool(task["status"]["state"] == "TASK_STATE_COMPLETED")

    eventually(answered, "the new gateway applied the answer to the pending task", timeout=60)
    task = gw.rpc(other, "GetTask", {"id": pending["id"]}).json()["result"]
    assert task["artifacts"][0]["parts"] == [{"text": "echo: medium one"}]


def test_a_task_another_agent_asked_for_is_shown_and_a_person_answers_it(gateway):
    """The demo's shape: triage asks the agent over Kafka; the gateway shows that task, a
    person answers its question there, and triage gets the answer as its peer's result."""
    gw, url = gateway
    case = f"case-{uuid.uuid4().hex[:6]}"
    gw.topics.produce(f"{gw.prefix}.cases", [{"id": case, "k": case}])

    found: dict[str, Any] = {}

    def question_shown() -> bool:
        listed = gw.rpc(url, "ListTasks", {"status": "TASK_STATE_INPUT_REQUIRED"}).json()
        for task in listed["result"].get("tasks", []):
            if task["history"][0]["parts"][0]["text"] == f"ask me about {case}":
                found.update(task)
        return bool(found)

    eventually(question_shown, "the gateway shows triage's task, asking", timeout=300)
    task = found
    assert task["metadata"]["requester"] == f"{gw.prefix}-triage"
    assert [p["text"] for p in task["status"]["message"]["parts"]] == [QUESTION]
    refused = gw.rpc(url, "CancelTask", {"id": task["id"]}).json()
    assert refused["error"]["code"] == -32002, refused
    assert f"asked for by {gw.prefix}-triage" in refused["error"]["message"]

    answer = message("account 9", taskId=task["id"], contextId=task["contextId"])
    gw.rpc(url, "SendMessage", {"message": answer, "configuration": {"returnImmediately": True}})

    verdicts = gw.topics.consume(
        f"{gw.prefix}.verdicts",
        until=lambda rs: any(r.value.get("id") == case for r in rs),
        timeout=300,
    )
    mine = [r.value for r in verdicts if r.value.get("id") == case]
    assert len(mine) == 1, mine  # one verdict: the question did not end triage's wait
    assert mine[0]["task"]["state"] == "TASK_STATE_COMPLETED", mine
    assert mine[0]["text"] == "verdict: thanks: account 9", mine

    def ended() -> bool:
        found.update(gw.rpc(url, "GetTask", {"id": task["id"]}).json()["result"])
        return bool(found["status"]["state"] == "TASK_STATE_COMPLETED")

    eventually(ended, "the gateway shows the task completed", timeout=60)
    assert found["artifacts"][0]["parts"] == [{"text": "thanks: account 9"}]
