"""Log levels for the Python that runs agents: no record per request from the HTTP stack.

Both Pythons of an agent operator set them: the TaskManager's embedded one, and the call
process beside it (``_call_process``), whose records cross a socket and are logged again
on the operator's side.
"""

from __future__ import annotations

import logging

#: Libraries that log every request at INFO or DEBUG.
CHATTY = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "mcp", "asyncio")


def quiet_python_logging(level: int = logging.INFO) -> None:
    """Records below ``level`` (the HTTP stack's: below WARNING) stop where they are made.

    pemja sets the TaskManager's root logger to DEBUG and forwards every record to Java, so
    each debug line of the HTTP stack was formatted and crossed JNI before log4j dropped
    it: a third of the Python time of a model call, measured. In the call process each
    request's INFO line was sent to the operator: a twentieth of its loop's time, measured.
    """
    logging.getLogger().setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
