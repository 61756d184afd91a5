"""The classifier workload defined in SQL, as a flink-agents job (the system under test).

    flink run -d -py bench/jobs/sql_job.py --workload classifier --capacity 128 \
        --app bench-sql --input bench-sql.in --output bench-sql.out --model-url URL

The same agent as ``bench.workloads.agent("classifier", ...)``: its prompt, model, memory,
limits and output schema, written as ``CREATE`` statements and run with ``AI_RUN_AGENT``, so
the job is what ``flink-agents sql run`` builds from the same file. Its definitions go to a
catalog of its own, not the home's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.workloads import INSTRUCTIONS, KEY_FIELD, Label, add_workload_args
from flink_agents.config import load_settings
from flink_agents.runtime import literal
from flink_agents.sql import Catalog, SqlRun

SQL = """
CREATE TABLE bench_in (id BIGINT, `{key}` STRING, amount DOUBLE) WITH ('topic' = '{input}');
CREATE TABLE bench_out (id BIGINT, `{key}` STRING, status STRING, label STRING, score DOUBLE)
  WITH ('topic' = '{output}');
CREATE CONNECTION simulator WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL classifier_model WITH ('provider' = 'openai', 'openai.connection' = 'simulator',
  'openai.model_version' = 'classifier', 'openai.timeout' = '60s');
CREATE AGENT classifier USING MODEL classifier_model USING PROMPT '{prompt}'
  WITH ('output.schema' = '{schema}', 'memory.window' = '4', 'max_iterations' = '6',
        'call_timeout' = '60s', 'max_in_flight' = '{capacity}');
INSERT INTO bench_out
SELECT e.id, e.`{key}`, r.status, JSON_VALUE(r.response, '$.label'),
       JSON_VALUE(r.response, '$.score' RETURNING DOUBLE)
FROM bench_in AS e,
     LATERAL TABLE(AI_RUN_AGENT('classifier',
       JSON_OBJECT(KEY 'id' VALUE e.id, KEY '{key}' VALUE e.`{key}`, KEY 'amount' VALUE e.amount),
       CAST(e.id AS STRING), MAP['memory.key', e.`{key}`])) AS r(status, response);
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    add_workload_args(parser)
    parser.add_argument("--app", required=True)
    args = parser.parse_args()
    if args.workload != "classifier":
        sys.exit("the SQL job runs the classifier workload only")
    text = SQL.format(
        key=KEY_FIELD,
        input=args.input,
        output=args.output,
        model_url=args.model_url,
        prompt=literal(INSTRUCTIONS["classifier"]),
        schema=literal(json.dumps(Label.model_json_schema())),
        capacity=args.capacity,
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-sql-"))
    (folder / "bench.sql").write_text(text)
    run = SqlRun(load_settings(), args.app, Catalog(folder / "catalog.json"))
    run.execute_file(folder / "bench.sql", lambda _result: None)
    run.job.build()
    run.job.run()


if __name__ == "__main__":
    main()
