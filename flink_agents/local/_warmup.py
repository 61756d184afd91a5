"""Warm the local stack, so that the first job a user submits after ``flink-agents local
up`` starts as fast as the next ones.

Run by the warm client as ``python -m flink_agents.local._warmup SETTINGS_JSON`` with
``PYFLINK_GATEWAY_PORT`` set. It submits the agent job of ``_warmup_job.py`` through the
client, the way ``submit`` submits a job file, and while the TaskManagers open it, builds
it twice more without submitting it: the client's JVM compiles the planner's hot code only
after it ran a while (on a 2-core machine the first build took 4.7 s in the client, the
third under 2 s). Once every task of the job runs, it cancels the job and deletes its
topics. It holds the client's lock while it builds, so a submission made meanwhile waits
for it instead of sharing the gateway; a submission waiting when a build is due goes
first, and the builds end there. ``flink-agents local up`` waits for the warm-up to end.
"""

from __future__ import annotations

import os
import sys
import time

from flink_agents import _pythonenv
from flink_agents.config import Settings
from flink_agents.errors import ConfigError, StackError
from flink_agents.local import _warmup_job
from flink_agents.local._flink import FlinkCluster
from flink_agents.local._jobs import ClusterJobs
from flink_agents.local._warm import WarmClient
from flink_agents.runtime._topics import delete_topics


def representative_job(settings: Settings) -> str:
    """Build the warm-up's agent app the way a job file does and return its execution plan."""
    plan: str = _warmup_job.app(settings).build().get_execution_plan()
    return plan


#: How many times the warm-up builds the job.
BUILDS = 3
#: A pause between builds, longer than a waiting submission's poll of the lock (50 ms).
_GIVE_WAY_S = 0.2


def submit_job(settings: Settings, client: WarmClient) -> str | None:
    """Submit the warm-up's agent job through the client, as ``submit`` submits a job file;
    its id (None if it was not submitted: the reason is printed)."""
    cluster = FlinkCluster(settings)
    command = [
        _pythonenv.python_executable(),
        "-m",
        "flink_agents.local._warmup_job",
        settings.model_dump_json(),
        str(cluster.wanted_taskmanagers()),
    ]
    options = ClusterJobs(cluster).warm_options()
    try:
        done = client.submit(command, options, dict(os.environ), settings.cluster.submit_timeout_s)
    except StackError as exc:
        print(f"warm client: the warm-up job was not submitted: {exc}", flush=True)
        return None
    if done is None or done.returncode != 0 or done.job_id is None:
        why = "the client did not answer" if done is None else done.stdout + done.stderr
        print(f"warm client: the warm-up job was not submitted: {why}", flush=True)
        return None
    return done.job_id


def end_job(settings: Settings, job_id: str, submitted: float) -> None:
    """Wait until every task of the warm-up job runs (each AgentStep has opened), cancel it
    and delete its topics; print how it went."""
    jobs = ClusterJobs(FlinkCluster(settings))
    try:
        jobs.wait_running(job_id, timeout=settings.startup_timeout_s)
        took = time.monotonic() - submitted
        print(f"warm client: warm-up job {job_id} ran {took:.1f}s after submission", flush=True)
    except StackError as exc:
        print(f"warm client: warm-up job {job_id} did not run: {exc}", flush=True)
    finally:
        try:
            jobs.cancel(job_id)
            jobs.wait_gone(job_id)
        except StackError as exc:
            print(f"warm client: warm-up job {job_id} not cancelled: {exc}", flush=True)
        try:
            delete_topics(settings.bootstrap_servers, _warmup_job.app(settings).topics())
        except ConfigError as exc:
            print(f"warm client: warm-up topics left: {exc}", flush=True)


def main(argv: list[str]) -> int:
    settings = Settings.model_validate_json(argv[0])
    client = WarmClient(settings)
    # Built and submitted first, before this process talks to the client's gateway itself:
    # the TaskManagers open the job while this process builds it again.
    submitted = time.monotonic()
    job_id = submit_job(settings, client)
    took = time.monotonic() - submitted
    print(f"warm client: warm-up build 1 took {took:.1f}s (submitted: {job_id})", flush=True)
    for build in range(1, BUILDS):
        time.sleep(_GIVE_WAY_S)
        started = time.monotonic()
        try:
            # A submission waiting for the client goes first (it warms the client too).
            with client.held(0.0):
                representative_job(settings)
        except StackError:
            print("warm client: a submission came first; warm-up builds end", flush=True)
            break
        took = time.monotonic() - started
        print(f"warm client: warm-up build {build + 1} took {took:.1f}s", flush=True)
    if job_id is not None:
        end_job(settings, job_id, submitted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
