"""The Docker files, checked as far as a machine without a Docker engine allows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def compose() -> dict[str, object]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.kafka"])
def test_every_file_an_image_copies_exists_or_is_staged(dockerfile: str):
    copies = re.findall(r"^COPY (.+) \S+$", (DOCKER / dockerfile).read_text(), re.M)
    sources = [s for line in copies for s in line.split()]
    assert sources
    for source in sources:
        staged = source.startswith(".flink-agents/docker/jars")  # docker/build.sh puts them
        assert staged or (ROOT / source).exists(), f"{dockerfile} copies {source}: not found"


@pytest.mark.parametrize("script", sorted(p.name for p in DOCKER.glob("*.sh")))
def test_scripts_are_valid_bash(script: str):
    done = subprocess.run(["bash", "-n", str(DOCKER / script)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_compose_runs_the_project_images_and_the_demo_servers():
    services = compose()["services"]  # type: ignore[index]
    assert {"kafka", "jobmanager", "taskmanager-1", "taskmanager-2", "tools", "model"} <= set(
        services
    )
    assert services["model"]["profiles"] == ["simulator"]
    assert all(s["network_mode"] == "host" for s in services.values())
    for service in ("tools", "model"):
        module = services[service]["entrypoint"][-1]
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
    script = services["model"]["command"][services["model"]["command"].index("--script") + 1]
    module, _, name = script.partition(":")
    assert name in (ROOT / (module.replace(".", "/") + ".py")).read_text()


def test_every_port_is_a_variable_so_deployments_can_share_a_machine():
    text = (DOCKER / "compose.yaml").read_text()
    ports = re.findall(r"\$\{(\w*PORT)(?::-\d+)?\}", text)
    assert set(ports) >= {"KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REST_PORT", "RPC_PORT"}
    assert not re.search(r"^\s*ports:", text, re.M)  # host networking publishes nothing


def test_the_build_context_sends_what_the_dockerfiles_copy():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    kept = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for dockerfile in ("Dockerfile", "Dockerfile.kafka"):
        copies = re.findall(r"^COPY (.+) \S+$", (DOCKER / dockerfile).read_text(), re.M)
        for source in (s.rstrip("/") for line in copies for s in line.split()):
            assert any(source == k or source.startswith(k + "/") for k in kept), source


def test_compose_listens_on_loopback_unless_told_otherwise():
    services = compose()["services"]  # type: ignore[index]
    loopback = "${HOST:-127.0.0.1}"
    assert services["kafka"]["environment"]["KAFKA_HOST"] == loopback
    assert services["jobmanager"]["environment"]["BIND_HOST"] == loopback
    for name in ("tools", "model"):
        command = services[name]["command"]
        assert command[command.index("--host") + 1] == loopback
