"""The pure part of the peer comparison: medians over rounds, ratios ours ÷ theirs, the
settings that differ, and the Markdown written into ``bench/README.md``."""

from __future__ import annotations

import statistics
from typing import Any

OURS, THEIRS = "flink-agents", "apache-flink-agents"
WORKLOAD_NAMES = {"classifier": "classifier", "tool": "one tool + answer"}
#: Per-phase figures, each as a median over the rounds; all "lower is better" but events/s.
FIGURES = ("events_per_s", "cpu_ms_per_event", "broker_cpu_ms_per_event", "total_ms_per_event")
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"


def per_event(phase: dict[str, Any]) -> dict[str, float | None]:
    """A throughput phase's CPU (the system's, the broker's, both) in ms per answered event.

    >>> f = per_event({"events": 200, "cpu_s": 1.0, "broker_cpu_s": 0.5, "events_per_s": 20})
    >>> f["cpu_ms_per_event"], f["broker_cpu_ms_per_event"], f["total_ms_per_event"]
    (5.0, 2.5, 7.5)
    """
    events = phase["events"]
    if not events:
        return {"events_per_s": phase["events_per_s"], **dict.fromkeys(FIGURES[1:])}
    cpu, broker = phase["cpu_s"] * 1000 / events, phase["broker_cpu_s"] * 1000 / events
    return {
        "events_per_s": phase["events_per_s"],
        "cpu_ms_per_event": round(cpu, 3),
        "broker_cpu_ms_per_event": round(broker, 3),
        "total_ms_per_event": round(cpu + broker, 3),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``runs``: one dict per block (system, workload, phases). Returns, per workload and
    model latency (``"0ms"``), per system, the median of each figure over the rounds."""
    grouped: dict[tuple[str, str, str], list[dict[str, float | None]]] = {}
    for run in runs:
        for phase in run["phases"]:
            key = (run["workload"], f"{int(phase['latency_ms'])}ms", run["system"])
            grouped.setdefault(key, []).append(per_event(phase))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (workload, latency, system), rows in grouped.items():
        cell: dict[str, Any] = {"rounds": len(rows)}
        for figure in FIGURES:
            values = [r[figure] for r in rows if r[figure] is not None]
            cell[figure] = round(statistics.median(values), 3) if values else None
        out.setdefault(f"{workload} {latency}", {})[system] = cell
    return out


def ratios(table: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, float | None]]:
    """Ours ÷ theirs of each median; above 1 is better for events/s, worse for the others.

    >>> ratios({"classifier 0ms": {OURS: {"events_per_s": 300.0, "cpu_ms_per_event": 4.0},
    ...                            THEIRS: {"events_per_s": 200.0, "cpu_ms_per_event": 5.0}}})
    {'classifier 0ms': {'events_per_s': 1.5, 'cpu_ms_per_event': 0.8}}
    """
    out: dict[str, dict[str, float | None]] = {}
    for row, systems in table.items():
        if OURS not in systems or THEIRS not in systems:
            continue
        ours, theirs = systems[OURS], systems[THEIRS]
        out[row] = {
            figure: _ratio(ours.get(figure), theirs.get(figure))
            for figure in FIGURES
            if figure in ours
        }
    return out


def first_answers(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per workload and system, the median seconds from start to the first answer.

    >>> first_answers([{"workload": "tool", "system": OURS, "first_answer_s": s}
    ...                for s in (20.0, 30.0, 90.0)])
    {'tool': {'flink-agents': 30.0}}
    """
    grouped: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        grouped.setdefault((run["workload"], run["system"]), []).append(run["first_answer_s"])
    out: dict[str, dict[str, float]] = {}
    for (workload, system), values in grouped.items():
        out.setdefault(workload, {})[system] = round(statistics.median(values), 1)
    return out


def settings_diff(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every setting whose value differs between the two (missing on one side counts).

    >>> settings_diff({"parallelism": 1, "audit log": "events topic"},
    ...               {"parallelism": 1, "audit log": None})
    [('audit log', 'events topic', None)]
    """
    names = sorted(set(ours) | set(theirs))
    return [(n, ours.get(n), theirs.get(n)) for n in names if ours.get(n) != theirs.get(n)]


def markdown(results: dict[str, Any]) -> str:
    """The README section: the ratio table, the medians, the settings that differ."""
    lines = [
        f"Latest run: `{results['command']}` at commit {results['commit']}, "
        f"{results['started']}, {round(results['seconds'])} s, {results['rounds']} round(s) "
        f"per system, on {results['machine']['cpus']} CPUs ({results['machine']['cpu']}).",
        "",
        "| workload, model latency | events/s ours ÷ theirs | CPU ms per event ours ÷ theirs "
        "| broker CPU per event ours ÷ theirs | CPU + broker ours ÷ theirs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row, r in results["ratios"].items():
        cells = " | ".join(_fmt(r.get(f)) for f in FIGURES)
        lines.append(f"| {_row_name(row)} | {cells} |")
    lines += [
        "",
        "| workload, model latency | system | events/s | CPU ms / event | broker CPU ms / event "
        "| CPU + broker ms / event |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row, systems in results["medians"].items():
        for system in (OURS, THEIRS):
            if system in systems:
                cells = " | ".join(_fmt(systems[system].get(f)) for f in FIGURES)
                lines.append(f"| {_row_name(row)} | {system} | {cells} |")
    starts = first_answers(results["runs"])
    lines += [
        "",
        "Seconds from start to the first answer (median; ours: a job submitted to the running "
        "cluster; theirs: the job's process started, its MiniCluster included): "
        + "; ".join(
            f"{WORKLOAD_NAMES.get(w, w)}: "
            + ", ".join(
                f"{system} {systems[system]}" for system in (OURS, THEIRS) if system in systems
            )
            for w, systems in starts.items()
        )
        + ".",
    ]
    lines += ["", "Settings that differ:", "", "| setting | flink-agents | Apache Flink Agents |"]
    lines.append("| --- | --- | --- |")
    for name, ours, theirs in results["settings_diff"]:
        lines.append(f"| {name} | {_fmt(ours)} | {_fmt(theirs)} |")
    return "\n".join(lines)


def replace_section(readme: str, section: str) -> str:
    """``readme`` with the text between the peers markers replaced by ``section``."""
    head, _, rest = readme.partition(BEGIN)
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError(f"bench/README.md lacks the markers {BEGIN} ... {END}")
    return f"{head}{BEGIN}\n{section}\n{END}{tail}"


def _row_name(row: str) -> str:
    workload, latency = row.rsplit(" ", 1)
    return f"{WORKLOAD_NAMES.get(workload, workload)}, {latency.removesuffix('ms')} ms"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)
