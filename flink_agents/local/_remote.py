"""A Flink cluster reached only through its REST endpoint: compose, Kubernetes, a remote host.

Jobs are submitted with the wheel's own ``bin/flink`` and a small client configuration
(``home/clients/HOST_PORT/config.yaml``) that names the endpoint; the job's Python runs on
the cluster's workers with the cluster's Python (``cluster.python``), not this machine's.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flink_agents import _pythonenv
from flink_agents.config import Settings
from flink_agents.errors import ConfigError
from flink_agents.local import _rest
from flink_agents.local._flink import flink_home


@dataclass
class RemoteCluster:
    """The cluster at ``settings.cluster.target``, driven like the local one."""

    settings: Settings

    def __post_init__(self) -> None:
        if not self.settings.cluster.target:
            raise ConfigError(
                "no cluster target: pass --target HOST:PORT or set cluster.target "
                "(FLINK_AGENTS_CLUSTER__TARGET)"
            )

    @property
    def rest_url(self) -> str:
        return f"http://{self.settings.cluster.target}"

    @property
    def client_dir(self) -> Path:
        name = re.sub(r"[^A-Za-z0-9.-]", "_", str(self.settings.cluster.target))
        return self.settings.home / "clients" / name

    def rest(self, path: str, method: str = "GET", body: Any = None) -> Any:
        return _rest.call(self.rest_url, path, method, body)

    def script(self, name: str) -> str:
        return str(flink_home() / "bin" / name)

    def worker_python(self) -> str:
        return self.settings.cluster.python

    def savepoint_target(self) -> str | None:
        """``cluster.savepoint_dir``; None lets the cluster use its own savepoint folder."""
        return self.settings.cluster.savepoint_dir

    def warm_client(self) -> None:
        """None: a remote cluster's jobs are built by `flink run`."""
        return None

    def env(self) -> dict[str, str]:
        """Environment for ``bin/flink`` (and the job script it runs) to use this cluster."""
        conf = self.client_dir / "conf"
        logs = self.client_dir / "logs"
        if conf.exists():
            shutil.rmtree(conf)
        conf.mkdir(parents=True)
        logs.mkdir(parents=True, exist_ok=True)
        folders = self.settings.cluster.pythonpath
        pythonpath = {"FLINK_AGENTS_CLUSTER__PYTHONPATH": folders} if folders else {}
        for log_config in (flink_home() / "conf").glob("log4j*.properties"):
            shutil.copy(log_config, conf / log_config.name)
        (conf / "config.yaml").write_text(yaml.safe_dump(self.client_config(), sort_keys=True))
        return {
            **os.environ,
            "FLINK_CONF_DIR": str(conf.resolve()),
            "FLINK_LOG_DIR": str(logs.resolve()),
            # The job script loads the settings again: it must build a job for this cluster.
            "FLINK_AGENTS_CLUSTER__TARGET": str(self.settings.cluster.target),
            "FLINK_AGENTS_CLUSTER__PYTHON": self.settings.cluster.python,
            **pythonpath,
        }

    def client_config(self) -> dict[str, Any]:
        """What ``bin/flink`` needs: where the REST API is and which Pythons to use."""
        host_port = self.settings.cluster.host_port
        assert host_port is not None  # checked in __post_init__
        python = _pythonenv.python_executable()
        wheel = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
        return {
            # The JVM flags Flink 2 needs on Java 17 (--add-opens ...), as the wheel sets them.
            "env.java.opts.all": wheel["env"]["java"]["opts"]["all"],
            "rest.address": host_port[0],
            "rest.port": host_port[1],
            "python.client.executable": python,
            "python.executable": self.worker_python(),
        }
