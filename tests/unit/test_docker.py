"""The Docker files, checked as far as a machine without a Docker engine allows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from flink_agents.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def compose() -> dict[str, object]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_every_file_the_image_copies_exists():
    copies = re.findall(r"^COPY (.+) \S+$", (DOCKER / "Dockerfile").read_text(), re.M)
    sources = [s for line in copies for s in line.split()]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repo"


def test_entrypoint_is_valid_bash():
    done = subprocess.run(["bash", "-n", str(DOCKER / "entrypoint.sh")], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_compose_builds_from_the_dockerfile_and_submits_a_real_job():
    services = compose()["services"]  # type: ignore[index]
    assert {"kafka", "jobmanager", "taskmanager", "model", "submit"} <= set(services)
    build = services["jobmanager"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"
    job = services["submit"]["command"][1]
    assert (ROOT / job).exists()
    script = services["model"]["command"][services["model"]["command"].index("--script") + 1]
    module, _, name = script.partition(":")
    assert name in (ROOT / (module.replace(".", "/") + ".py")).read_text()


def test_compose_settings_are_real_settings():
    env = compose()["services"]["submit"]["environment"]  # type: ignore[index]
    ours = {k: str(v) for k, v in env.items() if k.startswith("FLINK_AGENTS_")}
    settings = load_settings(environ=ours, file=None)
    assert settings.bootstrap_servers == "kafka:9092"


def test_compose_publishes_ports_on_loopback_only():
    services = compose()["services"]  # type: ignore[index]
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published
    assert all(str(p).startswith("127.0.0.1:") for p in published), published
