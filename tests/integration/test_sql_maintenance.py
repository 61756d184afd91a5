"""sql/maintenance.sql for real: readings on Kafka, the windows, the baseline and the planner
in one Flink job run by `flink-agents sql run`, the warehouse and work-order MCP servers
over stdio, and the model simulator playing the planner (jobs/maintenance_model.py)."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents.testing import JobProcess, ModelServer, TopicClient
from jobs.maintenance_model import script
from jobs.tools.plant_data import build_warehouse
from jobs.tools.sensors import STEP_S, Fault, fleet
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("flink-agents")


def test_sql_pipeline_opens_one_work_order_for_a_fault_and_none_for_healthy_machines(
    topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    name = topics.unique("maint-sql")
    readings_topic, actions_topic = f"{name}.readings", f"{name}.actions"
    topics.create(readings_topic, actions_topic)
    workorders = tmp_path / "workorders.db"
    readings, truth = fleet(3, 400, [Fault("m-02", "bearing_wear", start=300)], seed=21)
    with ModelServer(script) as sim:
        env = job_env | {
            "MAINT_MODEL_BASE_URL": sim.base_url,
            "MAINT_MODEL": "planner-sim",
            "OPENAI_API_KEY": "sk-sim",
            "MAINT_WAREHOUSE": str(build_warehouse(tmp_path / "plant.duckdb", machines=3)),
            "MAINT_WORKORDERS": str(workorders),
            "MAINT_READINGS_TOPIC": readings_topic,
            "MAINT_ACTIONS_TOPIC": actions_topic,
        }
        job = JobProcess(
            CLI, ["sql", "run", str(ROOT / "sql/maintenance.sql"), "--name", name], env,
            tmp_path / "sql.log",
        ).start()  # fmt: skip
        try:
            topics.produce(readings_topic, readings, key=lambda r: r["machine_id"])

            def read_all() -> bool:
                assert job.alive, f"the job died:\n{job.tail()}"
                return topics.lag(f"flink-agents.{name}", readings_topic) == 0

            eventually(read_all, f"the job to read {readings_topic}", timeout=900)
            requests = f"{name}.maintenance-planner.requests"

            def answered() -> bool:  # every anomaly the windows found has its action
                assert job.alive, f"the job died:\n{job.tail()}"
                return 0 < topics.count(requests) <= topics.count(actions_topic)

            eventually(answered, "an action for every anomaly", timeout=300)
            actions = topics.consume(actions_topic, count=topics.count(requests), timeout=60)
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(f"{exc}\n--- sql.log\n{job.tail()}") from None
        finally:
            job.stop()

    per_anomaly = Counter(a.value["anomaly_id"] for a in actions)
    assert set(per_anomaly.values()) == {1}, f"not one action per anomaly: {per_anomaly}"
    assert {a.value["machine_id"] for a in actions} == {"m-02"}
    assert {a.value["status"] for a in actions} == {"TASK_STATE_COMPLETED"}
    first = min(actions, key=lambda a: a.value["anomaly_id"]).value
    assert first["lead_metric"] == "vibration" and first["action"] == "CREATED"
    [incident] = truth
    detected_at = float(first["anomaly_id"].split("/")[1])
    assert incident.start <= detected_at <= incident.start + 30 * STEP_S
    later = [a.value for a in actions if a.value["anomaly_id"] != first["anomaly_id"]]
    assert all(a["action"] == "UPDATED" for a in later)
    assert first["priority"] in ("P1", "P2", "P3", "P4")

    with contextlib.closing(sqlite3.connect(workorders)) as con:
        orders = con.execute("SELECT work_order_id, machine_id, anomaly_id FROM work_orders")
        [(order_id, machine, anomaly)] = orders.fetchall()
    assert (machine, anomaly) == ("m-02", first["anomaly_id"])
    assert {a.value["work_order_id"] for a in actions} == {order_id}
