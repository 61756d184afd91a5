"""The simulated analyst behind the fraud demo when no real model is configured.

The model simulator plays this policy over real HTTP, so the fraud-triage agent runs
exactly as it would against OpenAI: first it asks for the three MCP tools at once, then it
decides from their results and from the card's earlier transactions, which it sees in
the prompt because the agent keeps them in memory (Flink state).

    python -m flink_agents.testing.model_server --script jobs.fraud_model:script
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flink_agents.testing import ChatRequest, Reply, ToolCall

BURST_WINDOW_S = 600
HIGH_RISK = 0.8
MEDIUM_RISK = 0.5
SPEND_MULTIPLE = 5.0


REVIEWER = "compliance-review"


def script(req: ChatRequest) -> Reply:
    """Turn one: look the card and merchant up. Turn two: decide, as JSON; a block is first
    escalated to the compliance reviewer, whose verdict the decision then records."""
    if (req.system_text or "").startswith("You are the compliance reviewer"):
        return review(req.last_user_text or "")
    transaction = _current_transaction(req)
    if transaction is None:
        return Reply.json({"decision": "REVIEW", "reason": "no transaction in the request"})
    results = _tool_results(req)
    if not results:
        return Reply.tool_calls(
            [
                ToolCall("customer_profile", {"card_id": transaction["card_id"]}),
                ToolCall("recent_transactions", {"card_id": transaction["card_id"], "limit": 5}),
                ToolCall("merchant_risk", {"merchant_id": transaction["merchant_id"]}),
            ]
        )
    decision, reason = decide(transaction, results, _earlier_transactions(req))
    if decision == "BLOCK" and REVIEWER in req.tool_names:
        if REVIEWER not in results:
            message = f"Please review {transaction['transaction_id']}: BLOCK, because {reason}."
            return Reply.tool_calls([ToolCall(REVIEWER, {"message": message})])
        verdict = results[REVIEWER]
        escalation = verdict.get("verdict") if isinstance(verdict, dict) else str(verdict)
        return Reply.json({"decision": decision, "reason": reason, "escalation": escalation})
    return Reply.json({"decision": decision, "reason": reason})


def review(request: str) -> Reply:
    """The reviewer's policy: a high-risk merchant is confirmed; anything else is released."""
    if "high-risk" in request:
        return Reply.json({"verdict": "CONFIRM_BLOCK", "reason": "the merchant is high-risk"})
    return Reply.json({"verdict": "RELEASE", "reason": "no merchant risk behind the block"})


def decide(
    tx: dict[str, Any], tools: dict[str, Any], earlier: list[dict[str, Any]]
) -> tuple[str, str]:
    """The policy: merchant risk, spend against the card's habit, place, and bursts."""
    profile = tools.get("customer_profile") or {}
    merchant = tools.get("merchant_risk") or {}
    recent = tools.get("recent_transactions") or []
    risk = float(merchant.get("risk_score", 0.0))
    typical = float(profile.get("typical_spend_mean") or 0.0) or 1.0
    multiple = float(tx["amount"]) / typical
    known_countries = {profile.get("home_country")} | {t.get("country") for t in recent}
    burst = [e for e in earlier if _seconds_between(e, tx) <= BURST_WINDOW_S]
    if risk >= HIGH_RISK:
        why = merchant.get("flagged_reason") or "high risk"
        return "BLOCK", f"merchant {merchant.get('name')} is high-risk ({risk:.2f}: {why})"
    if multiple >= SPEND_MULTIPLE and tx.get("country") not in known_countries:
        return "BLOCK", f"{multiple:.1f}x the usual spend, in a country new for this card"
    if len(burst) >= 2:
        return "REVIEW", f"{len(burst) + 1} transactions on this card within 10 minutes"
    if multiple >= SPEND_MULTIPLE:
        return "REVIEW", f"{multiple:.1f}x the card's usual spend"
    if tx.get("country") not in known_countries:
        return "REVIEW", f"first use of this card in {tx.get('country')}"
    if risk >= MEDIUM_RISK:
        return "REVIEW", f"merchant risk {risk:.2f}"
    return "APPROVE", f"usual spend ({multiple:.1f}x) at a known merchant"


def _current_transaction(req: ChatRequest) -> dict[str, Any] | None:
    """The transaction this task is about: the last user message that is a transaction."""
    for message in reversed(req.messages):
        parsed = _as_transaction(message)
        if parsed is not None:
            return parsed
    return None


def _earlier_transactions(req: ChatRequest) -> list[dict[str, Any]]:
    """Transactions of this card from the agent's memory (earlier tasks of the same key)."""
    found = [t for m in req.messages if (t := _as_transaction(m)) is not None]
    return found[:-1]


def _as_transaction(message: dict[str, Any]) -> dict[str, Any] | None:
    if message.get("role") != "user" or not isinstance(message.get("content"), str):
        return None
    try:
        parsed = json.loads(message["content"])
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "transaction_id" in parsed else None


def _tool_results(req: ChatRequest) -> dict[str, Any]:
    """Tool results of the current task (every turn since its transaction), by tool name,
    decoded from JSON."""
    start = max(
        (i for i, m in enumerate(req.messages) if _as_transaction(m) is not None), default=0
    )
    names: dict[str, str] = {}
    out: dict[str, Any] = {}
    for message in req.messages[start:]:
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), message.get("tool_call_id", ""))
            try:
                out[name] = json.loads(message["content"])
            except ValueError:
                out[name] = message["content"]
    return out


def _seconds_between(a: dict[str, Any], b: dict[str, Any]) -> float:
    try:
        first = datetime.fromisoformat(str(a["timestamp"]).replace("Z", "+00:00"))
        second = datetime.fromisoformat(str(b["timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return float("inf")
    return abs((second - first).total_seconds())
