"""What every command shares: the settings, loaded once, and the console."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from flink_agents.config import Settings, load_settings
from flink_agents.errors import FlinkAgentsError

# soft_wrap: long lines (paths, ids, traces) stay whole when output is piped or parsed.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)  # paths and ids stay whole, copyable


@dataclass
class Context:
    overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.overrides)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a project error as one clear message and exit 1, without a stack trace."""
    try:
        yield
    except FlinkAgentsError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
