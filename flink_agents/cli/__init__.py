"""The ``flink-agents`` command line."""

from flink_agents.cli._app import app, main

__all__ = ["app", "main"]
