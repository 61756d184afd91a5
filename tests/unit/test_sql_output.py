"""An agent's output given as a row type (``'output.row'``): its fields become the output
model, so ``response`` is validated structured output, as with ``'output.schema'``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.sql import SqlError, SqlRun
from flink_agents.sql._compile import compile_agent
from flink_agents.sql._job import _answer
from flink_agents.sql._script import from_text
from flink_agents.testing import Reply, run_agent

DEFINITIONS = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm');
"""
ROW = (
    "ROW<decision STRING NOT NULL 'APPROVE, REVIEW or BLOCK', reason STRING NOT NULL, "
    "score DOUBLE, flags ARRAY<STRING>, `case id` BIGINT>"
)


def agent_of(tmp_path: Path, options: str):  # type: ignore[no-untyped-def]
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    run = SqlRun(settings, "test")
    agent = f"CREATE AGENT triage USING MODEL chat USING PROMPT 'Decide.' WITH ({options});"
    text = DEFINITIONS + agent
    for stmt in from_text(text, "o.sql", run.variables, Path.cwd()):
        run.execute(stmt, lambda _result: None)
    entry = run.catalog.get("agent", "triage")
    assert entry is not None
    return compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type]


def test_the_fields_of_a_row_type_become_the_output_schema(tmp_path: Path):
    agent = agent_of(tmp_path, f"'output.row' = '{ROW.replace(chr(39), chr(39) * 2)}'")
    schema = agent.output_schema()
    assert schema is not None
    assert list(schema["properties"]) == ["decision", "reason", "score", "flags", "case id"]
    assert sorted(schema["required"]) == ["decision", "reason"]
    assert schema["properties"]["decision"]["description"] == "APPROVE, REVIEW or BLOCK"
    # The result view reads each field with its own type.
    answer = _answer(agent)
    assert "JSON_VALUE(`value`, '$.score' RETURNING DOUBLE)" in answer
    assert "CAST(JSON_VALUE(`value`, '$[''case id'']') AS BIGINT)" in answer


def test_the_response_is_validated_against_the_row_type(tmp_path: Path):
    agent = agent_of(tmp_path, "'output.row' = 'decision STRING NOT NULL, score DOUBLE'")
    good = run_agent(agent, [{"id": 1}], model=Reply.json({"decision": "BLOCK", "score": 0.9}))
    [out] = good.outputs
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert (out["decision"], out["score"]) == ("BLOCK", 0.9)
    # A required field missing: one repair round, then the task fails with the reason.
    bad = run_agent(agent, [{"id": 2}], model=Reply.json({"score": "high"}))
    [out] = bad.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert "decision" in out["task"]["error"]
    assert bad.model_calls == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("at TIMESTAMP(3)", "'output.row': field at: type TIMESTAMP is not supported"),
        ("ROW<a STRING, a INT>", "'output.row': field a is given twice"),
        ("ROW<a STRING", "'output.row': expected '>', got 'the end'"),
        ("", "'output.row': a row type names at least one field"),
        ("inner ROW<x INT>", "'output.row': field inner: type ROW is not supported"),
    ],
)
def test_a_bad_row_type_is_an_error_at_the_option(tmp_path: Path, value: str, message: str):
    with pytest.raises(SqlError, match=r"^o\.sql:4:\d+: ") as caught:
        agent_of(tmp_path, f"'output.row' = '{value}'")
    assert message in str(caught.value)


def test_a_row_type_and_a_json_schema_together_are_an_error(tmp_path: Path):
    schema = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    with pytest.raises(SqlError, match=r"'output.schema' .*, not output.schema and output.row"):
        agent_of(tmp_path, f"'output.row' = 'a STRING', 'output.schema' = '{schema}'")
