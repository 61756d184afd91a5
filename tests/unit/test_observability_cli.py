"""`trace --otlp` and `top`: mistakes in how they are called, and clusters that do not
answer, are one clear error each."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from flink_agents.cli import app
from flink_agents.local import free_port


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *args])


def test_trace_needs_a_conversation_or_an_otlp_endpoint_not_both(tmp_path: Path):
    for args in (["trace", "fraud"], ["trace", "fraud", "a/b", "--otlp", "http://h:4318"]):
        done = run(tmp_path, *args)
        assert done.exit_code == 1
        assert "give either a conversation (<agent>/<key>) to print, or --otlp" in done.stderr


def test_trace_refuses_an_otlp_endpoint_that_is_not_an_http_url(tmp_path: Path):
    done = run(tmp_path, "trace", "fraud", "--otlp", "127.0.0.1:4317")
    assert done.exit_code == 1
    assert "OTLP endpoint '127.0.0.1:4317' is not an http(s) URL" in done.stderr


def test_top_of_a_cluster_that_does_not_answer_names_its_address(tmp_path: Path):
    target = f"127.0.0.1:{free_port()}"
    done = run(tmp_path, "top", "--once", "--target", target)
    assert done.exit_code == 1
    assert f"Flink REST API not reachable at http://{target}/jobs/overview" in done.stderr
