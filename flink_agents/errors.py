"""The exceptions of flink-agents: one tree, split into retryable and fatal.

``RetryableError`` marks transient failures (a model answering 429 or 5xx, a timeout, an
MCP server that dropped its connection): the runtime retries them with backoff.
``FatalError`` marks failures that a retry cannot fix (bad configuration, an invalid
agent spec, a model refusing a request): they end the task or the command with the reason.

>>> issubclass(ConfigError, FatalError), issubclass(ModelUnavailable, RetryableError)
(True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class FlinkAgentsError(Exception):
    """Base of every error raised by flink-agents."""


class FatalError(FlinkAgentsError):
    """A failure that retrying cannot fix."""


class RetryableError(FlinkAgentsError):
    """A transient failure: the same call may succeed later."""


class ConfigError(FatalError):
    """Settings or job configuration that cannot work."""


class SpecError(FatalError):
    """An agent, tool or model spec that does not validate."""


class StackError(FlinkAgentsError):
    """The local Kafka + Flink stack could not be started, checked or stopped."""


class DownloadError(StackError):
    """A jar could not be fetched from Maven or failed its checksum."""


class ModelUnavailable(RetryableError):
    """The model endpoint answered 429/5xx, timed out or could not be reached."""


class ModelRejected(FatalError):
    """The model endpoint refused the request for good (400, 401, 403, 404)."""


class ToolUnavailable(RetryableError):
    """A tool (or its MCP server) could not be reached or timed out."""


def explain(exc: ValidationError, whole: str = "") -> str:
    """A pydantic validation error on one line: ``field.path: message; ...``.

    A problem with the value as a whole is named ``whole``, or given bare when that is empty.
    """
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or whole
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


__all__ = [
    "ConfigError",
    "DownloadError",
    "FatalError",
    "FlinkAgentsError",
    "ModelRejected",
    "ModelUnavailable",
    "RetryableError",
    "SpecError",
    "StackError",
    "ToolUnavailable",
]
