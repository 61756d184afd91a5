"""``flink-agents state inspect`` as a user runs it, for paths that are not savepoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("flink-agents"))


def test_a_folder_without_metadata_is_refused_naming_it(tmp_path: Path):
    done = subprocess.run(
        [CLI, "state", "inspect", str(tmp_path), "--app", "a", "--agent", "b", "--key", "k"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert f"{tmp_path} is not a complete savepoint or checkpoint" in done.stderr
    assert "flink-agents savepoints" in done.stderr
