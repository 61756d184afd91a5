"""The warm Python runs a job file as ``python`` would, forked from a server that has
PyFlink and Apache Beam imported, and ends its session when the submission runs out of time."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from flink_agents import _forking, _pythonenv
from flink_agents.config import load_settings
from flink_agents.local._warm_python import WarmPython
from tests.support import eventually

PYTHON = _pythonenv.python_executable()

_REPORT = """
import json, os, sys
import helper
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "name": __name__, "path0": sys.path[0],
    "var": os.environ.get("JOB_VAR"), "ppid": os.getppid(), "helper": helper.WHERE,
    "beam_loaded": "apache_beam" in sys.modules,
}))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmPython]:
    home = tmp_path_factory.mktemp("home")
    server = WarmPython(load_settings({"home": str(home)}, environ={}, file=None))
    server.start(dict(os.environ))
    eventually(server.ready, "the warm Python imported PyFlink and listens", timeout=120)
    yield server
    server.stop()


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "report.py").write_text(_REPORT)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("WHERE = __file__\n")
    return tmp_path


def test_a_job_file_runs_as_main_with_its_arguments_environment_and_paths(
    warm: WarmPython, job_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(job_dir)
    env = {**os.environ, "JOB_VAR": "set by submit", "PYTHONPATH": str(job_dir / "lib")}
    done = warm.run([PYTHON, "jobs/report.py", "3"], env, timeout=60)

    assert done is not None
    code, out, err = done
    seen = json.loads(out)
    assert code == 3
    assert seen["argv"] == ["jobs/report.py", "3"] and seen["name"] == "__main__"
    assert seen["cwd"] == str(job_dir) and seen["path0"] == str(job_dir / "jobs")
    assert seen["var"] == "set by submit"
    assert seen["helper"] == str(job_dir / "lib" / "helper.py")
    # Forked from the server, which had imported Apache Beam (through PyFlink) already.
    assert seen["ppid"] == warm.pid() and seen["beam_loaded"]
    assert err.strip() == "to stderr"


def test_a_module_runs_with_dash_m_and_an_error_exits_one_with_its_traceback(
    warm: WarmPython, job_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(job_dir / "lib")
    (job_dir / "lib" / "broken.py").write_text("raise RuntimeError('the job is broken')\n")
    done = warm.run([PYTHON, "-m", "broken"], dict(os.environ), timeout=60)

    assert done is not None
    code, out, err = done
    assert code == 1 and out == ""
    assert "RuntimeError: the job is broken" in err and "Traceback" in err


def test_a_job_file_out_of_time_is_killed_with_what_it_started(
    warm: WarmPython, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hang.py").write_text(
        textwrap.dedent("""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            print(child.pid, flush=True)
            time.sleep(600)
        """)
    )
    done = warm.run([PYTHON, "hang.py"], dict(os.environ), timeout=5)

    assert done is not None
    code, out, _ = done
    assert code is None  # as run_captured reports a command that ran out of time
    grandchild = int(out.split()[0])
    eventually(lambda: not psutil.pid_exists(grandchild), "the job file's own child is gone")


def test_another_python_or_a_stopped_server_is_left_to_the_caller(warm: WarmPython, tmp_path: Path):
    assert warm.run(["/usr/bin/python3", "job.py"], dict(os.environ), timeout=5) is None
    stopped = WarmPython(load_settings({"home": str(tmp_path)}, environ={}, file=None))
    assert stopped.run([PYTHON, "job.py"], dict(os.environ), timeout=5) is None
    assert (warm.state(), stopped.state()) == ("ready", "not running")


def test_once_flink_agents_changed_on_disk_it_runs_nothing_more_and_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    server = WarmPython(load_settings({"home": str(tmp_path / "home")}, environ={}, file=None))
    server.start(dict(os.environ))
    module = Path(_forking.__file__)
    before = module.stat()
    try:
        eventually(server.ready, "the warm Python listens", timeout=120)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "ok.py").write_text("print('ran')\n")
        assert server.run([PYTHON, "ok.py"], dict(os.environ), timeout=60) == (0, "ran\n", "")
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        # The old code must not build the job: the caller runs a fresh python instead.
        assert server.run([PYTHON, "ok.py"], dict(os.environ), timeout=60) is None
        # Ended (a zombie until this process, its parent here, reaps it).
        eventually(lambda: server.pid() is None, "the stale server has ended")
        assert not server.ready()
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
        server.stop()
