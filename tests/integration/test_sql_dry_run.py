"""``flink-agents sql run --dry-run``: every query compiles on Flink's planner, and nothing
starts (no Kafka, no job). Starts Flink's JVM, so it is an integration test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))

BROKEN = """CREATE TABLE questions (id STRING, question STRING);
CREATE TABLE answers (id STRING, status STRING, answer STRING);
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm');
CREATE AGENT helper USING MODEL chat USING PROMPT 'Answer.';
INSERT INTO answers
SELECT q.id, r.status, r.response, q.nope
FROM questions AS q, LATERAL TABLE(AI_RUN_AGENT('helper', q.question, q.id)) AS r(status, response);
"""


def dry_run(tmp_path: Path, file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--home", str(tmp_path / "home"), "sql", "run", str(file), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        # A broker that is not there: a dry run must not need one.
        env={"FLINK_AGENTS_KAFKA__PORT": "9", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


SECOND_AGENT = """INCLUDE '{demo}';
CREATE TABLE notes (transaction_id STRING, status STRING, note STRING);
DROP AGENT IF EXISTS explainer;
CREATE AGENT explainer USING MODEL fraud_model USING PROMPT 'Explain the decision to the customer.'
  WITH ('output.row' = 'ROW<note STRING NOT NULL, tone STRING, words INT>');
CREATE TEMPORARY VIEW explained AS
SELECT d.transaction_id, e.status AS note_status, JSON_VALUE(e.response, '$.note') AS note
FROM (SELECT transaction_id, reason FROM decisions WHERE decision <> 'APPROVE') AS d,
     LATERAL TABLE(AI_RUN_AGENT('explainer', d.reason, d.transaction_id)) AS e(status, response);
INSERT INTO notes SELECT transaction_id, note_status, note FROM explained;
CREATE TABLE verdicts (transaction_id STRING, verdict STRING NOT NULL COMMENT 'FRAUD or FINE',
  confidence DOUBLE, status STRING, PRIMARY KEY (transaction_id) NOT ENFORCED)
  WITH ('connector' = 'print');
DROP AGENT IF EXISTS judge;
CREATE AGENT judge USING MODEL fraud_model USING PROMPT 'Judge the merchant.'
  WITH ('output.table' = 'verdicts', 'output.table.except' = 'transaction_id, status');
INSERT INTO verdicts
SELECT t.transaction_id, JSON_VALUE(j.response, '$.verdict'),
       JSON_VALUE(j.response, '$.confidence' RETURNING DOUBLE), j.status
FROM transactions AS t,
     LATERAL TABLE(AI_RUN_AGENT('judge', t.merchant_id, t.transaction_id)) AS j(status, response);
"""


def test_the_demo_and_agents_with_a_row_type_and_a_table_compile_into_one_job_without_a_broker(
    tmp_path: Path,
):
    file = tmp_path / "both.sql"
    file.write_text(SECOND_AGENT.format(demo=ROOT / "sql/fraud_triage.sql"))
    done = dry_run(tmp_path, file)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    plan = done.stdout
    assert "fraud-triage: model gpt-4o-mini@https://api.openai.com/v1" in plan
    assert "reads both.fraud-triage.requests" in plan
    assert "explainer: model gpt-4o-mini@https://api.openai.com/v1" in plan
    assert "output (note, tone, words)" in plan  # the row type is the output schema
    assert "output (verdict, confidence)" in plan  # the table's columns, less the carried
    assert "INSERT INTO decisions SELECT t.transaction_id" in plan
    assert "dry run: no job started" in plan


def test_a_query_that_does_not_compile_is_reported_at_its_place(tmp_path: Path):
    file = tmp_path / "broken.sql"
    file.write_text(BROKEN)
    done = dry_run(tmp_path, file)
    assert done.returncode == 1
    error = " ".join(done.stderr.split())
    assert "broken.sql:6:1: Flink:" in error, error[-2000:]
    assert "nope" in error
    assert "dry run" not in done.stdout
