"""The simulated planners behind the maintenance demo when no real model is configured.

Played by the model simulator over real HTTP, so the agents run as they would against a
real model. The maintenance planner first reads the machine's record from the warehouse and
asks the parts planner (another agent, over A2A) for a parts plan, then opens a work order
that carries the plan; or, when an earlier anomaly of the same machine opened one (it sees
that in the prompt: the agent's memory, in Flink state), reads the parts itself and updates
that work order; then it answers. The parts planner reads the parts for the failure mode
and plans: from stock, or ordered now with its lead time.

    python -m flink_agents.testing.model_server --script jobs.maintenance_model:script
"""

from __future__ import annotations

import json
from typing import Any

from flink_agents.testing import ChatRequest, Reply, ToolCall

#: The failure mode a metric points to when it leads an anomaly.
MODES = {"vibration": "bearing_wear", "temperature": "overheating", "pressure": "leak"}
PRIORITY = {"A": 1, "B": 2, "C": 3}
#: The agent the planner asks for a parts plan (A2A over Kafka), when it has that peer.
PARTS_PLANNER = "parts-planner"


def script(req: ChatRequest) -> Reply:
    """Turn one: read the machine's record, and ask the parts planner for a plan (or read the
    parts itself when it will only update a work order, or has no parts planner). Turn two:
    act on a work order. Turn three: answer. The parts planner's turns are `parts_plan`'s."""
    if (req.system_text or "").startswith("You plan spare parts"):
        return parts_plan(req)
    anomaly = _current_anomaly(req)
    if anomaly is None:
        return Reply.json({"action": "NONE", "reason": "no anomaly in the request"})
    results = {r.name: _json(r.content) for r in req.tool_results}
    machine = anomaly["machine_id"]
    mode = failure_mode(anomaly)
    if not results:
        delegate = PARTS_PLANNER in req.tool_names and _earlier_work_order(req) is None
        parts = ToolCall("query", {"sql": _parts_sql(machine, mode)})
        if delegate:
            request = {
                "machine_id": machine,
                "failure_mode": mode,
                "anomaly_id": anomaly["anomaly_id"],
            }
            parts = ToolCall(PARTS_PLANNER, {"message": json.dumps(request)})
        return Reply.tool_calls([ToolCall("query", {"sql": _asset_sql(machine)}), parts])
    if "query" in results:
        return _act(req, anomaly, mode, results.get(PARTS_PLANNER))
    order = results.get("create_work_order") or results.get("update_work_order")
    if not isinstance(order, dict):
        return Reply.json({"action": "NONE", "reason": f"the work-order call failed: {order}"})
    action = "CREATED" if "create_work_order" in results else "UPDATED"
    answer = {
        "action": action,
        "work_order_id": order["work_order_id"],
        "priority": order["priority"],
        "reason": f"{mode.replace('_', ' ')} suspected on {machine} "
        f"({_lead(anomaly)}); work order {order['work_order_id']} {action.lower()}",
    }
    plan = _task_results(req).get(PARTS_PLANNER)
    if plan is not None:
        answer["parts_plan"] = _plan_text(plan)
    return Reply.json(answer)


def parts_plan(req: ChatRequest) -> Reply:
    """The parts planner: turn one reads the parts for the failure mode, turn two plans."""
    request = _json(req.last_user_text)
    if not isinstance(request, dict) or "machine_id" not in request:
        return Reply.json({"plan": f"no machine named in the request: {req.last_user_text}"})
    mode = str(request.get("failure_mode") or "unknown")
    if not req.tool_results:
        return Reply.tool_calls(
            [ToolCall("query", {"sql": _parts_sql(str(request["machine_id"]), mode)})]
        )
    table = _json(req.tool_results[0].content)
    if not isinstance(table, dict) or not table.get("rows"):
        return Reply.json({"plan": f"no spare part is listed for {mode.replace('_', ' ')}"})
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    part = max(rows, key=lambda p: (p.get("stock", 0), -p.get("lead_time_days", 0)))
    stock, lead = int(part.get("stock") or 0), int(part.get("lead_time_days") or 0)
    if stock > 0:
        plan = f"take {part['part_id']} ({part['name']}) from stock ({stock} left)"
    else:
        plan = f"order {part['part_id']} ({part['name']}) now: none in stock, {lead} days lead time"
    return Reply.json(
        {"part_id": part["part_id"], "stock": stock, "lead_time_days": lead, "plan": plan}
    )


def failure_mode(anomaly: dict[str, Any]) -> str:
    """The failure mode of the first contributor that points to one."""
    for contributor in anomaly.get("contributors") or ():
        mode = MODES.get(contributor.get("metric"))
        if mode:
            return mode
    return "unknown"


def _act(req: ChatRequest, anomaly: dict[str, Any], mode: str, plan: Any) -> Reply:
    asset, parts = _query_rows(req)
    if isinstance(plan, dict) and plan.get("part_id"):
        parts = [plan]
    level = PRIORITY.get(str(asset.get("criticality")), 3)
    if parts and all(p.get("stock", 0) == 0 for p in parts):
        level = max(1, level - 1)
    priority = f"P{level}"
    earlier = _earlier_work_order(req)
    if earlier:
        return Reply.tool_calls(
            [
                ToolCall(
                    "update_work_order",
                    {
                        "request_id": f"{anomaly['anomaly_id']}/update",
                        "work_order_id": earlier,
                        "priority": priority,
                        "note": f"again: {_lead(anomaly)} (anomaly {anomaly['anomaly_id']})",
                    },
                )
            ]
        )
    part = parts[0] if parts else {}
    planned = f"; parts plan: {_plan_text(plan)}" if plan is not None else ""
    return Reply.tool_calls(
        [
            ToolCall(
                "create_work_order",
                {
                    "request_id": anomaly["anomaly_id"],
                    "machine_id": anomaly["machine_id"],
                    "title": f"{mode.replace('_', ' ')} suspected on {anomaly['machine_id']}",
                    "priority": priority,
                    "description": f"{_lead(anomaly)}; part {part.get('part_id', 'unknown')} "
                    f"(stock {part.get('stock', '?')}, lead time "
                    f"{part.get('lead_time_days', '?')} days); "
                    f"{asset.get('repairs', 0)} earlier repairs{planned}",
                    "anomaly_id": anomaly["anomaly_id"],
                },
            )
        ]
    )


def _asset_sql(machine: str) -> str:
    return (
        "SELECT a.machine_id, a.model, a.criticality, COUNT(h.event_id) AS repairs "
        "FROM assets a LEFT JOIN maintenance_history h ON h.machine_id = a.machine_id "
        f"WHERE a.machine_id = '{_quote(machine)}' GROUP BY ALL"
    )


def _parts_sql(machine: str, mode: str) -> str:
    return (
        "SELECT p.part_id, p.name, p.stock, p.lead_time_days FROM parts p "
        "JOIN assets a ON p.fits_model = a.model "
        f"WHERE a.machine_id = '{_quote(machine)}' AND p.failure_mode = '{_quote(mode)}'"
    )


def _query_rows(req: ChatRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The asset row and the parts rows from this turn's two query results."""
    asset: dict[str, Any] = {}
    parts: list[dict[str, Any]] = []
    for result in req.tool_results:
        table = _json(result.content)
        if not isinstance(table, dict) or "columns" not in table:
            continue
        rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
        if "criticality" in table["columns"]:
            asset = rows[0] if rows else {}
        else:
            parts = rows
    return asset, parts


def _plan_text(plan: Any) -> str:
    """The parts planner's answer as one sentence (its reason when it could not answer)."""
    if isinstance(plan, dict):
        return str(plan.get("plan"))
    return f"none ({plan})"


def _task_results(req: ChatRequest) -> dict[str, Any]:
    """Every tool result of the current task (since the last user message), by tool name."""
    last_user = max(i for i, m in enumerate(req.messages) if m.get("role") == "user")
    names: dict[Any, str] = {}
    found: dict[str, Any] = {}
    for message in req.messages[last_user + 1 :]:
        for call in message.get("tool_calls") or ():
            names[call.get("id")] = (call.get("function") or {}).get("name", "")
        if message.get("role") == "tool":
            found[names.get(message.get("tool_call_id"), "")] = _json(message.get("content"))
    return found


def _lead(anomaly: dict[str, Any]) -> str:
    first = (anomaly.get("contributors") or [{}])[0]
    return f"{first.get('metric')} {first.get('value')} vs {first.get('expected')} expected"


def _current_anomaly(req: ChatRequest) -> dict[str, Any] | None:
    anomalies = _anomalies(req)
    return anomalies[-1] if anomalies else None


def _anomalies(req: ChatRequest) -> list[dict[str, Any]]:
    found = []
    for message in req.messages:
        if message.get("role") == "user":
            parsed = _json(message.get("content"))
            if isinstance(parsed, dict) and "anomaly_id" in parsed:
                found.append(parsed)
    return found


def _earlier_work_order(req: ChatRequest) -> str | None:
    """The work order an earlier task of this machine opened, from the agent's memory."""
    last_user = max(i for i, m in enumerate(req.messages) if m.get("role") == "user")
    for message in reversed(req.messages[:last_user]):
        answer = _json(message.get("content")) if message.get("role") == "assistant" else None
        if isinstance(answer, dict) and answer.get("work_order_id"):
            return str(answer["work_order_id"])
    return None


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _quote(text: str) -> str:
    return text.replace("'", "''")
