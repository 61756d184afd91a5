"""A reflection agent (``USING AGENTS drafter, critic``) from a SQL file, run by
``flink-agents sql run`` on a MiniCluster with two model simulators: the drafter computes a
credit with its ``USING FUNCTION`` tool and answers in its ``output.row``, the critic runs on
a model of its own, sends the first draft back and accepts the second, and every turn is in
the audit log."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents.testing import ChatRequest, JobProcess, ModelServer, Reply, ToolCall, TopicClient

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("flink-agents"))
REVISION = "A reviewer sent the draft back:"

FILE = """
CREATE TABLE complaints (id STRING, complaint STRING) WITH ('topic' = '{prefix}.complaints');
CREATE TABLE replies (id STRING, status STRING, reply STRING) WITH ('topic' = '{prefix}.replies');
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{writer_url}');
CREATE CONNECTION judge_llm WITH ('type' = 'openai', 'endpoint' = '{judge_url}');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                        'openai.model_version' = 'writer');
CREATE MODEL judge WITH ('provider' = 'openai', 'openai.connection' = 'judge_llm',
                         'openai.model_version' = 'judge');
CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;
CREATE TOOL doubler USING FUNCTION double_it WITH ('type' = 'function');
CREATE AGENT drafter USING MODEL chat USING PROMPT 'Reply to the customer; credit twice the price.'
  USING TOOLS doubler WITH ('output.row' = 'reply STRING NOT NULL, credit INT NOT NULL',
                            'max_iterations' = '3');
CREATE AGENT critic USING MODEL judge USING PROMPT 'Accept only replies that apologise.';
CREATE AGENT polished USING AGENTS drafter, critic
  WITH ('max_iterations' = '3', 'call_timeout' = '5s', 'max_consecutive_failures' = '1');
INSERT INTO replies
SELECT c.id, r.status, r.response
FROM complaints AS c,
     LATERAL TABLE(AI_RUN_AGENT('polished', c.complaint, c.id)) AS r(status, response);
"""


def writer(req: ChatRequest) -> Reply:
    """Doubles the price with the tool in each draft; apologises once sent back."""
    if not req.tool_results:
        price = int(next(m["content"] for m in req.messages if m.get("role") == "user"))
        return Reply.tool_calls([ToolCall("doubler", {"n": price})])
    revised = any(str(m.get("content", "")).startswith(REVISION) for m in req.messages)
    reply = "sorry, here is a credit" if revised else "here is a credit"
    return Reply.json({"reply": reply, "credit": int(req.tool_results[-1].content)})


def critic(req: ChatRequest) -> Reply:
    draft = json.loads((req.last_user_text or "").rsplit("Draft:\n", 1)[1])
    if draft["reply"].startswith("sorry"):
        return Reply.json({"accept": True})
    return Reply.json({"accept": False, "feedback": "apologise first"})


def chats(sim: ModelServer) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/chat/completions"))


def test_a_reflection_agent_in_sql_drafts_with_its_tool_and_is_judged_on_its_own_model(
    topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    prefix = topics.unique("sql-reflect")
    app = f"{prefix}-job"
    topics.create(f"{prefix}.complaints", f"{prefix}.replies")
    prices = {"c1": "12", "c2": "30"}
    with ModelServer(writer) as writes, ModelServer(critic) as judge:
        file = tmp_path / "reflect.sql"
        file.write_text(
            FILE.format(prefix=prefix, writer_url=writes.base_url, judge_url=judge.base_url)
        )
        job = JobProcess(
            CLI,
            ["--home", str(tmp_path / "home"), "sql", "run", str(file), "--name", app],
            job_env,
            tmp_path / "reflect.log",
        )
        job.start()
        try:
            topics.produce(
                f"{prefix}.complaints", [{"id": i, "complaint": p} for i, p in prices.items()]
            )
            got = topics.consume(
                f"{prefix}.replies",
                until=lambda rs: set(prices) <= {r.value["id"] for r in rs},
                timeout=600,
            )
            outputs = topics.consume(
                f"{app}.polished.responses", until=lambda rs: len(rs) >= 2, timeout=60
            )
            events = topics.events(
                f"{app}.events",
                until=lambda es: sum(e.get("kind") == "task.completed" for e in es) >= 2,
                timeout=60,
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{job.tail()}") from None
        finally:
            job.stop()
        calls = (chats(writes), chats(judge))
    assert Counter(r.value["id"] for r in got) == {"c1": 1, "c2": 1}  # one reply per complaint
    for reply in got:
        assert reply.value["status"] == "TASK_STATE_COMPLETED"
        credit = 2 * int(prices[reply.value["id"]])
        assert json.loads(reply.value["reply"]) == {
            "reply": "sorry, here is a credit",
            "credit": credit,
        }
    assert [o.value["task"]["reflection"] for o in outputs] == [{"drafts": 2, "accepted": True}] * 2
    # Per complaint: two drafts of a tool turn and an answer on the writer, two verdicts on
    # the judge.
    assert calls == (8, 4)
    # The audit log: each request names its model; the critic's offer no tools.
    for task in {e["task_id"] for e in events if e.get("kind") == "task.completed"}:
        requests = [
            e for e in events if e.get("task_id") == task and e.get("kind") == "model.request"
        ]
        assert [(r["model"].split("@")[0], r["tools"]) for r in requests] == [
            ("writer", ["doubler"]),
            ("writer", ["doubler"]),
            ("judge", []),
        ] * 2
        results = [e for e in events if e.get("task_id") == task and e.get("kind") == "tool.result"]
        assert len(results) == 2
