"""``flink-agents submit | jobs | stop``: Python jobs on the local cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import StackError
from flink_agents.local import ClusterJobs, FlinkCluster


def _jobs(ctx: typer.Context) -> ClusterJobs:
    obj: Context = ctx.obj
    return ClusterJobs(FlinkCluster(obj.settings))


def submit(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The job file.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the job.")] = None,
    savepoint: Annotated[
        str | None, typer.Option(help="Resume from this savepoint (a path or URI).")
    ] = None,
) -> None:
    """Submit a Python job to the local cluster (detached) and wait until it runs."""
    with user_errors():
        jobs = _jobs(ctx)
        job_id = jobs.submit(script, args or [], savepoint=savepoint)
        jobs.wait_running(job_id)
    console.print(f"job {job_id} is running")


def jobs(ctx: typer.Context) -> None:
    """List the jobs of the local cluster."""
    with user_errors():
        overview = _jobs(ctx).overview()
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
) -> None:
    """Stop a job, by default with a savepoint."""
    with user_errors():
        jobs = _jobs(ctx)
        if savepoint:
            location = jobs.stop_with_savepoint(job_id)
            console.print(f"job {job_id} stopped; savepoint {location}")
        else:
            jobs.cancel(job_id)
            state = jobs.wait_gone(job_id)
            if state != "CANCELED":
                raise StackError(f"job {job_id} ended {state}")
            console.print(f"job {job_id} cancelled")
