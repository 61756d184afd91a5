"""``flink-agents submit | jobs | stop | savepoint | savepoints``: Python jobs on a Flink
cluster and their savepoints.

Each command but ``savepoints`` works on the local cluster, or with ``--target HOST:PORT``
(or ``cluster.target`` in the settings) on any Flink REST endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.config import load_settings
from flink_agents.errors import StackError
from flink_agents.local import ClusterJobs, FlinkCluster, RemoteCluster, list_savepoints

Target = Annotated[
    str | None,
    typer.Option(
        help="HOST:PORT of a Flink REST endpoint (default: cluster.target, else the local "
        "cluster).",
        show_default=False,
    ),
]


def _jobs(ctx: typer.Context, target: str | None) -> ClusterJobs:
    obj: Context = ctx.obj
    settings = obj.settings
    if target:
        settings = load_settings({**obj.overrides, "cluster": {"target": target}})
    if settings.cluster.target:
        return ClusterJobs(RemoteCluster(settings))
    return ClusterJobs(FlinkCluster(settings))


def submit(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The job file.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the job.")] = None,
    savepoint: Annotated[
        str | None, typer.Option(help="Resume from this savepoint (a path or URI).")
    ] = None,
    allow_non_restored_state: Annotated[
        bool,
        typer.Option(
            help="With --savepoint: resume even though some of its state has no operator in "
            "the changed job; that state is dropped."
        ),
    ] = False,
    target: Target = None,
) -> None:
    """Submit a Python job (detached) and wait until it runs."""
    with user_errors():
        jobs = _jobs(ctx, target)
        job_id = jobs.submit(
            script,
            args or [],
            savepoint=savepoint,
            allow_non_restored_state=allow_non_restored_state,
        )
        jobs.wait_running(job_id)
    console.print(f"job {job_id} is running")


def jobs(ctx: typer.Context, target: Target = None) -> None:
    """List the cluster's jobs, newest first."""
    with user_errors():
        overview = _jobs(ctx, target).overview()
    if not overview:
        console.print("no jobs")
    for job in sorted(overview, key=lambda j: -j["start-time"]):
        seconds = job["duration"] / 1000
        console.print(f"{job['jid']}  {job['state']:<9} {seconds:8.0f}s  {job['name']}")


def stop(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job to stop.")],
    savepoint: Annotated[
        bool, typer.Option(help="Take a savepoint first (resume with submit --savepoint).")
    ] = True,
    target: Target = None,
) -> None:
    """Stop a job, by default with a savepoint."""
    with user_errors():
        jobs = _jobs(ctx, target)
        if savepoint:
            location = jobs.stop_with_savepoint(job_id)
            console.print(f"job {job_id} stopped; savepoint {location}")
        else:
            jobs.cancel(job_id)
            state = jobs.wait_gone(job_id)
            if state != "CANCELED":
                raise StackError(f"job {job_id} ended {state}")
            console.print(f"job {job_id} cancelled")


def savepoint(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job to savepoint; it keeps running.")],
    target: Target = None,
) -> None:
    """Take a savepoint of a running job and print its location."""
    with user_errors():
        location = _jobs(ctx, target).savepoint(job_id)
    console.print(f"job {job_id} keeps running; savepoint {location}")


def savepoints(ctx: typer.Context) -> None:
    """List the local cluster's savepoints, newest first: time, job, size and path."""
    cluster = FlinkCluster(ctx.obj.settings)
    found = list_savepoints(cluster.savepoint_dir)
    if not found:
        console.print(f"no savepoints in {cluster.savepoint_dir}")
        return
    with user_errors():
        names = _job_names(cluster)
    for s in found:
        job = next((f"{jid[:8]} {n}" for jid, n in names.items() if s.matches(jid)), s.job_prefix)
        taken = s.taken.strftime("%Y-%m-%d %H:%M:%S UTC")
        console.print(f"{taken}  {job:<30} {s.size_bytes / 1024:9.1f} KiB  {s.path}")


def _job_names(cluster: FlinkCluster) -> dict[str, str]:
    """Job id -> name of the jobs the cluster knows; none when the cluster is down."""
    if not cluster.pids():
        return {}
    return {j["jid"]: j["name"] for j in ClusterJobs(cluster).overview()}
