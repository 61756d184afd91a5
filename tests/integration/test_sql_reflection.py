"""A reflection agent (``USING AGENTS drafter, critic``) from a SQL file, run by
``flink-agents sql run`` on a MiniCluster with the model simulator: the critic sends the
first draft back and accepts the second, and every turn is in the audit log."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents.testing import ChatRequest, JobProcess, ModelServer, Reply, TopicClient

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("flink-agents"))
CRITIC = "Accept only replies that apologise."
REVISION = "A reviewer sent the draft back:"

FILE = """
CREATE TABLE complaints (id STRING, complaint STRING) WITH ('topic' = '{prefix}.complaints');
CREATE TABLE replies (id STRING, status STRING, reply STRING) WITH ('topic' = '{prefix}.replies');
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                        'openai.model_version' = 'writer');
CREATE AGENT drafter USING MODEL chat USING PROMPT 'Write a reply to the customer.';
CREATE AGENT critic USING MODEL chat USING PROMPT '{critic}';
CREATE AGENT polished USING AGENTS drafter, critic
  WITH ('max_iterations' = '3', 'call_timeout' = '5s', 'max_consecutive_failures' = '1');
INSERT INTO replies
SELECT c.id, r.status, r.response
FROM complaints AS c,
     LATERAL TABLE(AI_RUN_AGENT('polished', c.complaint, c.id)) AS r(status, response);
"""


def script(req: ChatRequest) -> Reply:
    """The drafter numbers its drafts; the critic sends draft 1 back and accepts draft 2."""
    if (req.system_text or "").startswith(CRITIC):
        draft = int((req.last_user_text or "").rsplit("draft ", 1)[1])
        if draft >= 2:
            return Reply.json({"accept": True})
        return Reply.json({"accept": False, "feedback": "apologise first"})
    revisions = [m for m in req.messages if str(m.get("content", "")).startswith(REVISION)]
    return Reply.text(f"draft {len(revisions) + 1}")


def test_a_reflection_agent_in_sql_accepts_the_second_draft(
    topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    prefix = topics.unique("sql-reflect")
    app = f"{prefix}-job"
    topics.create(f"{prefix}.complaints", f"{prefix}.replies")
    complaints = {"c1": "late parcel", "c2": "broken mug"}
    with ModelServer(script) as sim:
        file = tmp_path / "reflect.sql"
        file.write_text(FILE.format(prefix=prefix, model_url=sim.base_url, critic=CRITIC))
        job = JobProcess(
            CLI,
            ["--home", str(tmp_path / "home"), "sql", "run", str(file), "--name", app],
            job_env,
            tmp_path / "reflect.log",
        )
        job.start()
        try:
            topics.produce(
                f"{prefix}.complaints", [{"id": i, "complaint": c} for i, c in complaints.items()]
            )
            got = topics.consume(
                f"{prefix}.replies",
                until=lambda rs: set(complaints) <= {r.value["id"] for r in rs},
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
    assert Counter(r.value["id"] for r in got) == {"c1": 1, "c2": 1}  # one reply per complaint
    for reply in got:
        assert (reply.value["status"], reply.value["reply"]) == ("TASK_STATE_COMPLETED", "draft 2")
    assert [o.value["task"]["reflection"] for o in outputs] == [{"drafts": 2, "accepted": True}] * 2
    # The audit log: per task a draft, a verdict, a revision and a verdict, the critic's
    # requests with the critic's prompt.
    for task in {e["task_id"] for e in events if e.get("kind") == "task.completed"}:
        requests = [
            e for e in events if e.get("task_id") == task and e.get("kind") == "model.request"
        ]
        digests = [r["system_digest"] for r in requests]
        assert len(digests) == 4 and digests[0] == digests[2] != digests[1] == digests[3]
        assert requests[1]["messages"][0]["content"].endswith("Draft:\ndraft 1")
    critic_calls = [r for r in sim.requests if (r.chat.system_text or "").startswith(CRITIC)]
    assert len(critic_calls) == 4
