"""The job script ``sql run --target`` submits: it runs a SQL file under ``flink run``.

``bin/flink run -py .../flink_agents/sql/_entry.py FILE --name NAME [--home HOME] --plan OUT
--messages LOG`` executes the file's statements in the Flink client (this machine, the same
catalog as ``sql run``), builds the job for the target cluster (``cluster.target`` is set in
the client's environment) and submits it. What each statement did, and an error that
stopped the file, go to ``LOG``, and the plan to ``OUT``, for the command to print: the
output of ``flink run`` itself is not shown to the user.
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


class _Log:
    """Each statement's message (or rows) as a line of the messages file, as it runs."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        path.write_text("")

    def line(self, text: str, *, error: bool = False) -> None:
        print(text, file=sys.stderr if error else sys.stdout)
        with self.path.open("a") as out:
            out.write(text + "\n")

    def show(self, result: Result) -> None:
        if result.message:
            self.line(result.message)
        if result.headers:
            self.line("  ".join(result.headers))
        for row in result.rows:
            self.line("  ".join(row))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="flink-agents sql run --target")
    parser.add_argument("file", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--home")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--messages", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = load_settings({"home": args.home} if args.home else {})
    log = _Log(args.messages)
    try:
        runner = SqlRun(settings, args.name)
        runner.execute_file(args.file, log.show)
        if not runner.has_job:
            log.line(f"error: {args.file} makes no job (it only defines), so nothing was submitted")
            return NO_JOB
        runner.job.build()
        args.plan.parent.mkdir(parents=True, exist_ok=True)
        args.plan.write_text(runner.job.explain() + "\n")
        runner.job.run()
    except FlinkAgentsError as exc:
        log.line(f"error: {exc}", error=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
