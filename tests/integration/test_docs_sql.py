"""The SQL examples of the documentation run as written: each complete one goes through
what ``flink-agents sql run --dry-run`` does (parse, resolve every name, check every
option, compile every query on Flink's planner and build the job), without a broker.
Grammars and excerpts of larger files are parsed by the unit tests. The examples share
one Flink JVM in this process, each with a home (and so a catalog) of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.sql import Result, SqlRun
from tests.unit.test_docs_examples import Block, blocks

pytestmark = pytest.mark.integration
EXAMPLES = [b for b in blocks("sql") if b.title not in ("syntax", "excerpt")]


def test_the_docs_have_complete_sql_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("block", EXAMPLES, ids=str)
def test_sql_example_compiles_into_a_job(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MODEL_URL", "http://127.0.0.1:9/v1")  # the page's ${MODEL_URL}
    # No broker: a dry run must not need one.
    settings = load_settings({"home": str(tmp_path / "home"), "kafka": {"port": 9}}, file=None)
    file = tmp_path / "example.sql"
    file.write_text(block.code)
    shown: list[Result] = []
    runner = SqlRun(settings, "example")
    runner.execute_file(file, shown.append)
    assert runner.has_job, f"{block} makes no job"
    runner.job.build(create_topics=False)
    plan = runner.job.explain()
    assert "example.events" in plan, plan
