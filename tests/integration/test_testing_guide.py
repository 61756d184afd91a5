"""docs/testing.md runs as written: its files are written out, its examples run in order.

The in-process examples start the guide's MCP server for real; the MiniCluster example runs
its job on the test broker; the real-model example gets the simulator's address, as a user
would give a vLLM or Ollama server's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flink_agents.testing import ModelServer, TopicClient, default_model

pytestmark = pytest.mark.integration
PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
FILE = re.compile(r"^# file: (\S+)\n")


def blocks() -> list[tuple[str | None, str]]:
    """The page's Python blocks in order, each with the file it names (or None)."""
    found = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    return [(m.group(1) if (m := FILE.match(code)) else None, code) for code in found]


def test_the_guide_names_its_files_and_has_examples_for_the_three_ways():
    names = [name for name, _ in blocks() if name]
    assert names == ["support_agent.py", "orders_server.py", "support_job.py"]
    examples = [code for name, code in blocks() if name is None]
    assert any("run_agent(support, messages, key=" in code for code in examples)
    assert any("JobProcess(" in code for code in examples)
    assert any("model=model)" in code for code in examples)


def test_the_guide_runs_as_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    topics: TopicClient,
    job_env: dict[str, str],
):
    for name, code in blocks():
        if name:
            (tmp_path / name).write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for variable, value in job_env.items():
        if variable.startswith("FLINK_AGENTS_"):
            monkeypatch.setenv(variable, value)
    namespace: dict[str, object] = {}
    with ModelServer(default_model) as stand_in:
        monkeypatch.setenv("SUPPORT_MODEL_BASE_URL", stand_in.base_url)
        for number, (name, code) in enumerate(blocks()):
            if name is None:
                exec(compile(code, f"{PAGE.name} block {number}", "exec"), namespace)
        assert stand_in.count() == 2  # the real-model example went to the address given
