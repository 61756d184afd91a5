"""``flink-agents sql run`` as a user runs it, for files that need no Flink job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.sql import SqlRun, from_text

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("flink-agents"))
SECRET = "sk-proj-7d1e5c0b9a8f4e3d"


def sql_run(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "defs.sql"
    file.write_text(text)
    return subprocess.run(
        [CLI, "--home", str(tmp_path / "home"), "sql", "run", str(file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_definitions_persist_across_runs_and_secrets_are_never_printed(tmp_path: Path):
    first = sql_run(
        tmp_path,
        "CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1',"
        f" 'api-key' = '{SECRET}');\n"
        "CREATE MODEL m WITH ('provider' = 'openai', 'openai.connection' = 'api');\n"
        "CREATE AGENT helper USING MODEL m USING PROMPT 'Help.' COMMENT 'helps';",
    )
    assert first.returncode == 0, first.stderr
    second = sql_run(tmp_path, "SHOW AGENTS;\nDESCRIBE CONNECTION api;")
    assert second.returncode == 0, second.stderr
    assert "helper" in second.stdout and "helps" in second.stdout
    assert "[redacted]" in second.stdout
    listed = subprocess.run(
        [CLI, "--home", str(tmp_path / "home"), "agents", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "helper" in listed.stdout
    for output in (first, second, listed):
        assert SECRET[:8] not in output.stdout + output.stderr


def test_an_error_names_the_file_line_and_column_and_runs_nothing(tmp_path: Path):
    done = sql_run(
        tmp_path,
        "CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');\n"
        "CREATE AGENT helper USING MODEL missing USING PROMPT 'Help.';\n"
        "INSERT INTO out SELECT * FROM somewhere;",
        "--dry-run",
    )
    assert done.returncode == 1
    assert "defs.sql:2:33: unknown model 'missing'" in done.stderr.replace("\n", "")
    assert "statements:" not in done.stdout  # no plan: it stopped at the error


def test_the_cluster_entry_submits_nothing_for_definitions_or_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from flink_agents.sql import _entry

    defs, broken = tmp_path / "defs.sql", tmp_path / "broken.sql"
    defs.write_text(
        "CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');"
    )
    broken.write_text("SHOW AGENTS;\nCREATE MODEL m WITH ('provider' = 'nope');")
    messages = tmp_path / "messages.txt"
    common = ["--name", "job", "--home", str(tmp_path / "home"), "--plan", str(tmp_path / "p")]
    common += ["--messages", str(messages)]
    assert _entry.main([str(defs), *common]) == _entry.NO_JOB
    assert "makes no job (it only defines), so nothing was submitted" in capsys.readouterr().out
    # `sql run --target` prints this file: what each statement did, as `sql run` does.
    assert messages.read_text().splitlines() == [
        "connection api created",
        f"error: {defs} makes no job (it only defines), so nothing was submitted",
    ]
    assert _entry.main([str(broken), *common]) == 1
    assert "broken.sql:2:" in capsys.readouterr().err
    lines = messages.read_text().splitlines()
    assert lines[0] == "agent name  comment"  # SHOW AGENTS' header row, then the error
    assert lines[-1].startswith("error: ") and "broken.sql:2:" in lines[-1], lines
    assert not (tmp_path / "p").exists()  # no plan: nothing was built


def sql_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--home", str(tmp_path / "home"), "sql", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


def test_serve_names_what_it_cannot_serve_and_starts_nothing(tmp_path: Path):
    # Defined in-process: a file that creates an agent with callers would serve it.
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    run = SqlRun(settings, "defs")
    text = (
        "CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');\n"
        "CREATE MODEL m WITH ('provider' = 'openai', 'openai.connection' = 'api');\n"
        "CREATE AGENT helper USING MODEL m USING PROMPT 'Help.';\n"
        "CREATE AGENT reviewer USING MODEL m USING PROMPT 'Review.' WITH ('a2a.callers' = '*');"
    )
    for stmt in from_text(text, "defs.sql", run.variables, tmp_path):
        run.execute(stmt, lambda _result: None)
    unknown = sql_serve(tmp_path, "nobody")
    assert unknown.returncode == 1
    assert "no agent 'nobody' in the catalog" in unknown.stderr
    assert "(agents: helper, reviewer)" in unknown.stderr.replace("\n", "")
    deaf = sql_serve(tmp_path, "helper")
    assert deaf.returncode == 1
    assert "agent helper accepts no A2A callers" in deaf.stderr.replace("\n", "")
    remote = sql_serve(tmp_path, "reviewer", FLINK_AGENTS_CLUSTER__TARGET="127.0.0.1:9")
    assert remote.returncode == 1
    assert "sql serve runs the agents here" in remote.stderr.replace("\n", "")
