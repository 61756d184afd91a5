"""An agent's answer fields taken from a table (``'output.table'``): the table's physical
columns, less ``'output.table.except'``, read when the agent is created or altered."""

from __future__ import annotations

from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.sql import Result, SqlError, SqlRun
from flink_agents.sql._compile import compile_agent
from flink_agents.sql._job import _answer
from flink_agents.sql._script import from_text
from flink_agents.testing import Reply, run_agent

DEFINITIONS = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm');
CREATE TABLE decisions (
  transaction_id STRING,
  decision STRING NOT NULL COMMENT 'APPROVE, REVIEW or BLOCK',
  reason STRING,
  score DOUBLE,
  flags ARRAY<STRING>,
  status STRING,
  seen AS PROCTIME(),
  `offset` BIGINT METADATA VIRTUAL,
  PRIMARY KEY (transaction_id) NOT ENFORCED
) WITH ('topic' = 'decisions');
"""
TRIAGE = "CREATE AGENT triage USING MODEL chat USING PROMPT 'Decide.' WITH ({options});\n"
CARRIED = "'output.table.except' = 'transaction_id, status'"


@pytest.fixture
def run(tmp_path: Path) -> SqlRun:
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    return SqlRun(settings, "test")


def execute(run: SqlRun, text: str, file: str = "o.sql") -> list[Result]:
    shown: list[Result] = []
    for stmt in from_text(text, file, run.variables, Path.cwd()):
        run.execute(stmt, shown.append)
    return shown


def triage(run: SqlRun):  # type: ignore[no-untyped-def]
    entry = run.catalog.get("agent", "triage")
    assert entry is not None
    return compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type]


def test_the_physical_columns_not_excluded_are_the_answer_fields(run: SqlRun):
    execute(run, DEFINITIONS + TRIAGE.format(options=f"'output.table' = 'decisions', {CARRIED}"))
    schema = triage(run).output_schema()
    assert schema is not None
    # Computed and metadata columns and the constraint are not answer fields.
    assert list(schema["properties"]) == ["decision", "reason", "score", "flags"]
    assert schema["required"] == ["decision"]  # the NOT NULL column
    assert schema["properties"]["decision"]["description"] == "APPROVE, REVIEW or BLOCK"
    assert schema["properties"]["flags"]["anyOf"][0] == {
        "type": "array",
        "items": {"type": "string"},
    }
    # The result view reads each field with its column's type.
    assert "JSON_VALUE(`value`, '$.score' RETURNING DOUBLE)" in _answer(triage(run))


def test_the_answer_is_validated_against_the_columns(run: SqlRun):
    execute(run, DEFINITIONS + TRIAGE.format(options=f"'output.table' = 'decisions', {CARRIED}"))
    agent = triage(run)
    good = run_agent(agent, [{"id": 1}], model=Reply.json({"decision": "BLOCK", "score": 0.9}))
    [out] = good.outputs
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert (out["decision"], out["score"]) == ("BLOCK", 0.9)
    bad = run_agent(agent, [{"id": 2}], model=Reply.json({"reason": "no decision"}))
    [out] = bad.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert "decision" in out["task"]["error"]


def test_describe_shows_the_answer_fields_and_the_table_they_came_from(run: SqlRun):
    shown = execute(
        run,
        DEFINITIONS
        + TRIAGE.format(options=f"'output.table' = 'decisions', {CARRIED}")
        + "DESCRIBE AGENT triage;",
    )
    rows = dict((row[0], row[1]) for row in shown[-1].rows)
    assert rows["option output.table"] == "decisions"
    assert rows["answer fields"].startswith("decision STRING NOT NULL COMMENT")
    assert "from table decisions declared at o.sql:4:1" in rows["answer fields"]


def test_the_agent_keeps_its_fields_when_the_table_is_dropped_or_declared_again(run: SqlRun):
    execute(run, DEFINITIONS + TRIAGE.format(options=f"'output.table' = 'decisions', {CARRIED}"))
    # A later run: the table declared with other columns, the agent used, altered otherwise.
    later = SqlRun(run.settings, "later")
    execute(
        later,
        "CREATE TABLE decisions (transaction_id STRING, verdict STRING) WITH ('topic' = 'd');"
        "ALTER AGENT triage SET ('max_iterations' = '3');",
        "later.sql",
    )
    schema = triage(later).output_schema()
    assert schema is not None and "decision" in schema["properties"]
    # Naming the table again reads its columns as they are now.
    again = (
        "ALTER AGENT triage SET ('output.table' = 'decisions', "
        "'output.table.except' = 'transaction_id');"
    )
    execute(later, again, "later.sql")
    schema = triage(later).output_schema()
    assert schema is not None
    assert list(schema["properties"]) == ["verdict"]


def test_a_table_from_an_included_file_is_found(run: SqlRun, tmp_path: Path):
    (tmp_path / "tables.sql").write_text(DEFINITIONS)
    (tmp_path / "main.sql").write_text(
        "INCLUDE 'tables.sql';\n"
        + TRIAGE.format(options="'output.table' = 'decisions'").replace(
            "WITH (", f"WITH ({CARRIED}, "
        )
    )
    run.execute_file(tmp_path / "main.sql", lambda _result: None)
    schema = triage(run).output_schema()
    assert schema is not None and next(iter(schema["properties"])) == "decision"


@pytest.mark.parametrize(
    ("before", "options", "message"),
    [
        ("", "'output.table' = 'nowhere'", "no table 'nowhere' is declared before this statement"),
        (
            "DROP TABLE decisions;",
            "'output.table' = 'decisions'",
            "no table 'decisions' is declared before this statement",
        ),
        (
            "CREATE TABLE events (id STRING, at TIMESTAMP(3)) WITH ('topic' = 'e');",
            "'output.table' = 'events'",
            "field at: type TIMESTAMP is not supported",
        ),
        (
            "CREATE TABLE copy WITH ('topic' = 'c') LIKE decisions;",
            "'output.table' = 'copy'",
            "cannot be read: it takes them from another table or a query",
        ),
        ("", "'output.table' = 'decisions', 'output.table.except' = 'nope'", "names nope, not"),
        (
            "",
            "'output.table' = 'decisions', 'output.row' = 'a STRING'",
            "not output.row and output.table",
        ),
        (
            "",
            "'output.table' = 'decisions', 'output.schema' = '{}'",
            "not output.schema and output.table",
        ),
        ("", "'output.table.except' = 'status'", "'output.table', which is not given"),
    ],
)
def test_a_bad_output_table_is_an_error_at_the_option(
    run: SqlRun, before: str, options: str, message: str
):
    text = DEFINITIONS + before + "\n" + TRIAGE.format(options=options)
    line = text.count("\n", 0, text.index("CREATE AGENT")) + 1
    with pytest.raises(SqlError, match=rf"^o\.sql:{line}:\d+: ") as caught:
        execute(run, text)
    assert message in str(caught.value)
    assert run.catalog.get("agent", "triage") is None


def test_alter_to_an_unusable_table_is_refused_and_the_agent_stays_as_it_was(run: SqlRun):
    execute(run, DEFINITIONS + TRIAGE.format(options=f"'output.table' = 'decisions', {CARRIED}"))
    with pytest.raises(SqlError, match=r"^o\.sql:1:\d+: 'output.table': no table 'gone'"):
        execute(run, "ALTER AGENT triage SET ('output.table' = 'gone');")
    entry = run.catalog.get("agent", "triage")
    assert entry is not None and entry.options["output.table"] == "decisions"
    schema = triage(run).output_schema()
    assert schema is not None and next(iter(schema["properties"])) == "decision"
