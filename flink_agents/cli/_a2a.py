"""``flink-agents a2a serve``: the A2A 1.0 gateway to the agents that run in Flink."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import ConfigError, explain

app = typer.Typer(help="A2A: serve the agents to any A2A 1.0 client over HTTP.")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
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
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="A file holding the bearer token (e.g. a mounted secret); instead of --token-env."
        ),
    ] = None,
    caller: Annotated[
        str | None,
        typer.Option(help="The caller name agents see (list it, or '*', in `callers`)."),
    ] = None,
    max_request_bytes: Annotated[int | None, typer.Option(help="Largest request body.")] = None,
    max_concurrent: Annotated[
        int | None, typer.Option(help="Requests (streams included) one client may have open.")
    ] = None,
    wait: Annotated[
        float | None, typer.Option(help="Seconds a blocking SendMessage or a CancelTask waits.")
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option(
            "--agent",
            help="Serve only this agent (repeat for more); default: every agent with a card.",
        ),
    ] = None,
) -> None:
    """Serve every agent with a published card at URL/agents/NAME (A2A 1.0, JSON-RPC).

    Each option defaults to its setting in the ``gateway`` section (file or environment,
    ``FLINK_AGENTS_GATEWAY__PORT`` and so on; docs/configuration.md).
    """
    from flink_agents.a2a._gateway import GatewayOptions
    from flink_agents.a2a._gateway import serve as run

    obj: Context = ctx.obj
    with user_errors():
        settings = obj.settings
        given = {
            "host": host,
            "port": port,
            "url": url,
            "token_env": token_env,
            "token_file": token_file,
            "caller": caller,
            "max_request_bytes": max_request_bytes,
            "max_concurrent": max_concurrent,
            "wait_s": wait,
            "agents": agent or None,
        }
        try:
            chosen = settings.gateway.model_copy(
                update={k: v for k, v in given.items() if v is not None}
            )
            chosen = type(chosen).model_validate(chosen.model_dump())
        except ValidationError as exc:
            raise ConfigError(
                f"a2a serve (its options or the gateway settings): {explain(exc)}"
            ) from None
        token = _token(chosen.token_env, chosen.token_file)
        base = chosen.url or f"http://{chosen.host}:{chosen.port}"
        options = GatewayOptions(
            bootstrap_servers=settings.bootstrap_servers,
            url=base,
            token=token,
            caller=chosen.caller,
            max_request_bytes=chosen.max_request_bytes,
            max_concurrent=chosen.max_concurrent,
            wait=chosen.wait_s,
            agents=tuple(chosen.agents),
        )
        console.print(
            f"a2a gateway: {base}/agents/<name> (Kafka {options.bootstrap_servers})",
            highlight=False,
        )
        run(options, chosen.host, chosen.port)


def _token(env: str | None, file: Path | None) -> str | None:
    """The bearer token clients must send, from the environment or a file; None: none."""
    if env is not None and file is not None:
        raise ConfigError(
            "give the gateway's token one way: --token-env (gateway.token_env) or "
            "--token-file (gateway.token_file), not both"
        )
    if env is not None:
        token = os.environ.get(env)
        if not token:
            raise ConfigError(
                f"token_env {env}: the environment variable {env} is not set or empty; set it "
                "to the token clients must send, or leave --token-env (and gateway.token_env) out"
            )
        return token
    if file is not None:
        try:
            token = file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"token_file {file}: cannot read it: {exc.strerror}") from None
        if not token:
            raise ConfigError(
                f"token_file {file} is empty; write the token clients must send into it"
            )
        return token
    return None
