"""``flink-agents a2a serve``: the A2A 1.0 gateway to the agents that run in Flink."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import ConfigError

app = typer.Typer(help="A2A: serve the agents to any A2A 1.0 client over HTTP.")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    url: Annotated[
        str | None,
        typer.Option(help="The URL clients use to reach the gateway (default http://HOST:PORT)."),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="Name of the environment variable holding the bearer token clients must send; "
            "without it, requests are not authenticated."
        ),
    ] = None,
    caller: Annotated[
        str, typer.Option(help="The caller name agents see (list it, or '*', in `callers`).")
    ] = "a2a-gateway",
    max_request_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 1_048_576,
    max_concurrent: Annotated[
        int, typer.Option(help="Requests (streams included) one client may have open.")
    ] = 16,
    wait: Annotated[
        float, typer.Option(help="Seconds a blocking SendMessage or a CancelTask waits.")
    ] = 300.0,
) -> None:
    """Serve every agent with a published card at URL/agents/NAME (A2A 1.0, JSON-RPC)."""
    from flink_agents.a2a._gateway import GatewayOptions
    from flink_agents.a2a._gateway import serve as run

    obj: Context = ctx.obj
    with user_errors():
        token = None
        if token_env is not None:
            token = os.environ.get(token_env)
            if not token:
                raise ConfigError(
                    f"--token-env {token_env}: the environment variable {token_env} is not set "
                    "or empty; set it to the token clients must send, or leave --token-env out"
                )
        for name, value in (
            ("--max-request-bytes", max_request_bytes),
            ("--max-concurrent", max_concurrent),
            ("--wait", wait),
        ):
            if value <= 0:
                raise ConfigError(f"{name} must be positive, not {value}")
        base = url or f"http://{host}:{port}"
        options = GatewayOptions(
            bootstrap_servers=obj.settings.bootstrap_servers,
            url=base,
            token=token,
            caller=caller,
            max_request_bytes=max_request_bytes,
            max_concurrent=max_concurrent,
            wait=wait,
        )
        console.print(
            f"a2a gateway: {base}/agents/<name> (Kafka {options.bootstrap_servers})",
            highlight=False,
        )
        run(options, host, port)
