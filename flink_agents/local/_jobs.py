"""Jobs on a Flink cluster: submit a Python job, wait for it, savepoint it, stop it, resume.

The cluster is the local standalone one (``FlinkCluster``) or any REST endpoint
(``RemoteCluster``); both give the REST API, the ``bin/flink`` environment, the workers'
Python and a savepoint folder.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flink_agents import _pythonenv
from flink_agents.config import Settings
from flink_agents.errors import ConfigError, StackError
from flink_agents.local._process import poll, run_captured

if TYPE_CHECKING:
    from flink_agents.local._warm import WarmClient

_JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")
#: Job states from which a job never runs again.
TERMINAL = ("FAILED", "CANCELED", "FINISHED")


class Cluster(Protocol):
    """What ``ClusterJobs`` needs of a cluster."""

    settings: Settings

    @property
    def rest_url(self) -> str: ...

    def rest(self, path: str, method: str = "GET", body: Any = None) -> Any: ...

    def script(self, name: str) -> str: ...

    def env(self) -> dict[str, str]: ...

    def worker_python(self) -> str: ...

    def savepoint_target(self) -> str | None: ...

    def warm_client(self) -> WarmClient | None: ...


@dataclass
class ClusterJobs:
    """The jobs of one cluster, driven through ``bin/flink`` and the REST API."""

    cluster: Cluster

    def submit(
        self,
        script: Path,
        args: list[str] | None = None,
        *,
        savepoint: str | None = None,
        env: dict[str, str] | None = None,
        allow_non_restored_state: bool = False,
        timeout: float | None = None,
    ) -> str:
        """Submit ``script`` detached; return the job id.

        The job file runs here to build the job, which is handed to the JobManager: in the
        local stack's warm client when it runs (``flink.warm_client``), else in a fresh
        ``flink run -d -py`` JVM. Either may take at most ``timeout`` seconds
        (``cluster.submit_timeout_s``). ``allow_non_restored_state`` resumes from a savepoint
        whose state some operator of the new job does not take (that state is dropped).
        """
        if allow_non_restored_state and not savepoint:
            raise ConfigError(
                "allowing non-restored state needs a savepoint to resume from "
                "(--allow-non-restored-state goes with --savepoint)"
            )
        limit = timeout or self.cluster.settings.cluster.submit_timeout_s
        environment = {**self.cluster.env(), **(env or {})}
        submitted = self._submit_warm(
            script, args or [], savepoint, allow_non_restored_state, environment, limit
        )
        if submitted is not None:
            returncode, out, err, job_id = submitted
            via = "the job file (run against the warm client)"
        else:
            returncode, out, err, job_id = self._flink_run(
                script, args or [], savepoint, allow_non_restored_state, environment, limit
            )
            via = "`flink run`"
        if returncode is None:
            accepted = (
                f"the JobManager had accepted it as job {job_id}, which may be running"
                if job_id
                else "no job was accepted"
            )
            raise StackError(
                f"submitting {script} did not finish within {limit:.0f}s: {via} was "
                f"still building the job (the job file runs here) or handing it to the "
                f"JobManager at {self.cluster.rest_url}, and was stopped; {accepted}. Check "
                "that the cluster answers (`flink-agents jobs`), or raise "
                f"cluster.submit_timeout_s. Its last output:\n{_last_lines(out + err, 15)}"
            )
        if returncode != 0 or not job_id:
            raise StackError(
                f"submitting {script} failed (exit {returncode}): "
                f"{submit_error(out, err, savepoint)}"
            )
        return job_id

    def _flink_run(
        self,
        script: Path,
        args: list[str],
        savepoint: str | None,
        allow_non_restored_state: bool,
        env: dict[str, str],
        limit: float,
    ) -> tuple[int | None, str, str, str | None]:
        cmd = [self.cluster.script("flink"), "run", "-d"]
        if savepoint:
            cmd += ["-s", savepoint]
            if allow_non_restored_state:
                cmd.append("--allowNonRestoredState")
        cmd += ["-py", str(script), "-pyexec", self.cluster.worker_python(), *args]
        returncode, out, err = run_captured(cmd, env, limit)
        found = _JOB_ID.search(out + err)
        return returncode, out, err, found.group(1) if found else None

    def _submit_warm(
        self,
        script: Path,
        args: list[str],
        savepoint: str | None,
        allow_non_restored_state: bool,
        env: dict[str, str],
        limit: float,
    ) -> tuple[int | None, str, str, str | None] | None:
        """Run the job file with ``python`` against the cluster's warm client; None when the
        cluster has none running (or ``flink.warm_client`` is off)."""
        client = self.cluster.warm_client()
        if client is None or not self.cluster.settings.flink.warm_client:
            return None
        options = self.warm_options(savepoint, allow_non_restored_state)
        command = [_pythonenv.python_executable(), str(script), *args]
        # flink run puts the working folder on the job file's Python path: so does this.
        paths = [str(Path.cwd()), *filter(None, [env.get("PYTHONPATH")])]
        env = {**env, "PYTHONPATH": os.pathsep.join(paths)}
        done = client.submit(command, options, env, limit)
        if done is None:
            return None
        # flink run prints the job file's output, and its traceback, on stdout.
        return done.returncode, done.stdout + done.stderr, "", done.job_id

    def warm_options(
        self, savepoint: str | None = None, allow_non_restored_state: bool = False
    ) -> dict[str, str]:
        """The options ``flink run`` adds to the cluster's configuration for a job, which a
        job built in the warm client gets instead."""
        options = {
            "python.executable": self.cluster.worker_python(),
            "execution.shutdown-on-attached-exit": "false",
            "execution.state-recovery.claim-mode": "NO_CLAIM",
            "execution.state-recovery.ignore-unclaimed-state": str(
                allow_non_restored_state
            ).lower(),
        }
        if savepoint:
            options["execution.state-recovery.path"] = savepoint
        return options

    def overview(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.cluster.rest("/jobs/overview")["jobs"]
        return jobs

    def state(self, job_id: str) -> str:
        state: str = self.cluster.rest(f"/jobs/{job_id}")["state"]
        return state

    def wait_running(self, job_id: str, timeout: float = 120.0) -> None:
        """Wait until the job and every one of its tasks run (sources are reading).

        A job that fails twice with the same root cause before it runs (a failing
        ``open()``, a missing key) would restart forever on that mistake: it is cancelled,
        and the error names the cause. A failure that does not repeat (a TaskManager lost
        once) is left to Flink's restarts.
        """

        def running() -> bool | None:
            job = self.cluster.rest(f"/jobs/{job_id}")
            if job["state"] in TERMINAL:
                raise StackError(f"job {job_id} is {job['state']}: {self.exception(job_id)}")
            vertices = job.get("vertices", [])
            tasks_run = bool(vertices) and all(v["status"] == "RUNNING" for v in vertices)
            if job["state"] == "RUNNING" and tasks_run:
                return True
            cause = self._repeated_failure(job_id)
            if cause is not None:
                self.cancel(job_id)
                raise StackError(
                    f"job {job_id} failed twice as it started: {cause}\n(it was cancelled so "
                    "that it does not restart on the same error; the TaskManager log under "
                    "logs/flink has the whole trace)"
                )
            return None

        if poll(running, timeout) is None:
            raise StackError(
                f"job {job_id} was not running after {timeout:.0f}s; its last failure: "
                f"{self.exception(job_id)} (the TaskManager log under logs/flink has the trace)"
            )

    def exception(self, job_id: str) -> str:
        """The root cause of the latest failure Flink recorded for the job, if any."""
        return self._failure(job_id) or "(no exception recorded)"

    def _failure(self, job_id: str) -> str | None:
        causes = self._causes(job_id)
        return causes[0] if causes else None

    def _repeated_failure(self, job_id: str) -> str | None:
        causes = self._causes(job_id)
        return causes[0] if len(causes) > 1 and causes[0] == causes[1] else None

    def _causes(self, job_id: str) -> list[str]:
        """Root causes of the job's failures, newest first."""
        info = self.cluster.rest(f"/jobs/{job_id}/exceptions")
        entries = (info.get("exceptionHistory") or {}).get("entries") or []
        return [root_cause(entry["stacktrace"]) for entry in entries[:2]]

    def stop_with_savepoint(self, job_id: str, timeout: float = 120.0) -> str:
        """Stop the job after a savepoint; return the savepoint's location once the job has
        ended (the savepoint completes a moment before the job reaches FINISHED)."""
        body = {"drain": False, **self._target("targetDirectory")}
        trigger = self.cluster.rest(f"/jobs/{job_id}/stop", "POST", body)["request-id"]
        location = self._savepoint_done(job_id, trigger, timeout)
        ended = poll(lambda: self.state(job_id) in TERMINAL or None, timeout)
        if ended is None:
            raise StackError(
                f"job {job_id} took its savepoint ({location}) but was still "
                f"{self.state(job_id)} {timeout:.0f}s later"
            )
        return location

    def savepoint(self, job_id: str, timeout: float = 120.0) -> str:
        """Take a savepoint and leave the job running; return the savepoint's location."""
        body = {"cancel-job": False, **self._target("target-directory")}
        trigger = self.cluster.rest(f"/jobs/{job_id}/savepoints", "POST", body)["request-id"]
        return self._savepoint_done(job_id, trigger, timeout)

    def _target(self, key: str) -> dict[str, str]:
        target = self.cluster.savepoint_target()
        return {key: target} if target else {}

    def _savepoint_done(self, job_id: str, trigger: str, timeout: float) -> str:
        def completed() -> dict[str, Any] | None:
            status = self.cluster.rest(f"/jobs/{job_id}/savepoints/{trigger}")
            done = status["status"]["id"] == "COMPLETED"
            return status["operation"] if done else None

        operation = poll(completed, timeout)
        if operation is None:
            raise StackError(f"savepoint of job {job_id} did not complete in {timeout:.0f}s")
        if "failure-cause" in operation:
            cause = operation["failure-cause"].get("stack-trace", "").splitlines()
            raise StackError(
                f"savepoint of job {job_id} failed: {cause[:1]} (without a savepoint folder "
                "configured on the cluster, set cluster.savepoint_dir)"
            )
        location: str = operation["location"]
        return location

    def metrics(self, job_id: str, names: tuple[str, ...]) -> dict[str, float]:
        """Sum of each named metric (by its last name part) over the job's operators."""
        totals = dict.fromkeys(names, 0.0)
        for vertex in self.cluster.rest(f"/jobs/{job_id}")["vertices"]:
            base = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
            available = [m["id"] for m in self.cluster.rest(base)]
            wanted = [m for m in available if m.rsplit(".", 1)[-1] in totals]
            if not wanted:
                continue
            query = urllib.parse.quote(",".join(wanted), safe=",")
            for metric in self.cluster.rest(f"{base}?get={query}&agg=sum"):
                totals[metric["id"].rsplit(".", 1)[-1]] += float(metric.get("sum", 0))
        return totals

    def cancel(self, job_id: str) -> None:
        self.cluster.rest(f"/jobs/{job_id}", "PATCH")

    def wait_gone(self, job_id: str, timeout: float = 60.0) -> str:
        """Wait until the job reached a terminal state; return it."""

        def ended() -> str | None:
            state = self.state(job_id)
            return state if state in TERMINAL else None

        state = poll(ended, timeout)
        if state is None:
            raise StackError(f"job {job_id} did not end within {timeout:.0f}s")
        return state


_FRAME = ("at ", "...")
#: The line under a job file's traceback when a call into Flink's Java side raised.
_PY4J = "py4j.protocol.Py4JJavaError"
_PYTHON = re.compile(r"pemja\.core\.PythonException: <class '([\w.]+)'>: (.*)", re.S)


def root_cause(stacktrace: str) -> str:
    """The innermost exception of a Java stack trace, message whole, without its frames;
    a Python exception raised in a TaskManager reads as it would in Python.

    >>> root_cause(
    ...     "org.apache.flink.runtime.JobException: Recovery is suppressed\\n"
    ...     "\\tat org.apache.flink.Foo.bar(Foo.java:1)\\n"
    ...     "Caused by: pemja.core.PythonException: <class 'flink_agents.errors.ConfigError'>: "
    ...     "model m: the key is not set.\\nSet it for the TaskManagers.\\n"
    ...     "\\tat /venv/flink_agents/runtime/_step.py.open(_step.py:130)\\n"
    ...     "\\t... 23 more\\n"
    ... )
    'ConfigError: model m: the key is not set.\\nSet it for the TaskManagers.'
    """
    lines = stacktrace.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Caused by: ")] or [0]
    message: list[str] = []
    for line in lines[starts[-1] :]:
        if message and (line.lstrip().startswith(_FRAME) or line.startswith("Caused by: ")):
            break
        message.append(line.removeprefix("Caused by: ") if not message else line)
    text = "\n".join(message).strip()
    python = _PYTHON.match(text)
    if python:
        text = f"{python.group(1).rsplit('.', 1)[-1]}: {python.group(2)}"
    return text[:2000]


def _last_lines(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def submit_error(stdout: str, stderr: str = "", savepoint: str | None = None) -> str:
    r"""What a failed ``flink run`` printed that tells why: the job file's traceback as Python
    prints it; when Flink refused the job it built (a Java exception under the traceback),
    that exception's root cause first, message whole; when the job resumed from a
    savepoint, what to do if the job changed in a way the savepoint cannot follow.

    >>> print(submit_error(
    ...     "Traceback (most recent call last):\n  File \"job.py\", line 9, in <module>\n"
    ...     "    app.run()\n"
    ...     "py4j.protocol.Py4JJavaError: An error occurred while calling o39.execute.\n"
    ...     ": org.apache.flink.util.FlinkException: Failed to execute job 'j'.\n"
    ...     "\tat org.apache.flink.Foo.bar(Foo.java:1)\n"
    ...     "Caused by: java.lang.IllegalStateException: Cannot map state for operator 61a8.\n"
    ...     "\t... 9 more\n", savepoint="/sp/savepoint-1"))  # doctest: +ELLIPSIS
    Flink refused the job: java.lang.IllegalStateException: Cannot map state for operator 61a8.
    It was resumed from the savepoint /sp/savepoint-1. ...--allow-non-restored-state`...
    Traceback (most recent call last):
      File "job.py", line 9, in <module>
        app.run()
    py4j.protocol.Py4JJavaError: An error occurred while calling o39.execute.
    """
    start = stdout.find(_PY4J)  # the traceback and the Java exception under it: stdout
    if start < 0:
        return _python_error(stdout + stderr)
    end = stdout.find("\n", start)
    java = root_cause(stdout[end + 1 :] if end >= 0 else "")
    parts = [f"Flink refused the job: {java}"]
    if savepoint:
        parts.append(
            f"It was resumed from the savepoint {savepoint}. A job changed so that some of "
            "the savepoint's state has no operator to go to (an agent added on a topic the "
            "job already reads, a renamed app) is refused: run the change as an app of its "
            "own, or resume with `flink-agents submit --allow-non-restored-state`, which "
            "drops that state (see docs/operations.md, changing a job between stop and resume)."
        )
    parts.append(_python_error(stdout[: end if end >= 0 else len(stdout)]))
    return "\n".join(parts)


def _python_error(output: str) -> str:
    """The job script's traceback as Python prints it, without the Java exceptions that
    ``flink run`` adds after it; without a traceback, the output without Java stack frames.

    >>> print(_python_error(
    ...     "Traceback (most recent call last):\\n  File \\"job.py\\", line 3, in <module>\\n"
    ...     "    raise RuntimeError('wrong')\\nRuntimeError: wrong\\n"
    ...     "org.apache.flink.client.program.ProgramAbortException: java.lang.RuntimeException\\n"
    ...     "Caused by: java.lang.RuntimeException: Python process exits with code: 1\\n"))
    Traceback (most recent call last):
      File "job.py", line 3, in <module>
        raise RuntimeError('wrong')
    RuntimeError: wrong
    """
    start = output.find("Traceback (most recent call last)")
    if start < 0:
        kept = [line for line in output.splitlines() if not line.lstrip().startswith(_FRAME)]
        return _last_lines("\n".join(kept), 40)
    python: list[str] = []
    for line in output[start:].splitlines():
        if line.startswith(("org.apache.flink.", "Caused by: java.")):
            break
        python.append(line)
    return _last_lines("\n".join(python), 40)
