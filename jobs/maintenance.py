"""Predictive maintenance: an anomaly detector over sensor readings starts a planning agent.

Reads ``<app>.readings`` (JSON readings of machines: ``machine_id``, ``ts``, vibration,
temperature, pressure, current, rpm), finds anomalies per machine with the package's
multivariate detector, writes them to ``<app>.anomalies``, and runs the maintenance
planner on each: it reads the machine's record, history and spare parts from the warehouse
(read-only SQL over MCP) and opens or updates a work order (MCP), remembering the machine's
earlier anomalies and work orders. Before it opens a work order it asks the
``parts-planner`` agent (same job, over the A2A Kafka binding) for a parts plan: which spare
part, whether it is in stock, when it can be there; the work order carries the plan. The
planner's decisions go to ``<app>.actions``: ``{"anomaly_id", "machine_id", "action":
CREATED|UPDATED|NONE, "work_order_id", "priority", "parts_plan", "reason", "task": {...}}``;
the parts planner's answers to ``<app>.parts-plans``. ``<app>`` is ``maintenance`` unless
``MAINT_APP`` names another.

    python jobs/maintenance.py                     # a local MiniCluster
    flink run -d -py jobs/maintenance.py           # a Flink cluster (`make demo-maintenance`)

Settings from the environment: ``MAINT_WAREHOUSE`` (DuckDB file, built if missing) and
``MAINT_WORKORDERS`` (SQLite file) default to ``.flink-agents/demo/``; the model is
``gpt-4o-mini`` when ``OPENAI_API_KEY`` is set, any OpenAI-compatible server given by
``MAINT_MODEL_BASE_URL`` (and ``MAINT_MODEL``), as ``make demo-maintenance`` does with the
model simulator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from flink_agents import Agent, AgentApp, AnomalyDetector, Limits, McpServer, Memory, OpenAIModel
from jobs.tools.sensors import METRICS

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".flink-agents" / "demo"

INSTRUCTIONS = """\
You plan maintenance for a plant. Each message is an anomaly the sensors of one machine
showed: its score, the metrics that contributed most (with their value, expected value and
z-score) and the readings of the window. Vibration points to bearing wear, temperature to
overheating, falling pressure with rising current to a leak.
1. With the warehouse `query` tool (read-only SQL) read the machine's asset record
   (criticality A is most critical), its maintenance history and the spare parts for the
   likely failure mode (stock and lead time).
2. If an earlier anomaly of this machine in this conversation already opened a work order,
   update that work order (`update_work_order`: a note, a higher priority if it got worse).
   Otherwise ask `parts-planner` for a parts plan (send the machine id, the likely failure
   mode and the anomaly id), then open a work order with `create_work_order`, using the
   anomaly_id as request_id and putting the parts plan in its description.
3. Priority: P1 for criticality A, P2 for B, P3 for C; one step more urgent when the part
   is out of stock.
Answer with the action taken, the work order id, its priority, the parts plan and a
one-sentence reason."""

PARTS_INSTRUCTIONS = """\
You plan spare parts for maintenance. Each request names a machine, its likely failure mode
and the anomaly behind it. With the warehouse `query` tool (read-only SQL) find the parts
that fit the machine's model for that failure mode, with their stock and lead time. Plan:
take a part from stock when there is one; otherwise order it now, and say when it arrives.
Answer with the part, its stock, its lead time and the plan in one sentence."""

DETECTOR = AnomalyDetector(
    key="machine_id", metrics=list(METRICS), time_field="ts", window=10, warmup=20
)


class MaintenanceAction(BaseModel):
    action: Literal["CREATED", "UPDATED", "NONE"]
    work_order_id: str | None = None
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    parts_plan: str | None = Field(
        default=None, description="The parts planner's plan, for a new work order."
    )
    reason: str = Field(description="One sentence naming the facts behind the action.")


class PartsPlan(BaseModel):
    part_id: str | None = None
    stock: int = 0
    lead_time_days: int | None = None
    plan: str = Field(description="One sentence: which part, from stock or ordered, and when.")


def model() -> OpenAIModel:
    base_url = os.environ.get("MAINT_MODEL_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    return OpenAIModel(
        model=os.environ.get("MAINT_MODEL", "gpt-4o-mini"),
        base_url=base_url or None,
        temperature=0,
        timeout="30s",
    )


def _server(module: str, db_variable: str, default: Path, *args: str) -> McpServer:
    db = Path(os.environ.get(db_variable) or default).resolve()
    return McpServer.stdio(
        sys.executable,
        "-m",
        module,
        "--transport",
        "stdio",
        "--db",
        str(db),
        *args,
        cwd=str(ROOT),
    )


WAREHOUSE = _server("jobs.tools.warehouse_server", "MAINT_WAREHOUSE", DEMO / "plant.duckdb")

parts_planner = Agent(
    name="parts-planner",
    description="Plans spare parts for a machine's failure mode: from stock, or ordered and when.",
    instructions=PARTS_INSTRUCTIONS,
    model=model(),
    tools=[WAREHOUSE],
    output=PartsPlan,
    callers=["maintenance-planner"],
    limits=Limits(max_steps=4, call_timeout="30s", max_in_flight=64),
)

planner = Agent(
    name="maintenance-planner",
    description="Opens and updates work orders for machines whose sensors show an anomaly.",
    instructions=INSTRUCTIONS,
    model=model(),
    tools=[
        WAREHOUSE,
        _server(
            "jobs.tools.workorder_server",
            "MAINT_WORKORDERS",
            DEMO / "workorders.db",
            "--allow",
            "create,update,lookup",
        ),
    ],
    peers=["parts-planner"],
    memory=Memory(window=20, ttl="30d"),
    output=MaintenanceAction,
    limits=Limits(max_steps=6, call_timeout="30s", max_in_flight=64),
)


def app(name: str | None = None) -> AgentApp:
    name = name or os.environ.get("MAINT_APP") or "maintenance"
    plant = AgentApp(name)
    plant.detect(DETECTOR, readings=f"{name}.readings", anomalies=f"{name}.anomalies")
    plant.source(f"{name}.anomalies", key="machine_id")
    plant.add(
        planner,
        inputs=f"{name}.anomalies",
        outputs=f"{name}.actions",
        carry=["anomaly_id", "machine_id"],
    )
    plant.add(parts_planner, inputs=[], outputs=f"{name}.parts-plans")
    return plant


if __name__ == "__main__":
    app().run()
