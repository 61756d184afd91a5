"""The maintenance use case for real: readings on Kafka, the detector and the planner in a
Flink MiniCluster (jobs/maintenance.py), the warehouse and work-order MCP servers over
stdio, and the model simulator playing the planner (jobs/maintenance_model.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flink_agents.detect import score
from flink_agents.testing import ModelServer
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import Record, TopicClient
from jobs.maintenance_model import script
from jobs.tools.plant_data import build_warehouse
from jobs.tools.sensors import STEP_S, Fault, fleet
from tests.support import eventually

# The job's four Python operators take minutes to start on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Plant:
    """The running job, its topics and its work-order database."""

    app: str
    topics: TopicClient
    job: JobProcess
    sim: ModelServer
    workorders: Path
    warehouse: Path

    def processed(self, topic: str, timeout: float = 900) -> None:
        """Wait until the job has read, and checkpointed, everything on ``topic``."""
        group = f"flink-agents.{self.app}"
        eventually(lambda: self._alive() and self.topics.lag(group, topic) == 0, topic, timeout)

    def actions(self, anomaly_ids: set[str], timeout: float = 240) -> list[dict[str, Any]]:
        """The planner's outputs for ``anomaly_ids``, once there is one for each."""
        got = self.topics.consume(
            f"{self.app}.actions",
            until=lambda rs: anomaly_ids <= {r.value.get("anomaly_id") for r in rs},
            timeout=timeout,
        )
        return [r.value for r in got if r.value.get("anomaly_id") in anomaly_ids]

    def work_orders(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM work_orders ORDER BY work_order_id")

    def audit(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM audit ORDER BY seq")

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(self.workorders)) as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql)]

    def _alive(self) -> bool:
        if not self.job.alive:
            raise AssertionError(f"the job died:\n{self.job.tail()}")
        return True


@pytest.fixture(scope="module")
def plant(
    topics: TopicClient, job_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Plant]:
    app = topics.unique("maint")
    folder = tmp_path_factory.mktemp("maintenance")
    warehouse = build_warehouse(folder / "plant.duckdb", machines=6)
    workorders = folder / "workorders.db"
    with ModelServer(script) as sim:
        env = {
            **job_env,
            "MAINT_APP": app,
            "MAINT_MODEL_BASE_URL": sim.base_url,
            "MAINT_MODEL": "planner-sim",
            "OPENAI_API_KEY": "sk-sim",
            "MAINT_WAREHOUSE": str(warehouse),
            "MAINT_WORKORDERS": str(workorders),
        }
        job = JobProcess(ROOT / "jobs/maintenance.py", [], env, folder / "job.log").start()
        try:
            yield Plant(app, topics, job, sim, workorders, warehouse)
        finally:
            job.stop()


def test_a_fault_on_one_machine_gives_exactly_one_work_order(plant: Plant):
    readings, truth = fleet(3, 400, [Fault("m-02", "bearing_wear", start=300)], seed=21)
    topic = f"{plant.app}.readings"
    plant.topics.produce(topic, readings, key=lambda r: r["machine_id"])
    plant.topics.produce(
        topic, ['{"machine_id": "m-01", "ts": 1, "vibration": "high"}', "not json"]
    )
    plant.processed(topic)

    anomalies = [r.value for r in _everything(plant.topics, f"{plant.app}.anomalies")]
    assert [a["machine_id"] for a in anomalies] == ["m-02"]
    [anomaly] = anomalies
    assert anomaly["contributors"][0]["metric"] == "vibration"
    assert len(anomaly["window"]) == 10 and anomaly["score"] > anomaly["threshold"]
    found = score(truth, [(a["machine_id"], a["detected_at"]) for a in anomalies])
    assert (found.precision, found.recall) == (1.0, 1.0)
    assert found.delays[0] <= 30 * STEP_S  # within three windows of ten readings

    [action] = plant.actions({anomaly["anomaly_id"]})
    assert (action["action"], action["machine_id"]) == ("CREATED", "m-02")
    orders = [o for o in plant.work_orders() if o["machine_id"] in ("m-01", "m-02", "m-03")]
    assert [(o["machine_id"], o["anomaly_id"]) for o in orders] == [("m-02", anomaly["anomaly_id"])]
    assert orders[0]["work_order_id"] == action["work_order_id"]
    created = [a for a in plant.audit() if a["operation"] == "create"]
    assert Counter(a["machine_id"] for a in created)["m-02"] == 1

    # The parts plan came from the parts-planner agent over A2A, and the work order has it.
    plans = plant.topics.consume(
        f"{plant.app}.parts-plans",
        until=lambda rs: any(r.value.get("plan") == action["parts_plan"] for r in rs),
        timeout=30,
    )
    [plan] = [r.value for r in plans if r.value.get("plan") == action["parts_plan"]]
    assert plan["task"]["state"] == "TASK_STATE_COMPLETED"
    assert plan["part_id"] in _parts_for(plant.warehouse, "m-02", "bearing_wear")
    assert f"parts plan: {plan['plan']}" in orders[0]["description"]

    letters = plant.topics.consume(f"{plant.app}.dlq", until=lambda rs: len(rs) >= 2, timeout=30)
    reasons = {r.value["reason"] for r in letters}
    assert reasons >= {"unusable reading: metric 'vibration' is not a number: 'high'", "not JSON"}


def test_memory_of_an_earlier_incident_turns_the_next_into_an_update(plant: Plant):
    first, again, other = (
        _anomaly("m-05", 40, "temperature"),
        _anomaly("m-05", 90, "temperature"),
        _anomaly("m-06", 40, "temperature"),
    )
    topic = f"{plant.app}.anomalies"
    plant.topics.produce(topic, [first], key="m-05")
    [created] = plant.actions({first["anomaly_id"]})
    plant.topics.produce(topic, [again, other], key=lambda a: a["machine_id"])
    actions = {
        a["anomaly_id"]: a for a in plant.actions({again["anomaly_id"], other["anomaly_id"]})
    }

    assert created["action"] == "CREATED"
    updated = actions[again["anomaly_id"]]
    assert (updated["action"], updated["work_order_id"]) == ("UPDATED", created["work_order_id"])
    fresh = actions[other["anomaly_id"]]
    assert fresh["action"] == "CREATED" and fresh["work_order_id"] != created["work_order_id"]
    assert created["parts_plan"] and fresh["parts_plan"] and updated.get("parts_plan") is None
    orders = [o for o in plant.work_orders() if o["machine_id"] == "m-05"]
    assert len(orders) == 1 and again["anomaly_id"] in orders[0]["notes"]


def _parts_for(warehouse: Path, machine: str, mode: str) -> set[str]:
    """The warehouse's spare parts that fit ``machine`` for ``mode``."""
    import duckdb

    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as con:
        rows = con.execute(
            "SELECT p.part_id FROM parts p JOIN assets a ON p.fits_model = a.model "
            "WHERE a.machine_id = ? AND p.failure_mode = ?",
            [machine, mode],
        ).fetchall()
    return {r[0] for r in rows}


def _anomaly(machine: str, window: int, metric: str) -> dict[str, Any]:
    """An anomaly event as the detector writes it (fields the planner reads)."""
    return {
        "machine_id": machine,
        "anomaly_id": f"{machine}/{window}",
        "kind": "anomaly.detected",
        "key": machine,
        "window_index": window,
        "score": 120.0,
        "threshold": 26.3,
        "contributors": [
            {"metric": metric, "share": 0.9, "value": 66.0, "expected": 55.0, "z": 9.1}
        ],
        "started_at": 1_798_790_000.0,
        "detected_at": 1_798_790_600.0,
        "window": [],
    }


def _everything(topics: TopicClient, topic: str) -> list[Record]:
    """Every record on ``topic`` now (the end offset is known, so this terminates)."""
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": topics.bootstrap_servers, "group.id": "probe"})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        total = sum(
            high - low
            for low, high in (
                probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in partitions
            )
        )
    finally:
        probe.close()
    return topics.consume(topic, count=total, timeout=30) if total else []
