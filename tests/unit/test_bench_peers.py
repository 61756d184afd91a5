"""The pure parts of `make bench-peers`: medians over rounds, ratios, settings that differ,
the README section; and the `tool` workload both systems run."""

from __future__ import annotations

import doctest
import json

import pytest

from bench.peers._compare import (
    BEGIN,
    END,
    OURS,
    THEIRS,
    markdown,
    medians,
    ratios,
    replace_section,
    settings_diff,
)
from bench.workloads import TOOLS, agent, script
from flink_agents.testing import ChatRequest


def _phase(latency: float, events: int, cpu_s: float, broker_s: float) -> dict[str, float]:
    return {
        "latency_ms": latency,
        "events": events,
        "events_per_s": events / 10,
        "cpu_s": cpu_s,
        "broker_cpu_s": broker_s,
    }


def _run(system: str, events: int, cpu_s: float, broker_s: float) -> dict[str, object]:
    return {
        "system": system,
        "workload": "classifier",
        "first_answer_s": events / 100,
        "phases": [_phase(0.0, events, cpu_s, broker_s)],
    }


RUNS = [
    _run(OURS, 3000, 12.0, 3.0),  # 4 ms + 1 ms per event
    _run(OURS, 2000, 10.0, 2.0),  # 5 + 1
    _run(OURS, 1000, 9.0, 4.0),  # 9 + 4: an outlier the median ignores
    _run(THEIRS, 2000, 10.0, 1.0),  # 5 + 0.5
    _run(THEIRS, 1000, 6.0, 0.5),  # 6 + 0.5
]


def test_medians_take_each_figure_over_the_rounds_per_system() -> None:
    table = medians(RUNS)
    assert table["classifier 0ms"][OURS] == {
        "rounds": 3,
        "events_per_s": 200.0,
        "cpu_ms_per_event": 5.0,
        "broker_cpu_ms_per_event": 1.0,
        "total_ms_per_event": 6.0,
    }
    assert table["classifier 0ms"][THEIRS]["rounds"] == 2
    assert table["classifier 0ms"][THEIRS]["cpu_ms_per_event"] == 5.5


def test_ratios_are_ours_over_theirs_of_the_medians() -> None:
    r = ratios(medians(RUNS))["classifier 0ms"]
    assert r == {
        "events_per_s": round(200 / 150, 2),
        "cpu_ms_per_event": round(5.0 / 5.5, 2),
        "broker_cpu_ms_per_event": 2.0,
        "total_ms_per_event": round(6.0 / 6.0, 2),
    }


def test_a_row_with_one_system_only_has_no_ratio() -> None:
    assert ratios(medians(RUNS[:3])) == {}


def test_a_window_without_answers_gives_no_cpu_per_event_and_no_ratio() -> None:
    runs = [_run(OURS, 0, 5.0, 1.0), _run(THEIRS, 1000, 5.0, 1.0)]
    r = ratios(medians(runs))["classifier 0ms"]
    assert r["events_per_s"] == 0.0
    assert r["cpu_ms_per_event"] is None


def test_settings_diff_names_every_setting_that_differs_or_is_missing() -> None:
    ours = {"parallelism": 1, "log of steps": "events topic", "calls in flight": 128}
    theirs = {"parallelism": 1, "log of steps": "none", "where the job runs": "MiniCluster"}
    assert settings_diff(ours, theirs) == [
        ("calls in flight", 128, None),
        ("log of steps", "events topic", "none"),
        ("where the job runs", None, "MiniCluster"),
    ]


def test_markdown_and_readme_section_show_the_ratio_table() -> None:
    table = medians(RUNS)
    results = {
        "command": "python -m bench.peers --quick",
        "commit": "abc1234",
        "started": "2026-01-01 00:00 UTC",
        "seconds": 300,
        "rounds": 3,
        "machine": {"cpus": 2, "cpu": "test cpu"},
        "runs": RUNS,
        "medians": table,
        "ratios": ratios(table),
        "settings_diff": [("log of steps", "events topic", None)],
    }
    text = markdown(results)
    assert "| classifier, 0 ms | 1.33 | 0.91 | 2.0 | 1.0 |" in text
    assert "| log of steps | events topic | - |" in text
    assert "classifier: flink-agents 20.0, apache-flink-agents 15.0." in text
    readme = f"# Bench\n\nbefore\n{BEGIN}\nold table\n{END}\nafter\n"
    updated = replace_section(readme, text)
    assert "old table" not in updated
    assert updated.startswith("# Bench\n\nbefore\n") and updated.endswith(f"{END}\nafter\n")
    assert text in updated


def test_replacing_the_section_without_markers_says_which_are_missing() -> None:
    with pytest.raises(ValueError, match="peers:begin"):
        replace_section("# Bench\n", "table")


def test_tool_workload_calls_one_tool_then_answers() -> None:
    spec = agent("tool", 8, "http://127.0.0.1:1/v1")
    assert [t.name for t in spec.function_tools] == ["account_age"]
    user = {"role": "user", "content": json.dumps({"id": 1, "key": "acct-00001", "amount": 5})}
    first = script(ChatRequest(model="tool", messages=[user]))
    assert [c.name for c in first.calls] == [TOOLS[0].name]
    tool_result = {"role": "tool", "content": "12", "tool_call_id": "c1"}
    second = script(ChatRequest(model="tool", messages=[user, tool_result]))
    assert not second.calls
    assert json.loads(second.content or "") == {"answer": "checked", "evidence": 1}


def test_docstring_examples_of_the_comparison_run() -> None:
    from bench.peers import _compare

    result = doctest.testmod(_compare)
    assert result.attempted and not result.failed
