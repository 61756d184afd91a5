"""``flink-agents a2a serve`` takes its options from the settings too; an option given wins.

Only refusals that come before Kafka is reached are run here; the integration tests start
the gateway for real, with its port from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("flink-agents"))


def serve(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLINK_AGENTS_")}
    return subprocess.run(
        [CLI, "--home", str(tmp_path / "home"), "a2a", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**clean, **env},
    )


def test_the_token_variable_comes_from_the_settings(tmp_path: Path):
    done = serve(tmp_path, {"FLINK_AGENTS_GATEWAY__TOKEN_ENV": "NO_SUCH_TOKEN_VAR"})
    assert done.returncode != 0
    assert "NO_SUCH_TOKEN_VAR is not set or empty" in done.stdout + done.stderr


def test_an_option_given_wins_over_the_setting(tmp_path: Path):
    env = {"FLINK_AGENTS_GATEWAY__TOKEN_ENV": "A_SET_TOKEN", "A_SET_TOKEN": "t"}
    done = serve(tmp_path, env, "--token-env", "OTHER_UNSET_TOKEN")
    assert done.returncode != 0
    assert "OTHER_UNSET_TOKEN is not set or empty" in done.stdout + done.stderr


def test_a_limit_out_of_range_is_refused_naming_it(tmp_path: Path):
    done = serve(tmp_path, {}, "--max-concurrent", "0")
    assert done.returncode != 0 and "max_concurrent" in done.stdout + done.stderr
    done = serve(tmp_path, {"FLINK_AGENTS_GATEWAY__WAIT_S": "-1"})
    assert done.returncode != 0 and "gateway.wait_s" in done.stdout + done.stderr


def test_the_agents_served_are_a_comma_separated_list_in_the_environment():
    from flink_agents.config import load_settings

    env = {"FLINK_AGENTS_GATEWAY__AGENTS": "review, triage,"}
    assert load_settings(environ=env, file=None).gateway.agents == ["review", "triage"]
    assert load_settings(environ={}, file=None).gateway.agents == []


def test_the_token_may_come_from_a_file_and_one_way_only(tmp_path: Path):
    from flink_agents.cli._a2a import _token
    from flink_agents.errors import ConfigError

    secret = tmp_path / "token"
    secret.write_text("s3cret\n")  # as a mounted secret often ends
    assert _token(None, secret) == "s3cret"
    assert _token(None, None) is None
    secret.write_text("  \n")
    done = serve(tmp_path, {"FLINK_AGENTS_GATEWAY__TOKEN_FILE": str(secret)})
    assert done.returncode != 0 and f"token_file {secret} is empty" in done.stdout + done.stderr
    missing = tmp_path / "nowhere"
    done = serve(tmp_path, {}, "--token-file", str(missing))
    assert done.returncode != 0
    assert f"token_file {missing}: cannot read it" in done.stdout + done.stderr
    with pytest.raises(ConfigError, match=r"--token-env \(gateway.token_env\) or --token-file"):
        _token("SOME_VAR", secret)
