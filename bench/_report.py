"""Results: one JSON file per measurement, summary.json, a Markdown table and plots."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from flink_agents import versions
from flink_agents.local._process import java_executable

#: The parts of a run, each saved as its own JSON file.
PARTS = ("floor", "classifier", "react", "capacity", "recovery", "replay", "burst", "scale")

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    # The Java the stack runs on ($JAVA_HOME first), not whichever is first on PATH.
    java = subprocess.run(
        [java_executable(), "-version"], capture_output=True, text=True, check=False
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "java": (java.stderr.splitlines() or ["?"])[0],
        "flink": versions.FLINK_VERSION,
        "kafka": versions.KAFKA_VERSION,
    }


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}{'+changes' if dirty else ''}" or "unknown"


def phase(block: dict[str, Any], latency: float) -> dict[str, Any]:
    return next(p for p in block["phases"] if p["latency_ms"] == latency)


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The headline figures (see bench/README.md for how each is measured)."""
    out: dict[str, Any] = {"commit": results["commit"]}
    flink = {w: results[w]["flink-agents"] for w in ("classifier", "react") if w in results}
    base = {w: results[w]["asyncio"] for w in ("classifier", "react") if w in results}
    if "classifier" in flink:
        out["little_bound_share"] = phase(flink["classifier"], 500.0)["little_bound_share"]
        out["overhead_ms_p50"] = flink["classifier"]["overhead"]["overhead_ms_p50"]
        out["overhead_ms_p99"] = flink["classifier"]["overhead"]["overhead_ms_p99"]
    ratios = {
        w: phase(flink[w], 0.0)["cpu_s_per_1k_steps"] / phase(base[w], 0.0)["cpu_s_per_1k_steps"]
        for w in flink
        if w in base and phase(base[w], 0.0)["cpu_s_per_1k_steps"]
    }
    # The worse workload is the headline: a target met only on the easy case is not met.
    out["cpu_per_step_vs_asyncio"] = round(max(ratios.values()), 2) if ratios else None
    out["cpu_per_step_vs_asyncio_by_workload"] = {w: round(r, 2) for w, r in ratios.items()}
    out.update(with_broker(results))
    out["events_per_s"] = {
        w: {f"{int(p['latency_ms'])}ms": p["events_per_s"] for p in flink[w]["phases"]}
        for w in flink
    }
    out["asyncio_events_per_s"] = {
        w: {f"{int(p['latency_ms'])}ms": p["events_per_s"] for p in base[w]["phases"]} for w in base
    }
    sql = (results.get("classifier") or {}).get("flink-agents-sql")
    if sql and "classifier" in flink:
        out["sql_vs_python"] = sql_vs_python(flink["classifier"], sql)
    if "floor" in results:
        out["floor_events_per_s"] = results["floor"]["events_per_s"]
    recovery = results.get("recovery") or {}
    exactly_once = recovery.get("exactly_once") or {}
    out["recovery_s"] = recovery.get("recovery_s")
    out["recovery_duplicates"] = recovery.get("duplicates")
    out["recovery_s_exactly_once"] = exactly_once.get("recovery_s")
    out["recovery_duplicates_exactly_once"] = exactly_once.get("duplicates")
    out["visible_ms_p50"] = recovery.get("visible_ms_p50")
    out["visible_ms_p50_exactly_once"] = exactly_once.get("visible_ms_p50")
    cost = recovery.get("exactly_once_cost") or {}
    out["exactly_once_events_per_s_ratio"] = cost.get("events_per_s_ratio")
    out["exactly_once_cpu_per_step_ratio"] = cost.get("cpu_per_step_ratio")
    out["replay_events_per_s"] = (results.get("replay") or {}).get("events_per_s")
    burst = results.get("burst") or {}
    out["little_bound_share_burst"] = burst.get("little_bound_share")
    out["burst_duplicates"] = burst.get("duplicates")
    scale = results.get("scale") or {}
    out["events_per_s_by_parallelism"] = {
        p: {f"{int(f['latency_ms'])}ms": f["events_per_s"] for f in run["phases"]}
        for p, run in (scale.get("parallelism") or {}).items()
    } or None
    sizes = [b["state_bytes_per_key"] for b in flink.values() if b.get("state_bytes_per_key")]
    out["state_bytes_per_key"] = max(sizes) if sizes else None
    # Per workload, [tasks per key so far, state bytes per key] after each phase: bounded?
    out["state_over_run"] = {
        w: [[p.get("tasks_per_key"), p.get("state_bytes_per_key")] for p in b["phases"]]
        for w, b in flink.items()
        if any(p.get("state_bytes_per_key") for p in b["phases"])
    }
    return out


def sql_vs_python(python: dict[str, Any], sql: dict[str, Any]) -> dict[str, Any]:
    """The classifier defined in SQL against the same agent in Python: ratios SQL / Python
    of CPU per step at each model latency and of the per-step overhead."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    cpu = {
        f"{int(p['latency_ms'])}ms": ratio(
            phase(sql, p["latency_ms"])["cpu_s_per_1k_steps"], p["cpu_s_per_1k_steps"]
        )
        for p in python["phases"]
    }
    return {
        "cpu_per_step": cpu,
        "overhead_p50": ratio(
            sql["overhead"]["overhead_ms_p50"], python["overhead"]["overhead_ms_p50"]
        ),
        "overhead_p99": ratio(
            sql["overhead"]["overhead_ms_p99"], python["overhead"]["overhead_ms_p99"]
        ),
    }


def _systems(block: dict[str, Any]) -> list[str]:
    names = ("flink-agents", "flink-agents-results", "flink-agents-sql", "asyncio")
    return [s for s in names if s in block]


#: The systems that run the Python agent job, by ``runtime.events_log``.
LEVELS = {"full": "flink-agents", "results": "flink-agents-results"}


def with_broker(results: dict[str, Any], latency: float = 0.0) -> dict[str, Any]:
    """Per events-log level and workload, CPU per step with the broker's against the asyncio
    service's with its broker's (at ``latency`` ms of model time); and records per step.

    >>> def block(cpu, broker, records):
    ...     return {"phases": [{"latency_ms": 0.0, "cpu_s_per_1k_steps": cpu,
    ...                         "broker_cpu_s_per_1k_steps": broker,
    ...                         "broker_records_in_per_step": records}]}
    >>> results = {"classifier": {"flink-agents": block(0.9, 0.5, 5.0),
    ...     "flink-agents-results": block(0.8, 0.3, 3.0), "asyncio": block(0.8, 0.2, 2.0)}}
    >>> with_broker(results)["cpu_and_broker_per_step_vs_asyncio"]
    {'full': {'classifier': 1.4}, 'results': {'classifier': 1.1}}
    >>> with_broker(results)["broker_records_in_per_step"]["classifier"]
    {'flink-agents': 5.0, 'flink-agents-results': 3.0, 'asyncio': 2.0}
    """
    ratios: dict[str, dict[str, float]] = {}
    records: dict[str, dict[str, float]] = {}
    for workload in ("classifier", "react"):
        block = results.get(workload) or {}
        for system in _systems(block):
            p = phase(block[system], latency)
            if p.get("broker_records_in_per_step") is not None:
                records.setdefault(workload, {})[system] = p["broker_records_in_per_step"]
        if "asyncio" not in block:
            continue
        base = _cpu_and_broker(phase(block["asyncio"], latency))
        for level, system in LEVELS.items():
            ours = _cpu_and_broker(phase(block[system], latency)) if system in block else None
            if ours is not None and base:
                ratios.setdefault(level, {})[workload] = round(ours / base, 2)
    return {"cpu_and_broker_per_step_vs_asyncio": ratios, "broker_records_in_per_step": records}


def _cpu_and_broker(p: dict[str, Any]) -> float | None:
    if p.get("cpu_s_per_1k_steps") is None or p.get("broker_cpu_s_per_1k_steps") is None:
        return None
    return float(p["cpu_s_per_1k_steps"]) + float(p["broker_cpu_s_per_1k_steps"])


def broker_table(results: dict[str, Any]) -> list[str]:
    """What the Kafka broker handled per step, from its own counters (empty for older runs)."""
    names = ("records_in", "produce_requests", "fetch_requests", "bytes_in")
    rows = []
    for workload in ("classifier", "react"):
        for system in _systems(results.get(workload) or {}):
            for p in results[workload][system]["phases"]:
                if f"broker_{names[0]}_per_step" not in p:
                    continue
                counts = " | ".join(str(p.get(f"broker_{n}_per_step", "-")) for n in names)
                rows.append(f"| {workload} | {p['latency_ms']:g} ms | {system} | {counts} |")
    if not rows:
        return []
    return [
        "Kafka broker's counters per step (JMX: records in, produce and fetch requests, bytes in):",
        "",
        "| workload | model latency | system | records in | produce requests | "
        "fetch requests | bytes in |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]


def table(results: dict[str, Any]) -> str:
    rows = [
        "| workload | model latency | system | events/s | share of Little bound | "
        "CPU cores | CPU s / 1k steps | broker CPU s / 1k steps |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload in ("classifier", "react"):
        if workload not in results:
            continue
        for latency in sorted(
            {p["latency_ms"] for p in results[workload]["flink-agents"]["phases"]}
        ):
            for system in _systems(results[workload]):
                p = phase(results[workload][system], latency)
                share = f"{p['little_bound_share']:.0%}" if p["little_bound_share"] else "-"
                rows.append(
                    f"| {workload} | {latency:g} ms | {system} | {p['events_per_s']} | {share} | "
                    f"{p['cpu_cores']} | {p['cpu_s_per_1k_steps']} | "
                    f"{p['broker_cpu_s_per_1k_steps']} |"
                )
    lines = ["\n".join(rows), "", *broker_table(results), ""]
    ratios = with_broker(results)["cpu_and_broker_per_step_vs_asyncio"]
    if ratios:
        shown = "; ".join(
            f"events_log {level}: " + ", ".join(f"{w} {r}" for w, r in by_workload.items())
            for level, by_workload in ratios.items()
        )
        lines += [
            f"CPU per step with the broker's, against asyncio with its broker's: {shown}.",
            "",
        ]
    lines.append(
        "| workload | system | overhead per step p50 / p99 (0 ms model) | "
        "end to end p50 / p99 | peak RSS | state per key |"
    )
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for workload in ("classifier", "react"):
        for system in _systems(results.get(workload) or {}):
            b = results[workload][system]
            o = b["overhead"]
            state = f"{b['state_bytes_per_key']:.0f} B" if b.get("state_bytes_per_key") else "-"
            lines.append(
                f"| {workload} | {system} | {o['overhead_ms_p50']} / {o['overhead_ms_p99']} ms | "
                f"{o['end_to_end_ms_p50']} / {o['end_to_end_ms_p99']} ms | "
                f"{b['peak_rss_bytes'] / 2**20:.0f} MiB | {state} |"
            )
    if "floor" in results:
        f = results["floor"]
        lines += [
            "",
            f"Pass-through floor (same Kafka -> Flink -> Kafka pipeline, no agent): "
            f"{f['events_per_s']} events/s saturated, latency p50 {f['latency_ms_p50']} ms, "
            f"p99 {f['latency_ms_p99']} ms at {results['plan']['overhead_rate']:g} events/s.",
        ]
    sql = (results.get("classifier") or {}).get("flink-agents-sql")
    if sql:
        r = sql_vs_python(results["classifier"]["flink-agents"], sql)
        cpu = ", ".join(f"{k}: {v}" for k, v in r["cpu_per_step"].items())
        lines += [
            "",
            f"The classifier defined in SQL against the same agent in Python (SQL / Python): "
            f"CPU per step {cpu} (by model latency); overhead per step p50 "
            f"{r['overhead_p50']}, p99 {r['overhead_p99']}.",
        ]
    if "capacity" in results:
        sweep = ", ".join(
            f"{r['capacity']}: {r['events_per_s']} events/s ({r['little_bound_share']:.0%} of "
            f"{r['little_bound_calls_per_s']:g})"
            for r in results["capacity"]
        )
        lines += ["", f"In-flight capacity at 500 ms (classifier, flink-agents): {sweep}."]
    if results.get("recovery"):
        r = results["recovery"]
        lines += [
            "",
            f"Recovery after killing the TaskManager: decisions flowed again after "
            f"{r['recovery_s']} s; {r['answered']}/{r['inputs']} inputs answered, "
            f"{r['lost']} lost, {r['duplicates']} answered twice.",
        ]
        once = r.get("exactly_once")
        if once:
            lines += [
                "",
                f"The same with exactly-once outputs (read `read_committed`): decisions flowed "
                f"again after {once['recovery_s']} s; {once['answered']}/{once['inputs']} "
                f"answered, {once['lost']} lost, {once['duplicates']} answered twice. An answer "
                f"became readable {once['visible_ms_p50']} / {once['visible_ms_p99']} ms (p50 / "
                f"p99) after its input, against {r.get('visible_ms_p50')} / "
                f"{r.get('visible_ms_p99')} ms without transactions.",
            ]
        cost = r.get("exactly_once_cost")
        if cost:
            base, eo = cost["at_least_once"], cost["exactly_once"]
            lines += [
                "",
                f"Saturated at {base['latency_ms']:.0f} ms (classifier, outputs counted as "
                f"written): {eo['events_per_s']} "
                f"tasks/s with exactly-once outputs against {base['events_per_s']} without "
                f"(ratio {cost['events_per_s_ratio']}); CPU per step ratio "
                f"{cost['cpu_per_step_ratio']}.",
            ]
    if results.get("replay"):
        r = results["replay"]
        lines += [
            "",
            f"Exact replay of {r['inputs']} classifier inputs from the events log: "
            f"{r['events_per_s']} events/s ({r['replayed']} outputs in {r['seconds']} s, "
            f"first to last), {r['model_requests']} model requests, {r['failed']} failed.",
        ]
    if results.get("burst"):
        b = results["burst"]
        lines += [
            "",
            f"A burst of {b['inputs']} classifier inputs queued before the job starts, model at "
            f"{b['latency_ms']:.0f} ms: {b['events_per_s']} tasks/s while it drains "
            f"({b['little_bound_share']:.0%} of the Little's-law bound); first answer "
            f"{b['first_answer_s']} s after submission; {b['answered']}/{b['inputs']} answered, "
            f"{b['duplicates']} twice.",
        ]
    if results.get("scale"):
        runs = results["scale"]["parallelism"]
        rows = "; ".join(
            f"parallelism {p} ({run['taskmanagers_used']} TaskManager(s)): "
            + ", ".join(
                f"{f['events_per_s']} tasks/s at {f['latency_ms']:.0f} ms" for f in run["phases"]
            )
            for p, run in runs.items()
        )
        lines += ["", f"The classifier on two TaskManagers: {rows}."]
    return "\n".join(lines)


def plots(results: dict[str, Any], folder: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    workloads = [w for w in ("classifier", "react") if w in results]
    if workloads:
        fig, axes = plt.subplots(1, len(workloads), figsize=(5 * len(workloads), 4))
        for ax, workload in zip(axes if len(workloads) > 1 else [axes], workloads, strict=True):
            styles = {
                "flink-agents": "o-",
                "flink-agents-results": "v-",
                "flink-agents-sql": "^-",
                "asyncio": "s--",
            }
            for system in _systems(results[workload]):
                style = styles[system]
                phases = results[workload][system]["phases"]
                ax.plot(
                    [p["latency_ms"] for p in phases],
                    [p["events_per_s"] for p in phases],
                    style,
                    label=system,
                )
            ax.set_xscale("symlog", linthresh=10)
            ax.set_ylim(bottom=0)
            ax.set_xlabel("model latency (ms)")
            ax.set_ylabel("tasks per second")
            ax.set_title(workload)
            ax.legend()
        fig.tight_layout()
        made.append(folder / "throughput_vs_latency.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)
    if "capacity" in results:
        rows = sorted(results["capacity"], key=lambda r: r["capacity"])
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(
            [r["capacity"] for r in rows],
            [r["model_calls_per_s"] for r in rows],
            "o-",
            label="flink-agents",
        )
        ax.plot(
            [r["capacity"] for r in rows],
            [r["little_bound_calls_per_s"] for r in rows],
            ":",
            label="Little's law bound",
        )
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks([r["capacity"] for r in rows], [str(r["capacity"]) for r in rows])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("calls in flight (capacity)")
        ax.set_ylabel("model calls per second at 500 ms")
        ax.legend()
        fig.tight_layout()
        made.append(folder / "throughput_vs_capacity.png")
        fig.savefig(made[-1], dpi=110)
        plt.close(fig)
    return made


def load(folder: Path) -> tuple[dict[str, Any], str]:
    """The results of the last run, from its JSON files (to redraw the report)."""
    results: dict[str, Any] = {}
    command = ""
    for name in PARTS:
        path = folder / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            results[name] = data["figures"]
            command = data["command"]
            results.update(
                {k: data[k] for k in ("machine", "plan", "commit", "started", "seconds")}
            )
    return results, command


def write(results: dict[str, Any], folder: Path, command: str) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    common = {k: results[k] for k in ("machine", "plan", "commit", "started", "seconds")}
    for name in PARTS:
        if name in results:
            data = {**common, "command": command, "figures": results[name]}
            (folder / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    headline = summary(results)
    (folder / "summary.json").write_text(json.dumps(headline, indent=2) + "\n")
    text = table(results)
    (folder / "table.md").write_text(text + "\n")
    made = plots(results, folder)
    if folder.resolve() == (ROOT / "bench" / "results").resolve():
        _update_readme(text, made, command, results)
    return headline


def _update_readme(text: str, plots: list[Path], command: str, results: dict[str, Any]) -> None:
    if not README.exists():
        return
    m = results["machine"]
    block = [
        BEGIN,
        f"Latest run: `{command.strip()}` at commit {results['commit']}, {results['started']}, "
        f"{results['seconds']:.0f} s, on {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB.",
        "",
        text,
        "",
        *[f"![{p.stem}](results/{p.name})" for p in plots],
        END,
    ]
    page = README.read_text()
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + "\n".join(block) + tail)
