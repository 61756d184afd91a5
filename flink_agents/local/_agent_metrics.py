"""The agents' metrics of a cluster's running jobs, read from the Flink REST API, and the
rates between two readings (``flink-agents top``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: ``<operator>.agent.<name>.<metric>``: the metric ids ``AgentMetrics`` registers.
_AGENT_METRIC = re.compile(r"(?:^|\.)agent\.(?P<agent>.+)\.(?P<metric>[A-Za-z]+)$")
_COUNTERS = (
    "tasksCompleted",
    "tasksFailed",
    "modelCalls",
    "toolCalls",
    "tokensIn",
    "tokensOut",
    "errors",
    "inFlightCalls",
    "modelLatencyMsSum",
    "toolLatencyMsSum",
)

Rest = Callable[[str], Any]


@dataclass(frozen=True)
class AgentReading:
    """One agent's counters in one job, summed over the job's subtasks."""

    job_id: str
    job: str
    agent: str
    values: dict[str, float]

    @property
    def tasks(self) -> float:
        return self.values.get("tasksCompleted", 0) + self.values.get("tasksFailed", 0)


@dataclass(frozen=True)
class AgentRow:
    """What ``top`` shows for an agent: totals, and rates over the window between readings."""

    agent: str
    job: str
    tasks: int
    tasks_per_s: float
    in_flight: int
    model_ms: float | None
    tool_ms: float | None
    tokens_per_s: float
    errors: int
    failed: int


def read_agents(rest: Rest) -> list[AgentReading]:
    """Every agent of every running job, from ``/jobs/<id>/vertices/<id>/subtasks/metrics``."""
    readings = []
    for job in rest("/jobs/overview")["jobs"]:
        if job["state"] != "RUNNING":
            continue
        for vertex in rest(f"/jobs/{job['jid']}")["vertices"]:
            path = f"/jobs/{job['jid']}/vertices/{vertex['id']}/subtasks/metrics"
            wanted: dict[str, tuple[str, str]] = {}
            for metric in rest(path):
                found = _AGENT_METRIC.search(metric["id"])
                if found and found["metric"] in _COUNTERS:
                    wanted[metric["id"]] = (found["agent"], found["metric"])
            if not wanted:
                continue
            values: dict[str, dict[str, float]] = {}
            for metric in rest(f"{path}?get={','.join(sorted(wanted))}&agg=sum"):
                agent, name = wanted[metric["id"]]
                values.setdefault(agent, {})[name] = float(metric.get("sum", 0))
            readings += [AgentReading(job["jid"], job["name"], a, v) for a, v in values.items()]
    return readings


def rows(before: list[AgentReading], after: list[AgentReading], seconds: float) -> list[AgentRow]:
    """A row per agent of ``after``; rates over ``seconds`` since ``before``.

    >>> r0 = AgentReading("j", "fraud", "triage", {"tasksCompleted": 10, "tokensIn": 900,
    ...                   "modelCalls": 10, "modelLatencyMsSum": 4000})
    >>> r1 = AgentReading("j", "fraud", "triage", {"tasksCompleted": 30, "tokensIn": 2900,
    ...                   "modelCalls": 30, "modelLatencyMsSum": 10000, "inFlightCalls": 3})
    >>> row, = rows([r0], [r1], seconds=2.0)
    >>> row.tasks, row.tasks_per_s, row.tokens_per_s, row.model_ms, row.in_flight, row.tool_ms
    (30, 10.0, 1000.0, 300.0, 3, None)
    """
    earlier = {(r.job_id, r.agent): r for r in before}
    out = []
    for now in sorted(after, key=lambda r: (r.agent, r.job)):
        then = earlier.get(
            (now.job_id, now.agent), AgentReading(now.job_id, now.job, now.agent, {})
        )
        v, w = now.values, then.values

        def delta(name: str, v: dict[str, float] = v, w: dict[str, float] = w) -> float:
            return v.get(name, 0) - w.get(name, 0)

        tokens = delta("tokensIn") + delta("tokensOut")
        out.append(
            AgentRow(
                agent=now.agent,
                job=now.job,
                tasks=int(now.tasks),
                tasks_per_s=(now.tasks - then.tasks) / seconds,
                in_flight=int(v.get("inFlightCalls", 0)),
                model_ms=_average(v, w, "modelLatencyMsSum", "modelCalls"),
                tool_ms=_average(v, w, "toolLatencyMsSum", "toolCalls"),
                tokens_per_s=tokens / seconds,
                errors=int(v.get("errors", 0)),
                failed=int(v.get("tasksFailed", 0)),
            )
        )
    return out


def _average(now: dict[str, float], then: dict[str, float], total: str, count: str) -> float | None:
    """Mean latency of the calls in the window; of all calls when the window had none."""
    calls = now.get(count, 0) - then.get(count, 0)
    if calls > 0:
        return (now.get(total, 0) - then.get(total, 0)) / calls
    if now.get(count, 0) > 0:
        return now.get(total, 0) / now[count]
    return None
