"""The SQL shell serves an agent that accepts A2A callers: a real ``flink-agents sql``
process driven on its stdin starts a job for the agent it creates, replaces it when the
agent is altered, stops it when the agent is dropped, and stops what is left when it exits.
A2A requests go to the agent's inbox over Kafka and each is answered exactly once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import IO

import pytest

from flink_agents.a2a import inbox_topic
from flink_agents.a2a._wire import request_record
from flink_agents.core import Delegation
from flink_agents.testing import ChatRequest, ModelServer, Reply, TopicClient
from tests.support import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))
CALLER = "shell-tester"

DEFINITIONS = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm');
CREATE AGENT {agent} USING MODEL chat USING PROMPT 'Review, first version.'
  WITH ('a2a.callers' = '{caller}', 'call_timeout' = '5s');
"""


def script(req: ChatRequest) -> Reply:
    """The answer names the agent's instructions and the request it read."""
    return Reply.text(f"{(req.system_text or '').splitlines()[0]} | {req.last_user_text}")


class ShellProcess:
    """``flink-agents sql`` with statements written to its stdin and its output in a file."""

    def __init__(self, home: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [CLI, "--home", str(home), "sql"],
            stdin=subprocess.PIPE,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**env, "COLUMNS": "400"},
            cwd=ROOT,
        )

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def type(self, statements: str) -> None:
        self.stdin.write(statements.encode())
        self.stdin.flush()

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 60) -> re.Match[str]:
        """The first match of ``pattern`` in the output past offset ``after``."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            match = re.compile(pattern).search(self.output(), after)
            found[:] = [match] if match else []
            return bool(found)

        try:
            eventually(seen, f"the shell printed {pattern!r}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()[-3000:]}") from None
        return found[0]

    def quit(self, timeout: float = 120) -> int:
        self.stdin.close()
        code = self.process.wait(timeout)
        self._out.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._out.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _ask(topics: TopicClient, agent: str, reply_topic: str, message_id: str, text: str) -> None:
    delegation = Delegation(
        caller=CALLER,
        peer=agent,
        context_id=f"{CALLER}/{message_id}",
        message_id=message_id,
        text=text,
        chain=(CALLER,),
    )
    key, value, headers = request_record(delegation, reply_topic)
    topics.produce(inbox_topic(agent), [value], key=key, headers=headers)


def _answer_to(topics: TopicClient, agent: str, replies: str, message_id: str, text: str) -> str:
    """Ask ``agent`` over Kafka and return its one answer to ``message_id``."""
    _ask(topics, agent, replies, message_id, text)
    got = topics.consume(replies, until=lambda rs: bool(_answers(rs, message_id)), timeout=300)
    [answer] = _answers(got, message_id)
    return answer


def _answers(records: list, message_id: str) -> list[str]:  # type: ignore[type-arg]
    """The answer texts of the replies to ``message_id``."""
    out = []
    for record in records:
        if record.header("a2a-correlation-id") != message_id:
            continue
        value = record.value if isinstance(record.value, dict) else json.loads(record.value)
        task = value["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED", task
        out.append(json.dumps([p for a in task["artifacts"] for p in a["parts"]]))
    return out


def test_the_shell_serves_replaces_and_stops_an_agent_that_accepts_callers(
    topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    sql_name = f"reviewer_{uuid.uuid4().hex[:8]}"
    agent = sql_name.replace("_", "-")
    job = f"shell.serve.{agent}"
    replies = topics.unique("shell-replies")
    topics.create(inbox_topic(agent), replies)
    shell = ShellProcess(tmp_path / "home", job_env, tmp_path / "shell.log")
    try:
        with ModelServer(script) as sim:
            shell.type(DEFINITIONS.format(model_url=sim.base_url, agent=sql_name, caller=CALLER))
            first = shell.wait_for(
                rf"serving it in the background as job {re.escape(job)} "
                r"\(pid (\d+)\); log: (\S+)"
            )
            first_pid = int(first.group(1))
            assert Path(first.group(2)).parent == tmp_path / "home" / "sql"

            answer = _answer_to(topics, agent, replies, "m-1", "case one")
            assert "Review, first version. | case one" in answer
            # Every request read is committed before the job is replaced.
            eventually(
                lambda: topics.lag(f"flink-agents.{job}", inbox_topic(agent)) == 0,
                "the serving job committed its inbox offsets",
                timeout=60,
            )

            shell.type(f"ALTER AGENT {sql_name} SET PROMPT 'Review, second version.';\n")
            stopped = shell.wait_for(
                rf"stopped the job that serves agent {sql_name} "
                rf"\(pid {first_pid}\)",
                first.end(),
            )
            second = shell.wait_for(r"serving it in the background .*\(pid (\d+)\)", stopped.end())
            second_pid = int(second.group(1))
            assert _gone(first_pid) and second_pid != first_pid

            answer = _answer_to(topics, agent, replies, "m-2", "case two")
            assert "Review, second version. | case two" in answer
            eventually(
                lambda: topics.lag(f"flink-agents.{job}", inbox_topic(agent)) == 0,
                "the new job committed its inbox offsets",
                timeout=60,
            )

            shell.type(f"DROP AGENT {sql_name};\n")
            dropped = shell.wait_for(
                rf"stopped the job that serves agent {sql_name} "
                rf"\(pid {second_pid}\)",
                second.end(),
            )
            assert _gone(second_pid)

            # Created again, then the shell exits: it stops the job and says so.
            shell.type(
                DEFINITIONS.format(model_url=sim.base_url, agent=sql_name, caller=CALLER).split(
                    "\n", 3
                )[3]
            )
            third = shell.wait_for(r"serving it in the background .*\(pid (\d+)\)", dropped.end())
            third_pid = int(third.group(1))
            assert shell.quit() == 0
            shell.wait_for(
                rf"stopped the job that serves agent {sql_name} \(pid {third_pid}\)", third.end()
            )
            assert _gone(third_pid)
    finally:
        shell.kill()

    # Each request answered exactly once, across the replacement.
    records = topics.consume(replies, count=2, timeout=10)
    assert Counter(r.header("a2a-correlation-id") for r in records) == {"m-1": 1, "m-2": 1}
    assert topics.count(replies) == 2
