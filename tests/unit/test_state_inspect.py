"""``flink-agents state inspect`` without a savepoint to read: what it refuses, and the state
names its Java reader shares with the agent operator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from flink_agents import Agent, Memory, OpenAIModel
from flink_agents.local._inspect import SOURCE
from flink_agents.runtime._step import _state_handles

CLI = str(Path(sys.executable).with_name("flink-agents"))


class _Names:
    """A runtime context that hands back the name of each state asked for."""

    def get_state(self, descriptor: Any) -> str:
        return str(descriptor.get_name())

    get_map_state = get_list_state = get_state


def test_the_reader_reads_the_states_the_agent_operator_registers():
    model = OpenAIModel(model="m")
    agent = Agent(name="triage", instructions="Decide.", model=model, memory=Memory(ttl="1h"))
    names = _state_handles(_Names(), agent)  # type: ignore[arg-type]
    java = SOURCE.read_text()
    prefixes = [re.fullmatch(r"([\w-]+:)triage", str(n)) for n in names]
    assert [p.group(1) for p in prefixes if p] == ["task:", "queue:", "queue-ends:", "history:"]
    for prefix in ("task:", "queue:", "queue-ends:", "history:"):
        assert f'"{prefix}"' in java, prefix
    assert '"agents:"' in java  # the operator's uid, as runtime/_app.py sets it


def test_a_folder_without_metadata_is_refused_naming_it(tmp_path: Path):
    done = subprocess.run(
        [CLI, "state", "inspect", str(tmp_path), "--key", "k"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    message = done.stderr.replace("\n", " ")
    assert f"{tmp_path} is not a complete savepoint" in message
    assert "flink-agents savepoints" in message
