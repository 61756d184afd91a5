"""Settings: one home for every default, overridable by file, environment and call.

Precedence, lowest first: the defaults below, ``flink-agents.yaml`` in the working
directory (or the file named by ``FLINK_AGENTS_CONFIG``), environment variables
``FLINK_AGENTS_<SECTION>__<FIELD>`` and finally explicit overrides (the CLI's options).
``docs/configuration.md`` lists every field.

>>> s = load_settings(environ={"FLINK_AGENTS_KAFKA__PORT": "19092"}, file=None)
>>> s.kafka.port, s.kafka.bootstrap_servers
(19092, '127.0.0.1:19092')
>>> load_settings(overrides={"flink": {"rest_port": 18081}}, environ={}, file=None).flink.rest_port
18081
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flink_agents.errors import ConfigError, explain

ENV_PREFIX = "FLINK_AGENTS_"
CONFIG_FILE = "flink-agents.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KafkaSettings(_Section):
    """The local single-node Kafka broker (KRaft, broker and controller in one process)."""

    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"


class FlinkSettings(_Section):
    """The local standalone Flink cluster started from the apache-flink wheel."""

    host: str = "127.0.0.1"
    rest_port: int = 8081
    rpc_port: int = 6123
    task_slots: int = 8
    taskmanagers: int = Field(default=1, ge=1)
    jobmanager_memory: str = "1600m"
    taskmanager_memory: str = "3g"
    #: A long-lived PyFlink client JVM beside the cluster, which `submit` builds jobs in.
    warm_client: bool = True
    warm_client_heap: str = "768m"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"


class ClusterSettings(_Section):
    """The Flink cluster that ``submit``, ``jobs``, ``stop`` and ``savepoint`` talk to.

    Without a ``target`` they use the local standalone cluster (``flink``); with one, any
    Flink REST endpoint: a compose deployment, a Kubernetes session cluster, a remote host.

    >>> ClusterSettings(target="flink.example.com:8081").rest_url
    'http://flink.example.com:8081'
    >>> ClusterSettings(target="http://10.0.0.5:8081/").host_port
    ('10.0.0.5', 8081)
    """

    target: str | None = None
    python: str = "python3"
    pythonpath: str | None = None
    savepoint_dir: str | None = None
    #: How long ``submit`` waits for ``flink run`` (building the job, handing it over).
    submit_timeout_s: float = Field(default=300.0, gt=0)

    @field_validator("target")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        bare = value.removeprefix("http://").rstrip("/")
        host, _, port = bare.rpartition(":")
        if "://" in bare or "/" in bare or not host or not port.isdigit():
            raise ValueError(
                f"{value!r} is not HOST:PORT (or http://HOST:PORT) of a Flink REST endpoint"
            )
        return f"{host}:{port}"

    @property
    def host_port(self) -> tuple[str, int] | None:
        if not self.target:
            return None
        host, _, port = self.target.rpartition(":")
        return host, int(port)

    @property
    def rest_url(self) -> str | None:
        return f"http://{self.target}" if self.target else None


class RuntimeSettings(_Section):
    """Knobs of the Flink jobs this project builds; ``docs/configuration.md`` explains each.

    The defaults come from the benchmarks in ``bench/``: thread mode (Python embedded in the
    TaskManager) and a short buffer timeout keep a loop through Kafka to a few milliseconds.
    """

    bootstrap_servers: str | None = None
    parallelism: int = 1
    execution_mode: Literal["thread", "process"] = "thread"
    buffer_timeout_ms: int = 0
    checkpoint_interval_s: float = 10.0
    transaction_timeout_s: float = 0.0
    bundle_size: int = 1000
    bundle_time_ms: int = 5
    #: ``linger.ms`` of every producer of the jobs (the sinks' and the call executor's): 5 ms,
    #: the Kafka clients' own default, batches a step's records; 1 ms cost the broker and the
    #: TaskManager a third more CPU per step (bench/README.md).
    producer_linger_ms: int = Field(default=5, ge=0)
    producer_compression: Literal["none", "gzip", "snappy", "lz4"] = "none"
    ship_jars: bool = True
    recovery_lookback_s: float = Field(default=300.0, ge=0)
    recovery_scan_timeout_s: float = Field(default=60.0, gt=0)
    #: What the events topic keeps: ``full``, every step's events (the audit trail) and the
    #: call results; ``results``, the call results and peers' answers only (fewer records).
    events_log: Literal["full", "results"] = "full"
    #: ``linger.ms`` of the producer that writes the ``step`` records (``events_log: full``):
    #: no call waits on them, so they go to the broker in a few large requests and rarely
    #: wake the events topic's reader, which the call results come back through.
    events_log_linger_ms: int = Field(default=100, ge=0)


class ReplaySettings(_Section):
    """Set by ``flink-agents replay`` for the job file it runs; a job without them is live."""

    name: str = ""
    mode: Literal["exact", "what-if"] = "exact"
    from_ms: int = 0
    to_ms: int = 0
    #: A savepoint or retained checkpoint (a folder with Flink's ``_metadata``, or a URI)
    #: the replay starts from, with the memory, running tasks and queues it holds.
    savepoint: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.name)


class GatewaySettings(_Section):
    """``flink-agents a2a serve``: the A2A HTTP gateway; its command-line options win.

    >>> load_settings(environ={"FLINK_AGENTS_GATEWAY__PORT": "8200"}, file=None).gateway.port
    8200
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    url: str | None = None
    token_env: str | None = None
    #: A file holding the bearer token (a mounted secret), instead of ``token_env``.
    token_file: Path | None = None
    caller: str = Field(default="a2a-gateway", min_length=1)
    max_request_bytes: int = Field(default=1_048_576, gt=0)
    max_concurrent: int = Field(default=16, gt=0)
    wait_s: float = Field(default=300.0, gt=0)
    #: The agents served (comma-separated in the environment); empty: every agent with a card.
    agents: list[str] = Field(default_factory=list)

    @field_validator("agents", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value


class ObservabilitySettings(_Section):
    """What a running job exports besides Flink's own metrics.

    >>> env = {"FLINK_AGENTS_OBSERVABILITY__OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    >>> load_settings(environ=env, file=None).observability.otlp_endpoint
    'http://127.0.0.1:4318'
    """

    #: OTLP/HTTP receiver the jobs send their spans to, as tasks go; none: no live export.
    otlp_endpoint: str | None = None

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL of an OTLP/HTTP receiver "
                "(e.g. http://127.0.0.1:4318; OTLP over gRPC is not supported)"
            )
        return value


class Settings(_Section):
    """All settings. ``home`` holds data, logs, checkpoints, savepoints and (by default) caches."""

    home: Path = Path(".flink-agents")
    cache: Path | None = None
    maven_url: str = "https://repo1.maven.org/maven2"
    startup_timeout_s: float = 90.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    flink: FlinkSettings = Field(default_factory=FlinkSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @property
    def bootstrap_servers(self) -> str:
        """Kafka for jobs: ``runtime.bootstrap_servers`` if set, else the local broker."""
        return self.runtime.bootstrap_servers or self.kafka.bootstrap_servers

    @property
    def jar_cache(self) -> Path:
        """Downloaded jars: ``cache`` if set (several homes may share one), else ``home/cache``."""
        return (self.cache or self.home / "cache") / "jars"


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    file: Path | str | None = "auto",
) -> Settings:
    """Build the settings from defaults, a YAML file, the environment and overrides."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    path = _config_path(environ) if file == "auto" else file
    if path is not None and Path(path).exists():
        _merge(merged, _read_yaml(Path(path)))
    _merge(merged, _from_environ(environ))
    _merge(merged, dict(overrides or {}))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        source = f" (file {path})" if path and Path(path).exists() else ""
        raise ConfigError(f"invalid settings{source}: {explain(exc)}") from None


def _config_path(environ: Mapping[str, str]) -> Path | None:
    named = environ.get(ENV_PREFIX + "CONFIG")
    if named:
        if not Path(named).exists():
            raise ConfigError(f"{ENV_PREFIX}CONFIG names {named}, which does not exist")
        return Path(named)
    return Path(CONFIG_FILE)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, not {type(data).__name__}")
    return data


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """``FLINK_AGENTS_KAFKA__PORT=19092`` becomes ``{"kafka": {"port": "19092"}}``."""
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
