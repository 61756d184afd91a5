"""The Kafka broker's own counters (records in, produce and fetch requests), read over JMX.

A small Java program from this folder (``java/BrokerCounters.java``, run by the JDK's
source launcher) attaches to the broker's JVM by process id, as jconsole does, and prints
the broker's cumulative counters on request. They count what the broker handled whatever
the machine's load, so a design that writes fewer records or sends fewer requests shows
it here even on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from flink_agents.local._process import java_executable

SOURCE = Path(__file__).with_name("java") / "BrokerCounters.java"
#: The counters read, in the order ``BrokerCounters.java`` prints them.
NAMES = ("produce_requests", "fetch_requests", "records_in", "bytes_in", "bytes_out")


class BrokerCounters:
    """One attached reader for the life of a benchmark run; ``read()`` gives the counts now.

    Start it with the broker's pid, read before and after a window, ``close()`` at the end.
    """

    def __init__(self, broker_pid: int) -> None:
        self._proc = subprocess.Popen(
            [java_executable(), str(SOURCE), str(broker_pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline().strip()
        if first != "ready":
            self.close()
            raise RuntimeError(f"could not read the Kafka broker's counters (pid {broker_pid})")

    def read(self) -> dict[str, int]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("\n")
        self._proc.stdin.flush()
        counts: dict[str, int] = json.loads(self._proc.stdout.readline())
        return counts

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def per_step(before: dict[str, int], after: dict[str, int], steps: float) -> dict[str, float]:
    """Each counter's growth per step, as ``broker_<counter>_per_step``.

    >>> before = {"records_in": 10, "fetch_requests": 4}
    >>> after = {"records_in": 70, "fetch_requests": 9}
    >>> per_step(before, after, steps=10)
    {'broker_records_in_per_step': 6.0, 'broker_fetch_requests_per_step': 0.5}
    """
    if not steps:
        return {}
    return {
        f"broker_{name}_per_step": round((after[name] - before[name]) / steps, 3)
        for name in before
        if name in after
    }
