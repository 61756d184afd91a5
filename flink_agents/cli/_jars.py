"""``flink-agents jars``: the jar cache (Kafka broker, Flink connectors, State Processor API)."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.config import Settings
from flink_agents.local import Artifact, bundles, fetch, missing

app = typer.Typer(help="Fetch and check the jars of the local stack.", no_args_is_help=True)


def fetch_all(settings: Settings) -> None:
    """Download what is missing, with one progress bar per jar; quiet when all are cached."""
    todo = {name: missing(name, settings.jar_cache) for name in bundles()}
    if not any(todo.values()):
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, object] = {}

        def advance(artifact: Artifact, size: int) -> None:
            if artifact.filename not in tasks:
                tasks[artifact.filename] = progress.add_task(artifact.filename, total=artifact.size)
            progress.update(tasks[artifact.filename], advance=size)  # type: ignore[arg-type]

        for name in todo:
            fetch(name, settings.jar_cache, settings.maven_url, advance)


@app.command("fetch")
def fetch_command(ctx: typer.Context) -> None:
    """Download the locked jars from Maven Central (once) and verify their SHA-256."""
    obj: Context = ctx.obj
    with user_errors():
        fetch_all(obj.settings)
        count = sum(len(items) for items in bundles().values())
        console.print(f"{count} jars in {obj.settings.jar_cache}, checksums verified")
