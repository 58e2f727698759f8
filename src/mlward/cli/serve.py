"""``mlward serve`` and ``mlward predict``: run the inference gateway, call it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json, err_console


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default serve.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default serve.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default serve.workers).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development only).")] = False,
) -> None:
    """Serve the production models: verified, authenticated, rate limited, validated and audited."""
    from mlward.serve.server import plan, run

    workspace = STATE.workspace()
    chosen = plan(workspace, host, port, workers)
    if chosen.host not in ("127.0.0.1", "::1", "localhost"):
        err_console.print(
            f"[yellow]binding to {chosen.host}[/]: "
            "put a TLS-terminating reverse proxy in front (docs/serving.md)"
        )
    err_console.print(
        f"mlward gateway on http://{chosen.host}:{chosen.port} with {chosen.workers} worker(s), "
        f"rate limits {'shared (Redis)' if chosen.shared_limits else 'in memory'}"
    )
    STATE.close()  # each worker opens its own connections
    run(workspace, chosen, reload=reload)


def predict(
    model: Annotated[str, typer.Argument(help="Model name.")],
    data: Annotated[str, typer.Option(help="JSON rows: a list of objects/arrays, or @FILE.")],
    token: Annotated[
        str | None, typer.Option(help="API token or JWT (default: $MLWARD_TOKEN).", show_default=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Gateway URL (default http://serve.host:serve.port).")
    ] = None,
    sign: Annotated[bool, typer.Option(help="Sign the request with $MLWARD_SIGNING_SECRET.")] = False,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Send a prediction request to a running gateway and print the answer."""
    from mlward.core.errors import ConfigError, InputError
    from mlward.serve.client import predict as call

    bearer = token or os.environ.get("MLWARD_TOKEN")
    if not bearer:
        raise ConfigError("no token", hint="pass --token or set MLWARD_TOKEN")
    secret = os.environ.get("MLWARD_SIGNING_SECRET") if sign else None
    if sign and not secret:
        raise ConfigError("--sign needs MLWARD_SIGNING_SECRET (printed by 'mlward tokens create')")
    text = Path(data[1:]).read_text() if data.startswith("@") else data
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--data is not valid JSON: {exc}") from None
    if isinstance(rows, dict):
        rows = rows.get("rows", [rows])
    if url is None:
        serve_cfg = STATE.workspace().config.serve
        url = f"http://{serve_cfg.host}:{serve_cfg.port}"
    result = call(url, model, rows, bearer, secret)
    if resolve_format(format) is OutputFormat.json:
        emit_json({**result.raw, "model_digest": result.model_digest})
        return
    console.print(
        f"{result.model}@{result.version} ({result.model_digest[:19]}…) request {result.request_id}"
        f"{' (signed)' if sign else ''}"
    )
    for index, prediction in enumerate(result.predictions):
        extra = f"  p={max(result.probabilities[index]):.3f}" if result.probabilities else ""
        console.print(f"  row {index}: {prediction}{extra}")
