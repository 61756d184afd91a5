"""The pure parts of `make bench`'s report: ratios with the broker counted, per events-log
level, and the table line that shows them."""

from __future__ import annotations

import doctest

import bench._report as report


def _block(cpu: float, broker: float, records: float) -> dict[str, object]:
    phases = [
        {
            "latency_ms": latency,
            "events_per_s": 100.0,
            "little_bound_share": None,
            "cpu_cores": 1.0,
            "cpu_s_per_1k_steps": cpu,
            "broker_cpu_s_per_1k_steps": broker,
            "broker_records_in_per_step": records,
        }
        for latency in (0.0, 500.0)
    ]
    return {"phases": phases}


def test_the_report_examples_run():
    assert doctest.testmod(report).failed == 0


def test_each_events_log_level_is_compared_with_asyncio_broker_included():
    results = {
        "classifier": {
            "flink-agents": _block(1.0, 1.0, 5.0),
            "flink-agents-results": _block(1.0, 0.5, 3.0),
            "asyncio": _block(1.0, 0.25, 2.0),
        },
        "react": {"flink-agents": _block(2.0, 1.0, 9.0), "asyncio": _block(2.0, 0.5, 4.0)},
    }

    got = report.with_broker(results)

    assert got["cpu_and_broker_per_step_vs_asyncio"] == {
        "full": {"classifier": 1.6, "react": 1.2},
        "results": {"classifier": 1.2},
    }
    assert got["broker_records_in_per_step"]["classifier"]["flink-agents-results"] == 3.0
    assert report._systems(results["classifier"]) == [
        "flink-agents",
        "flink-agents-results",
        "asyncio",
    ]


def test_a_run_without_broker_counters_gives_no_ratio():
    block = {"phases": [{"latency_ms": 0.0, "cpu_s_per_1k_steps": 1.0}]}
    results = {"classifier": {"flink-agents": block, "asyncio": block}}
    assert report.with_broker(results)["cpu_and_broker_per_step_vs_asyncio"] == {}
