"""``python -m flink_agents.testing.model_server`` as the demo and benchmarks start it."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from flink_agents.testing._model_server import load_script

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "flink_agents.testing.model_server"]
SCRIPT_MODULE = """
from flink_agents.testing import ChatRequest, Reply

def shout(req: ChatRequest) -> Reply:
    return Reply.text((req.last_user_text or "").upper())

fixed = Reply.text("always this")
not_a_script = 42
"""


class CliServer:
    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT)])}
        self.proc = subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read_line(self, timeout: float = 90.0) -> str:
        """The first stdout line, waiting for it until a deadline."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the model server printed nothing before the deadline"
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                return self.proc.stdout.readline().rstrip("\n")

    def finish(self, timeout: float = 90.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def started() -> Iterator[list[CliServer]]:
    servers: list[CliServer] = []
    yield servers
    for server in servers:
        server.kill()


def start(started: list[CliServer], *args: str, cwd: Path = ROOT) -> CliServer:
    server = CliServer(*args, cwd=cwd)
    started.append(server)
    return server


def url_of(line: str) -> str:
    prefix = "model-server listening on "
    assert line.startswith(prefix), line
    return line.removeprefix(prefix)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_url_and_stops_on_sigterm(
    started: list[CliServer], sig: signal.Signals
) -> None:
    server = start(started, "--host", "127.0.0.1", "--port", "0")

    base_url = url_of(server.read_line())
    sdk = OpenAI(base_url=base_url, api_key="sk-cli-secret", max_retries=0)
    answer = sdk.chat.completions.create(
        model="sim-1", messages=[{"role": "user", "content": "echo me"}]
    )
    sdk.close()
    server.proc.send_signal(sig)
    code, out, err = server.finish()

    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/v1")
    assert answer.choices[0].message.content == "echo me"
    assert code == 0
    assert out == "", "only the one listening line may go to stdout"
    assert "sk-cli-secret" not in err


def test_cli_runs_the_given_script_latency_and_faults(
    started: list[CliServer], tmp_path: Path
) -> None:
    (tmp_path / "sim_scripts.py").write_text(SCRIPT_MODULE)
    server = start(
        started,
        "--script",
        "sim_scripts:shout",
        "--latency-ms",
        "100",
        "--jitter-ms",
        "5",
        "--fault",
        "503:times=1,retry_after=2",
        cwd=tmp_path,
    )
    base_url = url_of(server.read_line())
    sdk = OpenAI(base_url=base_url, api_key="k", max_retries=0)

    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="sim-1", messages=[{"role": "user", "content": "hi"}])
    began = time.monotonic()
    answer = sdk.chat.completions.create(
        model="sim-1", messages=[{"role": "user", "content": "quiet"}]
    )
    elapsed = time.monotonic() - began
    sdk.close()
    stats = httpx.get(base_url.removesuffix("/v1") + "/_sim/stats").json()
    server.proc.terminate()

    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "2"
    assert answer.choices[0].message.content == "QUIET"
    assert elapsed >= 0.09
    assert stats["by_status"] == {"200": 1, "503": 1}
    assert server.finish()[0] == 0


def test_cli_script_may_be_a_reply_in_a_file(started: list[CliServer], tmp_path: Path) -> None:
    (tmp_path / "replies.py").write_text(SCRIPT_MODULE)
    server = start(started, "--script", f"{tmp_path / 'replies.py'}:fixed")

    base_url = url_of(server.read_line())
    answer = httpx.post(f"{base_url}/chat/completions", json={"messages": []}).json()
    server.proc.terminate()

    assert answer["choices"][0]["message"]["content"] == "always this"
    assert server.finish()[0] == 0


def test_cli_script_that_does_not_import_names_the_module_and_the_exception(
    started: list[CliServer],
) -> None:
    server = start(started, "--script", "no_such_pkg.scripts:fraud")

    code, out, err = server.finish()

    assert code == 2
    assert out == ""
    assert "cannot import 'no_such_pkg.scripts'" in err
    assert "ModuleNotFoundError" in err
    assert "PYTHONPATH" in err


def test_cli_bad_fault_explains_the_format(started: list[CliServer]) -> None:
    server = start(started, "--fault", "500:tims=2")

    code, _, err = server.finish()

    assert code == 2
    assert "'500:tims=2'" in err
    assert "times=N" in err


def test_cli_busy_port_fails_with_the_reason(started: list[CliServer]) -> None:
    first = start(started)
    port = url_of(first.read_line()).rsplit(":", 1)[1].removesuffix("/v1")

    code, out, err = start(started, "--port", port).finish()

    assert code == 1
    assert out == ""
    assert f"cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("sim_scripts", "is not MODULE:FUNCTION"),
        ("sim_scripts:missing", "has no 'missing'; scripts it defines: fixed, shout"),
        ("sim_scripts:not_a_script", "'not_a_script' is of type int, not a function or a Reply"),
        ("nowhere/x.py:f", "cannot import 'nowhere/x.py': FileNotFoundError"),
    ],
)
def test_load_script_errors_say_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, problem: str
) -> None:
    (tmp_path / "sim_scripts.py").write_text(SCRIPT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ValueError, match=re.escape(problem)):
        load_script(spec)
