"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flink_agents.config import Settings
from flink_agents.errors import StackError
from flink_agents.local import _jars, _process
from flink_agents.local._status import PartStatus

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass
class KafkaBroker:
    """Start, probe and stop the broker of the local stack; files live under ``home/kafka``."""

    settings: Settings
    _admin: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def root(self) -> Path:
        return self.settings.home / "kafka"

    @property
    def log(self) -> Path:
        return self.settings.home / "logs" / "kafka.log"

    @property
    def _out(self) -> Path:
        return self.settings.home / "logs" / "kafka.out"

    @property
    def _pid_file(self) -> Path:
        return self.settings.home / "run" / "kafka.pid"

    def pid(self) -> int | None:
        # The broker's command line names its config file under ``root`` (absolute path).
        pid = _process.read_pid(self._pid_file, marker=str(self.root.resolve()))
        if pid is None:
            self._pid_file.unlink(missing_ok=True)  # the file never names a dead broker
        return pid

    def start(self) -> None:
        if self.pid():
            return
        java = _process.java_executable()
        kafka = self.settings.kafka
        _process.ensure_port_free(kafka.host, kafka.port, "kafka.port")
        _process.ensure_port_free(kafka.host, kafka.controller_port, "kafka.controller_port")
        jars = _jars.fetch("kafka", self.settings.jar_cache, self.settings.maven_url)
        classpath = ":".join(str(j) for j in jars)
        config = self._write_config()
        self._format_storage(java, classpath, config)
        proc = _process.start_background(
            [
                java,
                f"-Xmx{kafka.heap}",
                f"-Xms{kafka.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config.resolve()),
            ],
            self._out,
            self._pid_file,
        )
        _process.wait_until(
            self.ready,
            timeout=self.settings.startup_timeout_s,
            what="Kafka",
            alive=lambda: proc.poll() is None,
            log=lambda: self.log if self.log.exists() else self._out,
        )

    def ready(self) -> bool:
        """True when the broker answers a metadata request."""
        if self._admin is None:  # one client for every probe of a start-up, not one each
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(
                {"bootstrap.servers": self.settings.kafka.bootstrap_servers, "log_level": 0}
            )
        try:
            return bool(self._admin.list_topics(timeout=1).brokers)
        except Exception:  # noqa: BLE001 - any failure here means "not ready yet"
            return False

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            _process.terminate(pid)
        self._pid_file.unlink(missing_ok=True)

    def status(self) -> PartStatus:
        pid = self.pid()
        address = self.settings.kafka.bootstrap_servers
        if not pid:
            return PartStatus("kafka", running=False, detail=f"stopped ({address})")
        if self.ready():
            return PartStatus("kafka", running=True, pid=pid, detail=f"ready at {address}")
        return PartStatus("kafka", running=True, pid=pid, detail=f"not answering at {address}")

    def _write_config(self) -> Path:
        kafka = self.settings.kafka
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{kafka.host}:{kafka.controller_port}",
            "listeners": (
                f"PLAINTEXT://{kafka.host}:{kafka.port},CONTROLLER://{kafka.host}:"
                f"{kafka.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{kafka.host}:{kafka.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data.resolve()),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            # Flink's exactly-once sink keeps transactions open for a checkpoint interval.
            "transaction.max.timeout.ms": "900000",
        }
        config = self.root / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.root / "log4j2.properties").write_text(_LOG4J2.format(log=self.log.resolve()))
        return config

    def _format_storage(self, java: str, classpath: str, config: Path) -> None:
        """Format the KRaft storage once: a formatted data folder has ``meta.properties``."""
        if (self.root / "data" / "meta.properties").exists():
            return
        tool = [java, "-cp", classpath, "kafka.tools.StorageTool"]
        cluster_id = _run([*tool, "random-uuid"]).strip().splitlines()[-1]
        _run([*tool, "format", "-t", cluster_id, "-c", str(config), "--standalone"])


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(f"`{' '.join(cmd[-4:])}` failed:\n{done.stdout}{done.stderr}")
    return done.stdout
