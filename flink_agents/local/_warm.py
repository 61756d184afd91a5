"""The warm client: a long-lived PyFlink client JVM beside the local cluster.

``flink run -py job.py`` starts a fresh JVM for each submission, and most of a submission's
seconds go to that JVM loading and compiling Flink's planner. The warm client is one JVM
started by ``local up`` (``_java/WarmClient.java``) that serves PyFlink's Py4J gateway with
the class path ``flink run`` has (the cluster's ``lib/``: Flink's jars, ``flink-python`` and
the Kafka connector). It warms itself once, in the background, by building a representative
job (``_warmup.py``). ``submit`` then runs the job file with plain ``python`` and
``PYFLINK_GATEWAY_PORT`` set to it: the job is built in the warm JVM and handed to the
JobManager over REST, detached.

One job at a time: PyFlink points the gateway's single callback client at each Python client
that connects, so submissions (and the warm-up) take a file lock in turn.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flink_agents import _pythonenv, versions
from flink_agents.config import Settings
from flink_agents.errors import StackError
from flink_agents.local import _process
from flink_agents.local._javac import compiled
from flink_agents.local._status import PartStatus
from flink_agents.local._warm_python import WarmPython

SOURCE = Path(__file__).with_name("_java") / "WarmClient.java"
MAIN = "WarmClient"
#: The key of the Java object in the gateway's entry point.
ENTRY = "FlinkAgentsWarmClient"
#: The line the client prints for each job it submitted, before the job id.
_SUBMITTED = "warm client: submitted job "


@dataclass(frozen=True)
class Submitted:
    """What running a job file against the warm client gave."""

    #: The job file's exit code; None when it ran out of time and was killed.
    returncode: int | None
    stdout: str
    stderr: str
    #: The id of the job it submitted, if it submitted one.
    job_id: str | None


@dataclass
class WarmClient:
    """Start, probe, stop and use the warm client; its files live under ``home``."""

    settings: Settings

    @property
    def python(self) -> WarmPython:
        """The warm Python that runs the job files (``_warm_python.py``)."""
        return WarmPython(self.settings)

    @property
    def log(self) -> Path:
        return self.settings.home / "logs" / "warm-client.log"

    @property
    def out(self) -> Path:
        """The client's standard output: a line for each job it submitted."""
        return self.settings.home / "logs" / "warm-client.out"

    @property
    def warmup_log(self) -> Path:
        return self.settings.home / "logs" / "warm-client-warmup.log"

    @property
    def _run_dir(self) -> Path:
        return self.settings.home / "run"

    @property
    def _pid_file(self) -> Path:
        return self._run_dir / "warm-client.pid"

    @property
    def _port_file(self) -> Path:
        return self._run_dir / "warm-client.port"

    @property
    def _warmup_pid_file(self) -> Path:
        return self._run_dir / "warm-client-warmup.pid"

    @property
    def _lock_file(self) -> Path:
        return self._run_dir / "warm-client.lock"

    def pid(self) -> int | None:
        """The client JVM's pid while it runs (its command line names its port file)."""
        return _process.read_pid(self._pid_file, marker=str(self._port_file.resolve()))

    def port(self) -> int | None:
        """The gateway's port while the client runs, else None."""
        if self.pid() is None:
            return None
        try:
            return int(self._port_file.read_text())
        except (OSError, ValueError):
            return None

    def submitted_jobs(self) -> list[str]:
        """The ids of the jobs this client built and submitted since it started, oldest first."""
        try:
            lines = self.out.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line.split()[-1] for line in lines if line.startswith(_SUBMITTED)]

    def warming(self) -> bool:
        """True while the warm-up runs (``_warmup.py``: it builds an agent job here and runs a
        small job on the TaskManagers)."""
        return _process.read_pid(self._warmup_pid_file, marker="_warmup") is not None

    def wait_warm(self, timeout: float) -> bool:
        """Wait for the warm-up to end; False if it still runs after ``timeout`` seconds."""
        return _process.poll(lambda: None if self.warming() else True, timeout) is not None

    def start(self, conf_dir: Path, lib_dir: Path, java_opts: str, env: dict[str, str]) -> None:
        """Start the client JVM (unless it runs or ``flink.warm_client`` is off), wait for its
        gateway, and start its warm-up in the background."""
        if not self.settings.flink.warm_client:
            return
        if self.pid() is not None:
            self.python.start(env)  # unless it runs: it stops when flink_agents changed
            return
        java = _process.java_executable()
        classpath = [str(lib_dir.resolve() / "*")]
        classes = compiled(
            SOURCE, MAIN, classpath, self.settings.jar_cache.parent, versions.FLINK_VERSION
        )
        self._run_dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._port_file.unlink(missing_ok=True)
        heap = self.settings.flink.warm_client_heap
        proc = _process.start_background(
            [
                java,
                f"-Xmx{heap}",
                *shlex.split(java_opts),
                f"-Dlog.file={self.log.resolve()}",
                f"-Dlog4j.configurationFile={(conf_dir / 'log4j-cli.properties').resolve()}",
                "-cp",
                os.pathsep.join([str(classes), *classpath]),
                MAIN,
                str(conf_dir.resolve()),
                str(self._port_file.resolve()),
            ],
            self.out,
            self._pid_file,
            env,
            append=False,
        )
        self.python.start(env)
        _process.wait_until(
            self._port_file.exists,
            timeout=self.settings.startup_timeout_s,
            what="the warm client (flink.warm_client)",
            alive=lambda: proc.poll() is None,
            log=self.out,
        )
        self._warm_up(env)

    def _warm_up(self, env: dict[str, str]) -> None:
        _process.start_background(
            [
                _pythonenv.python_executable(),
                "-m",
                "flink_agents.local._warmup",
                self.settings.model_dump_json(),
            ],
            self.warmup_log,
            self._warmup_pid_file,
            {**env, "PYFLINK_GATEWAY_PORT": str(self.port())},
        )

    def stop(self) -> None:
        self.python.stop()
        for path, marker in (
            (self._warmup_pid_file, "_warmup"),
            (self._pid_file, str(self._port_file.resolve())),
        ):
            pid = _process.read_pid(path, marker=marker)
            if pid is not None:
                _process.terminate(pid)
            path.unlink(missing_ok=True)
        self._port_file.unlink(missing_ok=True)

    def status(self) -> PartStatus:
        pid, port = self.pid(), self.port()
        if pid is None or port is None:
            return PartStatus(
                "client",
                running=False,
                detail="stopped: `submit` uses `flink run`; `flink-agents local up` starts it",
            )
        state = "warming up" if self.warming() else "ready"
        built = len(self.submitted_jobs())
        python = self.python.state()
        return PartStatus(
            "client",
            running=True,
            pid=pid,
            detail=f"warm PyFlink client on 127.0.0.1:{port} ({state}), {built} job(s) "
            f"submitted through it, warm Python {python}; log {self.log}",
        )

    @contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        """Hold the client for one job (others wait up to ``timeout`` seconds)."""
        self._run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock_file.open("a") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StackError(
                            f"the warm client was busy with another job for {timeout:.0f}s "
                            f"(its lock is {self._lock_file}); try again, or turn it off "
                            "with flink.warm_client: false"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def submit(
        self,
        command: list[str],
        options: dict[str, str],
        env: dict[str, str],
        timeout: float,
    ) -> Submitted | None:
        """Run ``command`` (the job file under ``python``) against the client, with
        ``options`` on top of the cluster's configuration for its job. None when the client
        does not answer (the caller falls back to ``flink run``)."""
        from py4j.java_gateway import GatewayParameters, JavaGateway
        from py4j.protocol import Py4JNetworkError

        started = time.monotonic()
        with self.held(timeout):
            port = self.port()
            if port is None:
                return None
            gateway = JavaGateway(
                gateway_parameters=GatewayParameters(port=port, auto_convert=True)
            )
            try:
                try:
                    client = gateway.entry_point.get(ENTRY)
                    client.prepare(options)
                except Py4JNetworkError:
                    return None
                left = max(1.0, timeout - (time.monotonic() - started))
                env = {**env, "PYFLINK_GATEWAY_PORT": str(port)}
                done = self.python.run(command, env, left)
                returncode, out, err = done or _process.run_captured(command, env, left)
                job_id: str | None = client.submittedJob()
            finally:
                gateway.close()
        return Submitted(returncode, out, err, job_id)
