"""A Flink standalone cluster run from the apache-flink wheel's own scripts.

The wheel carries a whole Flink distribution (``pyflink/bin``, ``pyflink/lib``). The cluster
gets a generated configuration folder (``FLINK_CONF_DIR``) and a lib folder
(``FLINK_LIB_DIR``) that links the wheel's jars and adds the Kafka connector, so nothing
inside the installed wheel is changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flink_agents import _pythonenv
from flink_agents.config import Settings
from flink_agents.errors import StackError
from flink_agents.local import _jars, _process, _rest
from flink_agents.local._status import PartStatus
from flink_agents.local._warm import WarmClient

_IDENT = "flink-agents"
_UP = "`flink-agents local up` starts what is missing"
PEKKO_STARTUP = "-Dpekko.remote.classic.startup-timeout=120s"


def flink_home() -> Path:
    """The Flink distribution inside the installed ``apache-flink`` wheel."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


@dataclass
class FlinkCluster:
    """Start, probe and stop the local standalone cluster; files live under ``home/flink``."""

    settings: Settings

    @property
    def root(self) -> Path:
        return self.settings.home / "flink"

    @property
    def rest_url(self) -> str:
        return self.settings.flink.rest_url

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def lib_dir(self) -> Path:
        return self.root / "lib"

    @property
    def log_dir(self) -> Path:
        return self.settings.home / "logs" / "flink"

    @property
    def pid_dir(self) -> Path:
        return self.settings.home / "run"

    @property
    def checkpoint_dir(self) -> Path:
        return (self.settings.home / "checkpoints").resolve()

    @property
    def savepoint_dir(self) -> Path:
        return (self.settings.home / "savepoints").resolve()

    def pids(self, starting: bool = False) -> dict[str, int]:
        """Live daemons started by this stack: ``standalonesession`` and ``taskexecutor``
        (extra TaskManagers are ``taskexecutor-1``, ``taskexecutor-2``, ...).

        A daemon's command line names its log file in this stack's log folder; while
        ``starting``, that is not checked: the scripts write the pid of a shell that only
        then becomes the JVM.
        """
        found = {}
        marker = None if starting else str(self.log_dir.resolve())
        for daemon in ("standalonesession", "taskexecutor"):
            path = self._pid_file(daemon)
            if not path.exists():
                continue
            for index, line in enumerate(path.read_text().split()):
                if line.isdigit() and _process.pid_alive(int(line), marker):
                    found[f"{daemon}-{index}" if index else daemon] = int(line)
        return found

    def forget_dead(self) -> None:
        """Drop the pids of daemons that died from the pid files, so the files name only
        live daemons (and Flink's scripts number new ones after the live ones)."""
        marker = str(self.log_dir.resolve())
        for daemon in ("standalonesession", "taskexecutor"):
            path = self._pid_file(daemon)
            if not path.exists():
                continue
            pids = [p for p in path.read_text().split() if p.isdigit()]
            live = [p for p in pids if _process.pid_alive(int(p), marker)]
            if live != pids:
                if live:
                    path.write_text("".join(f"{p}\n" for p in live))
                else:
                    path.unlink()

    def wanted_taskmanagers(self) -> int:
        """How many TaskManagers the last ``start`` was asked for (``flink.taskmanagers``)."""
        try:
            return int(self._wanted_file.read_text())
        except (OSError, ValueError):
            return self.settings.flink.taskmanagers

    @property
    def _wanted_file(self) -> Path:
        return self.pid_dir / "flink-taskmanagers"

    def taskmanager_pids(self) -> list[int]:
        """The live TaskManagers' pids, oldest first."""
        return [pid for name, pid in self.pids().items() if name.startswith("taskexecutor")]

    def warm_client(self) -> WarmClient:
        """The cluster's warm client (started with it unless ``flink.warm_client`` is off)."""
        return WarmClient(self.settings)

    def env(self) -> dict[str, str]:
        """Environment for the wheel's scripts (``bin/flink`` too) to use this cluster."""
        return {
            **os.environ,
            "FLINK_CONF_DIR": str(self.conf_dir.resolve()),
            "FLINK_LIB_DIR": str(self.lib_dir.resolve()),
            "FLINK_IDENT_STRING": _IDENT,
            "FLINK_LOG_DIR": str(self.log_dir.resolve()),
            "FLINK_PID_DIR": str(self.pid_dir.resolve()),
        }

    def script(self, name: str) -> str:
        return str(flink_home() / "bin" / name)

    def start(self) -> None:
        """Start what is missing: the JobManager and TaskManagers up to ``flink.taskmanagers``.

        Daemons that run are left alone, so after a TaskManager died this starts only a new
        one in its place.
        """
        # Pid files may name daemons that died (or were left by a machine that went down);
        # Flink's scripts would append to them and number the new daemons after the dead.
        self.forget_dead()
        live = self.pids()
        _process.java_executable()
        flink = self.settings.flink
        if "standalonesession" not in live:
            _process.ensure_port_free(flink.host, flink.rest_port, "flink.rest_port")
            _process.ensure_port_free(flink.host, flink.rpc_port, "flink.rpc_port")
        if not live:  # a fresh start: running daemons keep the files they were started with
            self._write_conf()
            self._link_lib()
        if "standalonesession" not in live:
            self._run_script("jobmanager.sh", "start")
        wanted = max(flink.taskmanagers, self.wanted_taskmanagers()) if live else flink.taskmanagers
        self._wanted_file.write_text(f"{wanted}\n")
        # TaskManagers that died stay registered for a few seconds: count the new ones.
        registered = self._taskmanager_ids()
        starting = wanted - len(self.taskmanager_pids())
        for _ in range(starting):
            self._run_script("taskmanager.sh", "start")
        _process.wait_until(
            lambda: len(self._taskmanager_ids() - registered) >= starting,
            timeout=self.settings.startup_timeout_s,
            what=f"Flink (JobManager and {wanted} TaskManager(s))",
            alive=lambda: len(self.pids(starting=True)) >= 1 + wanted,
            log=self._failed_log,
        )
        self._start_warm_client()

    def _start_warm_client(self) -> None:
        client = self.warm_client()
        if not self.settings.flink.warm_client:
            client.stop()  # one left from a start with it on
            return
        java_opts = str(self.config()["env.java.opts.all"])
        try:
            client.start(self.conf_dir, self.lib_dir, java_opts, self.env())
        except StackError as exc:
            raise StackError(
                f"{exc}\n(the Flink cluster runs; this is its warm client, which `submit` "
                "builds jobs in: without it, set flink.warm_client: false and `submit` uses "
                "`flink run`)"
            ) from exc
        # A stack that is up is warm: the first submission does not wait for the client's
        # warm-up or pay for the TaskManagers' first Python start. Past the timeout the
        # stack is usable anyway (its status says the client is still warming up).
        client.wait_warm(self.settings.startup_timeout_s)

    def add_taskmanager(self) -> None:
        """Start one more TaskManager (fault tests kill one while another takes over)."""
        before = self._taskmanagers()
        self._run_script("taskmanager.sh", "start")
        _process.wait_until(
            lambda: self._taskmanagers() > before,
            timeout=self.settings.startup_timeout_s,
            what="an extra Flink TaskManager",
            log=lambda: self._log("taskexecutor"),  # the newest: the one starting
        )

    def stop(self) -> None:
        self.warm_client().stop()
        if self.pids():
            for script in ("taskmanager.sh", "jobmanager.sh"):
                self._run_script(script, "stop-all", check=False)
        for pid in self.pids().values():  # whatever the scripts missed
            _process.terminate(pid)
        for pid_file in self.pid_dir.glob(f"flink-{_IDENT}-*.pid"):
            pid_file.unlink()
        self._wanted_file.unlink(missing_ok=True)

    def status(self) -> PartStatus:
        """Running while the JobManager and at least one TaskManager live; the detail says
        when fewer TaskManagers than ``flink.taskmanagers`` are left."""
        url = self.settings.flink.rest_url
        self.forget_dead()
        pids = self.pids()
        if not pids:
            return PartStatus("flink", running=False, detail=f"stopped ({url})")
        jobmanager = pids.get("standalonesession")
        if jobmanager is None:
            return PartStatus(
                "flink", running=False, detail=f"the JobManager is not running ({url}); {_UP}"
            )
        wanted, alive = self.wanted_taskmanagers(), len(self.taskmanager_pids())
        if not alive:
            return PartStatus(
                "flink", running=False, pid=jobmanager, detail=f"no TaskManager is running; {_UP}"
            )
        try:
            overview = self.rest("/overview")
        except StackError as exc:
            return PartStatus("flink", running=True, pid=jobmanager, detail=str(exc))
        missing = f" ({wanted - alive} of {wanted} died; {_UP})" if alive < wanted else ""
        detail = (
            f"{url}: {alive} TaskManager(s){missing}, "
            f"{overview['slots-available']}/{overview['slots-total']} slots free, "
            f"{overview['jobs-running']} job(s) running"
        )
        return PartStatus("flink", running=True, pid=jobmanager, detail=detail)

    def rest(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the cluster's REST API and decode its JSON answer."""
        return _rest.call(self.rest_url, path, method, body)

    def worker_python(self) -> str:
        """The Python the cluster's workers run: this interpreter (same machine)."""
        return _pythonenv.python_executable()

    def savepoint_target(self) -> str | None:
        return self.savepoint_dir.as_uri()

    def _taskmanagers(self) -> int:
        return len(self._taskmanager_ids())

    def _taskmanager_ids(self) -> set[str]:
        """TaskManagers registered with the JobManager (none while it does not answer)."""
        try:
            return {tm["id"] for tm in self.rest("/taskmanagers")["taskmanagers"]}
        except StackError:
            return set()

    def _failed_log(self) -> Path:
        """The log of a TaskManager that died while the JobManager runs, else the
        JobManager's."""
        live = self.pids(starting=True)
        dead_tm = "standalonesession" in live and "taskexecutor" not in live
        return self._log("taskexecutor" if dead_tm else "standalonesession")

    def _pid_file(self, daemon: str) -> Path:
        return self.pid_dir / f"flink-{_IDENT}-{daemon}.pid"

    def _log(self, daemon: str) -> Path:
        logs = sorted(
            self.log_dir.glob(f"flink-{_IDENT}-{daemon}-*.log"), key=lambda log: log.stat().st_mtime
        )
        return logs[-1] if logs else self.log_dir / f"flink-{_IDENT}-{daemon}.log"

    def _run_script(self, script: str, action: str, check: bool = True) -> None:
        done = subprocess.run(
            [self.script(script), action],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise StackError(f"{script} {action} failed:\n{done.stdout}{done.stderr}")

    def _link_lib(self) -> None:
        if self.lib_dir.exists():
            shutil.rmtree(self.lib_dir)
        self.lib_dir.mkdir(parents=True)
        connectors = _jars.fetch(
            "flink-connectors", self.settings.jar_cache, self.settings.maven_url
        )
        # Python jobs need flink-python on the cluster's classpath; the wheel keeps it in opt/.
        python_jar = sorted((flink_home() / "opt").glob("flink-python-*.jar"))
        for jar in [*sorted((flink_home() / "lib").glob("*.jar")), *python_jar, *connectors]:
            (self.lib_dir / jar.name).symlink_to(jar.resolve())

    def _write_conf(self) -> None:
        if self.conf_dir.exists():
            shutil.rmtree(self.conf_dir)
        shutil.copytree(flink_home() / "conf", self.conf_dir)
        for folder in (self.log_dir, self.pid_dir, self.checkpoint_dir, self.savepoint_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(yaml.safe_dump(self.config(), sort_keys=True))

    def config(self) -> dict[str, Any]:
        """The cluster's ``config.yaml`` as flat keys."""
        wheel = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
        flink = self.settings.flink
        python = _pythonenv.python_executable()
        return {
            # Pekko's remoting gives up after 10 s when a busy machine starts it slowly, and
            # Flink's pekko.startup-timeout sets a key Pekko no longer reads; a system
            # property reaches Pekko's own setting.
            "env.java.opts.all": f"{wheel['env']['java']['opts']['all']} {PEKKO_STARTUP}",
            "env.log.dir": str(self.log_dir.resolve()),
            "env.pid.dir": str(self.pid_dir.resolve()),
            "jobmanager.bind-host": flink.host,
            "jobmanager.rpc.address": flink.host,
            "jobmanager.rpc.port": flink.rpc_port,
            "jobmanager.memory.process.size": flink.jobmanager_memory,
            "jobmanager.execution.failover-strategy": "region",
            "taskmanager.bind-host": flink.host,
            "taskmanager.host": flink.host,
            "taskmanager.numberOfTaskSlots": flink.task_slots,
            # A job at parallelism N on several TaskManagers gets a slot on each in turn,
            # so each subtask has its own JVM and embedded Python (its own GIL).
            "taskmanager.load-balance.mode": "slots",
            "taskmanager.memory.process.size": flink.taskmanager_memory,
            "rest.address": flink.host,
            "rest.bind-address": flink.host,
            "rest.port": flink.rest_port,
            "parallelism.default": 1,
            "python.executable": python,
            "python.client.executable": python,
            "python.pythonpath": os.pathsep.join(_pythonenv.worker_pythonpath()),
            "execution.checkpointing.dir": self.checkpoint_dir.as_uri(),
            "execution.checkpointing.savepoint-dir": self.savepoint_dir.as_uri(),
            # A killed TaskManager is noticed within seconds (two failed heartbeat RPCs, 2 s
            # apart), not after the 50 s heartbeat timeout, so recovery starts promptly.
            "heartbeat.interval": 2000,
            "heartbeat.timeout": 10000,
            "heartbeat.rpc-failure-threshold": 2,
            # The web UI and REST API show metrics this fresh (the default is 10 s).
            "metrics.fetcher.update-interval": 2000,
        }
