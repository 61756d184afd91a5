"""Run a replay: the job file in its own process (a MiniCluster), until every input of the
range has its output in the replay's topics."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flink_agents.api.events import KIND_HEADER, events_in
from flink_agents.config import Settings
from flink_agents.errors import FlinkAgentsError
from flink_agents.local import poll, tail
from flink_agents.replay._reading import consumer, original_tasks
from flink_agents.runtime import ReplayPlan

_FINISHED = ("task.completed", "task.failed", "task.canceled")


class ReplayError(FlinkAgentsError):
    """A replay could not run or did not finish."""


@dataclass(frozen=True)
class ReplayResult:
    plan: ReplayPlan
    outputs: int
    failed: int
    #: From the first output of the replay to the last (start-up excluded).
    seconds: float

    @property
    def tasks_per_s(self) -> float:
        return self.outputs / self.seconds if self.seconds > 0 else float("inf")


def run_replay(
    settings: Settings,
    script: Path,
    args: list[str],
    *,
    mode: Literal["exact", "what-if"],
    from_ms: int,
    to_ms: int,
    name: str | None = None,
    timeout_s: float = 600.0,
    savepoint: str | None = None,
) -> ReplayResult:
    """Replay the inputs of ``[from_ms, to_ms)`` through the job ``script`` (run as
    ``python script args``); return once each task of that range has a replay output.

    With ``savepoint`` (checked before the job starts) the job starts from the state it
    holds: each key's memory, running task and queued inputs."""
    name = name or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    restored = {} if savepoint is None else {"FLINK_AGENTS_REPLAY__SAVEPOINT": savepoint}
    home = settings.home.resolve()
    plan_path = ReplayPlan.path(home, name)
    if plan_path.exists():
        raise ReplayError(f"a replay named {name!r} exists ({plan_path}): choose another name")
    log = home / "logs" / "replays" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FLINK_AGENTS_HOME": str(home),
        "FLINK_AGENTS_REPLAY__NAME": name,
        "FLINK_AGENTS_REPLAY__MODE": mode,
        "FLINK_AGENTS_REPLAY__FROM_MS": str(from_ms),
        "FLINK_AGENTS_REPLAY__TO_MS": str(to_ms),
        **restored,
    }
    # A SIGTERM (a timeout, a supervisor) unwinds like Ctrl-C, so the job is stopped below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with log.open("ab") as out:
        job = subprocess.Popen(
            [sys.executable, str(script), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        plan = _wait_for_plan(plan_path, job, log, timeout_s)
        plan.tasks = original_tasks(settings.bootstrap_servers, plan)
        plan.write(home)
        if not plan.tasks:
            raise ReplayError(
                f"neither the events log {plan.events_topic} nor the output topics "
                f"({', '.join(plan.outputs)}) hold a task for inputs between {from_ms} and "
                f"{to_ms} ms: nothing to replay (is the range right?)"
            )
        return _wait_for_outputs(settings, plan, job, log, timeout_s)
    finally:
        _stop(job)


def _wait_for_plan(
    path: Path, job: subprocess.Popen[bytes], log: Path, timeout: float
) -> ReplayPlan:
    def written() -> ReplayPlan | None:
        if path.exists():
            return ReplayPlan.model_validate_json(path.read_text())
        if job.poll() is not None:
            raise ReplayError(f"the replayed job exited ({job.returncode}):\n{tail(log)}")
        return None

    plan = poll(written, timeout)
    if plan is None:
        raise ReplayError(f"the replayed job was not built within {timeout:.0f}s:\n{tail(log)}")
    return plan


def _wait_for_outputs(
    settings: Settings,
    plan: ReplayPlan,
    job: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
) -> ReplayResult:
    """Until every original task has an output in the replay's topics and every task the
    replay accepted has finished."""
    wanted = set(plan.tasks)
    answered: dict[str, str] = {}
    accepted: set[str] = set()
    finished: set[str] = set()
    first = last = 0.0
    reader = consumer(settings.bootstrap_servers)
    reader.subscribe([*plan.outputs.values(), plan.replay_events_topic])
    deadline = time.monotonic() + timeout
    try:
        while not (wanted <= answered.keys() and accepted <= finished and accepted):
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"replay {plan.name}: {len(wanted & answered.keys())} of {len(wanted)} "
                    f"tasks answered after {timeout:.0f}s:\n{tail(log)}"
                )
            if job.poll() is not None:
                raise ReplayError(f"the replayed job exited ({job.returncode}):\n{tail(log)}")
            for message in reader.consume(1000, 0.2):
                if message.error() or message.value() is None:
                    continue
                if message.topic() == plan.replay_events_topic:
                    kind = dict(message.headers() or []).get(KIND_HEADER)
                    for event in events_in(kind, message.value()):
                        _count(event, accepted, finished)
                    continue
                value: dict[str, Any] = json.loads(message.value())
                answered[value["task"]["id"]] = value["task"]["state"]
                last = time.monotonic()
                first = first or last
    finally:
        reader.close()
    failed = sum(1 for state in answered.values() if state != "TASK_STATE_COMPLETED")
    return ReplayResult(plan, len(answered), failed, last - first)


def _count(event: dict[str, Any], accepted: set[str], finished: set[str]) -> None:
    if event.get("kind") == "task.accepted":
        accepted.add(event["task_id"])
    elif event.get("kind") in _FINISHED:
        finished.add(event["task_id"])


def _stop(job: subprocess.Popen[bytes]) -> None:
    """The job's whole process group: the MiniCluster JVM can outlive its Python parent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        job.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGKILL)
    job.wait(10)
