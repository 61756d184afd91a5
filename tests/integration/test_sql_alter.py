"""ALTER AGENT between two runs of the same SQL file: the catalog keeps the change, the second
run decides with the new prompt and tool, and it continues where the first run stopped."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents.sql import Catalog
from flink_agents.testing import (
    ChatRequest,
    JobProcess,
    ModelServer,
    Record,
    Reply,
    ToolCall,
    TopicClient,
)
from tests.support import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))

DEFINITIONS = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                        'openai.model_version' = 'helper');
CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;
CREATE TOOL doubler USING FUNCTION double_it WITH ('type' = 'function');
CREATE AGENT helper USING MODEL chat USING PROMPT 'Answer plainly.'
  WITH ('call_timeout' = '5s', 'max_consecutive_failures' = '1');
"""

JOB = """
CREATE TABLE questions (id STRING, n INT) WITH ('topic' = '{prefix}.questions');
CREATE TABLE answers (id STRING, status STRING, answer STRING) WITH ('topic' = '{prefix}.answers');
INSERT INTO answers
SELECT q.id, r.status, r.response
FROM questions AS q,
     LATERAL TABLE(AI_RUN_AGENT('helper', CAST(q.n AS STRING), q.id)) AS r(status, response);
"""

ALTER = """
ALTER AGENT helper SET PROMPT 'Answer in numbers.';
ALTER AGENT helper ADD TOOL doubler;
"""


def script(req: ChatRequest) -> Reply:
    """The answer names the instructions the model was given, and the tool's result when
    it was offered one."""
    if "doubler" in req.tool_names and not req.tool_results:
        return Reply.tool_calls([ToolCall("doubler", {"n": int(req.last_user_text or "0")})])
    said = req.tool_results[0].content if req.tool_results else "no tool"
    return Reply.text(f"{(req.system_text or '').splitlines()[0]} | {said}")


def test_an_altered_agent_decides_differently_when_the_file_runs_again(
    topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    prefix = topics.unique("sql-alter")
    app = f"{prefix}-job"
    topics.create(f"{prefix}.questions", f"{prefix}.answers")
    home = tmp_path / "home"
    cli = [CLI, "--home", str(home), "sql", "run"]
    with ModelServer(script) as sim:
        (tmp_path / "defs.sql").write_text(DEFINITIONS.format(model_url=sim.base_url))
        (tmp_path / "job.sql").write_text(JOB.format(prefix=prefix))
        (tmp_path / "alter.sql").write_text(ALTER)
        _sql(cli, tmp_path / "defs.sql", job_env)

        first = _run(cli, tmp_path, app, job_env, topics, prefix, {"q1": 3, "q2": 4})
        assert first == {
            "q1": "Answer plainly. | no tool",
            "q2": "Answer plainly. | no tool",
        }

        altered = _sql(cli, tmp_path / "alter.sql", job_env)
        assert altered.count("agent helper altered") == 2, altered
        entry = Catalog.in_home(home).get("agent", "helper")  # what the next run reads
        assert entry is not None
        assert (entry.prompt, entry.tools) == ("Answer in numbers.", ["doubler"])

        second = _run(cli, tmp_path, app, job_env, topics, prefix, {"q3": 5})
        assert second == {"q3": "Answer in numbers. | 10"}

    # The second run went on from the first one's offsets: no question answered twice.
    assert topics.count(f"{prefix}.answers") == 3
    answers = topics.consume(f"{prefix}.answers", count=3, timeout=10)
    assert Counter(r.value["id"] for r in answers) == {"q1": 1, "q2": 1, "q3": 1}


def _sql(cli: list[str], file: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*cli, str(file)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _run(
    cli: list[str],
    folder: Path,
    app: str,
    env: dict[str, str],
    topics: TopicClient,
    prefix: str,
    questions: dict[str, int],
) -> dict[str, str]:
    """Run job.sql until every question is answered and every stage committed its offsets;
    return the answers to these questions."""
    job = JobProcess(
        cli[0], [*cli[1:], str(folder / "job.sql"), "--name", app], env, folder / f"{app}.log"
    )
    job.start()
    try:
        topics.produce(f"{prefix}.questions", [{"id": i, "n": n} for i, n in questions.items()])
        got = topics.consume(
            f"{prefix}.answers",
            until=lambda rs: set(questions) <= {r.value["id"] for r in rs},
            timeout=600,
        )
        stages = [
            (f"flink-agents.{app}", f"{prefix}.questions"),
            (f"flink-agents.{app}", f"{app}.helper.requests"),
            (f"flink-agents.{app}.sql", f"{app}.helper.responses"),
        ]
        eventually(
            lambda: all(topics.lag(group, topic) == 0 for group, topic in stages),
            "every stage of the job committed its offsets",
            timeout=60,
        )
    except (TimeoutError, AssertionError) as exc:
        raise AssertionError(f"{exc}\n{job.tail()}") from None
    finally:
        job.stop()
    return {
        r.value["id"]: r.value["answer"]
        for r in _answers_to(got, questions)
        if r.value["status"] == "TASK_STATE_COMPLETED"
    }


def _answers_to(records: list[Record], questions: dict[str, int]) -> list[Record]:
    mine = [r for r in records if r.value["id"] in questions]
    counts = Counter(r.value["id"] for r in mine)
    assert set(counts.values()) == {1}, f"not one answer per question: {counts}"
    return mine
