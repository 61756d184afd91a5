"""Run the model simulator in the foreground: ``python -m flink_agents.testing.model_server``.

The demo and the benchmarks start it as a subprocess. Once it answers it prints exactly one
line, ``model-server listening on http://HOST:PORT/v1``, to stdout; logs go to stderr; SIGTERM
or SIGINT stop it cleanly with exit status 0.

    python -m flink_agents.testing.model_server --port 0 --latency-ms 50 \\
        --script mypkg.scripts:fraud_script --fault 429:times=2,retry_after=1
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from flink_agents.testing._model_script import Fault
from flink_agents.testing._model_server import ModelServer, load_script
from flink_agents.testing._procs import first_line, stop_process

log = logging.getLogger("flink_agents.testing.model_server")
READY = "model-server listening on "


def spawn(
    *args: str,
    cwd: Path | str | None = None,
    stderr: IO[bytes] | None = None,
    timeout: float = 60.0,
) -> tuple[subprocess.Popen[str], str]:
    """Start the simulator as a subprocess (``args`` are this command's options).

    Returns the process, already answering, and its base URL; stop it with
    ``flink_agents.testing.stop_process``.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "flink_agents.testing.model_server", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    log = Path(stderr.name) if stderr is not None and isinstance(stderr.name, str) else None
    try:
        line = first_line(proc, timeout, log)
        if not line.startswith(READY):
            raise RuntimeError(f"it printed {line!r}")
    except RuntimeError as exc:
        stop_process(proc)
        raise RuntimeError(f"the model simulator did not start: {exc}") from None
    return proc, line.removeprefix(READY)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flink_agents.testing.model_server",
        description="A deterministic OpenAI-compatible chat-completions server for tests, "
        "benchmarks and the demo.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument(
        "--script",
        default="flink_agents.testing:echo",
        help="MODULE:FUNCTION (or FILE.py:FUNCTION) answering each request; "
        "default: echo the last user message",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +/- latency jitter")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latency jitter")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="repeatable: STATUS[:times=N|every=K|rate=P[,seed=S][,retry_after=SECONDS]], "
        "timeout=SECONDS[:...] or malformed[:...]; without a selector it hits every request. "
        "e.g. 500:times=2, 429:rate=0.1,seed=7,retry_after=1, timeout=30:times=1",
    )
    parser.add_argument(
        "--max-recorded",
        type=int,
        default=10_000,
        help="keep only the newest N requests for GET /_sim/requests (0: no limit)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status (2 for bad arguments).

    From a shell::

        python -m flink_agents.testing.model_server --latency-ms 50 --fault 500:times=2
    """
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        script = load_script(args.script)
        faults = [Fault.parse(spec) for spec in args.fault]
        server = ModelServer(
            script,
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            seed=args.seed,
            faults=faults,
            host=args.host,
            port=args.port,
            max_recorded=args.max_recorded or None,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        server.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        log.error("model-server could not start: %s", exc)
        return 1
    print(f"{READY}{server.base_url}", flush=True)
    log.info(
        "script %s, latency %s ms (+/- %s), faults %s",
        args.script,
        args.latency_ms,
        args.jitter_ms,
        faults or "none",
    )
    # The timeout keeps the wait responsive even if a signal lands between checks.
    while not stop.wait(0.5):
        if not server.running:
            log.error("model-server stopped unexpectedly")
            return 1
    server.stop()
    log.info("model-server stopped after %d chat requests", server.count())
    return 0


if __name__ == "__main__":
    sys.exit(main())
