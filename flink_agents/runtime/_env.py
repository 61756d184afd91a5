"""The Flink environment of a job: execution mode, Python paths, jars, latency and checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from flink_agents import _pythonenv
from flink_agents.config import Settings
from flink_agents.local import fetch
from flink_agents.runtime._replay import restore_options


def job_configuration(settings: Settings, job_name: str, extra_paths: list[Path]) -> Configuration:
    """Flink options for a job of this project; a cluster's own config.yaml sits below them."""
    runtime = settings.runtime
    client = _pythonenv.python_executable()
    # A remote cluster's workers run their own Python with their own packages; the local
    # cluster and the MiniCluster run this interpreter and import from its folders.
    remote = settings.cluster.target is not None
    python = settings.cluster.python if remote else client
    options = {
        "pipeline.name": job_name,
        "python.execution-mode": runtime.execution_mode,
        "python.executable": python,
        "python.client.executable": client,
        "python.fn-execution.bundle.size": str(runtime.bundle_size),
        "python.fn-execution.bundle.time": str(runtime.bundle_time_ms),
        "execution.buffer-timeout.interval": f"{runtime.buffer_timeout_ms} ms",
        "parallelism.default": str(runtime.parallelism),
        "table.exec.resource.default-parallelism": str(runtime.parallelism),
    }
    if not remote:
        options["python.pythonpath"] = os.pathsep.join(_pythonenv.worker_pythonpath(extra_paths))
    elif settings.cluster.pythonpath:
        options["python.pythonpath"] = settings.cluster.pythonpath
    if runtime.ship_jars:
        jars = fetch("flink-connectors", settings.jar_cache, settings.maven_url)
        options["pipeline.jars"] = ";".join(j.resolve().as_uri() for j in jars)
    if runtime.checkpoint_interval_s > 0:
        options["execution.checkpointing.interval"] = (
            f"{int(runtime.checkpoint_interval_s * 1000)} ms"
        )
    options.update(restore_options(settings.replay))
    conf = Configuration()
    for key, value in options.items():
        conf.set_string(key, value)
    return conf


def environments(
    settings: Settings, job_name: str, extra_paths: list[Path] | None = None
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A DataStream environment and a Table environment over it, configured for this project.

    Run as ``python job.py`` it is a local MiniCluster; under ``flink run`` it is the cluster.
    Thread mode embeds Python in the TaskManager; ``python.pythonpath`` lets that embedded
    interpreter import this environment's packages.
    """
    conf = job_configuration(settings, job_name, extra_paths or [])
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    return env, StreamTableEnvironment.create(env)
