"""The job script ``sql run --target`` submits: it runs a SQL file under ``flink run``.

``bin/flink run -py .../flink_agents/sql/_entry.py FILE --name NAME [--home HOME] --plan OUT``
executes the file's statements in the Flink client (this machine, the same catalog as
``sql run``), builds the job for the target cluster (``cluster.target`` is set in the
client's environment) and submits it; the plan goes to ``OUT`` for the command to print.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flink_agents.config import load_settings
from flink_agents.errors import FlinkAgentsError
from flink_agents.sql._runner import SqlRun
from flink_agents.sql._session import Result

#: Exit status of a file that makes no job (only definitions): nothing was submitted.
NO_JOB = 3


def _show(result: Result) -> None:
    if result.message:
        print(result.message)
    for row in result.rows:
        print("  ".join(row))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="flink-agents sql run --target")
    parser.add_argument("file", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--home")
    parser.add_argument("--plan", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = load_settings({"home": args.home} if args.home else {})
    try:
        runner = SqlRun(settings, args.name)
        runner.execute_file(args.file, _show)
        if not runner.has_job:
            print(f"error: {args.file} makes no job (it only defines), so nothing was submitted")
            return NO_JOB
        runner.job.build()
        args.plan.parent.mkdir(parents=True, exist_ok=True)
        args.plan.write_text(runner.job.explain() + "\n")
        runner.job.run()
    except FlinkAgentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
