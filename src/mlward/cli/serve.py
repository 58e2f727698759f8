"""``mlward serve`` and ``mlward predict``: run the inference gateway, call it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

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
    model: Annotated[str, typer.Argument(help="Model name (NAME[@VERSION|@STAGE] with --local).")],
    data: Annotated[
        str, typer.Option(help="JSON rows: a list of objects/arrays, or @FILE (.json, or .csv with --local).")
    ],
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Predict in this process (no gateway): the same permission, checks, guards and audit.",
        ),
    ] = False,
    token: Annotated[
        str | None, typer.Option(help="API token or JWT (default: $MLWARD_TOKEN).", show_default=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Gateway URL (default http://serve.host:serve.port).")
    ] = None,
    sign: Annotated[bool, typer.Option(help="Sign the request with $MLWARD_SIGNING_SECRET.")] = False,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Predict with a model: through a running gateway, or in this process with --local."""
    from mlward.core.errors import ConfigError

    chosen = resolve_format(format)
    if local:
        if token or url or sign:
            raise ConfigError("--token, --url and --sign are for the gateway; --local runs in this process")
        _predict_local(model, data, chosen)
        return
    from mlward.serve.client import predict as call

    if "@" in model:
        raise ConfigError(
            f"the gateway serves the production version of each model: pass the name, not {model!r}",
            hint="use --local to predict with another version",
        )
    bearer = token or os.environ.get("MLWARD_TOKEN")
    if not bearer:
        raise ConfigError("no token", hint="pass --token or set MLWARD_TOKEN")
    secret = os.environ.get("MLWARD_SIGNING_SECRET") if sign else None
    if sign and not secret:
        raise ConfigError("--sign needs MLWARD_SIGNING_SECRET (printed by 'mlward tokens create')")
    if _is_csv(data):
        raise ConfigError("CSV rows need --local; the gateway takes JSON")
    rows = _json_rows(_read_data(data))
    if url is None:
        serve_cfg = STATE.workspace().config.serve
        url = f"http://{serve_cfg.host}:{serve_cfg.port}"
    result = call(url, model, rows, bearer, secret)
    if chosen is OutputFormat.json:
        emit_json({**result.raw, "model_digest": result.model_digest})
        return
    console.print(
        f"{result.model}@{result.version} ({result.model_digest[:19]}…) request {result.request_id}"
        f"{' (signed)' if sign else ''}"
    )
    _print_predictions(result.predictions, result.probabilities)


def _predict_local(model: str, data: str, chosen: OutputFormat) -> None:
    from mlward.inference.local import TextRows, predict_local
    from mlward.model.registry import parse_model_ref

    name, selector = parse_model_ref(model)
    text = _read_data(data)
    rows: list[Any] | TextRows = _csv_rows(text) if _is_csv(data) else _json_rows(text)
    result = predict_local(STATE.workspace(), name, rows, selector=selector)
    digest = f"sha256:{result.root_digest}"
    if chosen is OutputFormat.json:
        content: dict[str, Any] = {
            "model": result.model,
            "version": result.version,
            "request_id": result.request_id,
            "predictions": result.predictions,
        }
        if result.probabilities is not None:
            content["classes"] = result.classes
            content["probabilities"] = result.probabilities
        emit_json({**content, "model_digest": digest, "decision": result.decision})
        return
    flagged = " (flagged by the guards)" if result.decision == "flagged" else ""
    console.print(f"{result.model}@{result.version} ({digest[:19]}…) request {result.request_id}{flagged}")
    _print_predictions(result.predictions, result.probabilities)


def _print_predictions(predictions: list[Any], probabilities: list[list[float]] | None) -> None:
    for index, prediction in enumerate(predictions):
        extra = f"  p={max(probabilities[index]):.3f}" if probabilities else ""
        console.print(f"  row {index}: {prediction}{extra}")


def _is_csv(data: str) -> bool:
    return data.startswith("@") and data.lower().endswith(".csv")


def _read_data(data: str) -> str:
    """The ``--data`` text: inline, or the file named after ``@``."""
    from mlward.core.errors import InputError

    if not data.startswith("@"):
        return data
    path = Path(data[1:])
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read --data file {path}: {exc}") from None


def _json_rows(text: str) -> list[Any]:
    from mlward.core.errors import InputError

    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise InputError(f"--data is not valid JSON: {exc}") from None
    if isinstance(rows, dict):
        rows = rows.get("rows", [rows])
    if not isinstance(rows, list):
        raise InputError('--data must be a JSON list of rows (objects or arrays), or {"rows": [...]}')
    return rows


def _csv_rows(text: str) -> Any:
    import csv
    import io

    from mlward.core.errors import InputError
    from mlward.inference.local import TextRows

    try:
        lines = [line for line in csv.reader(io.StringIO(text)) if line]
    except csv.Error as exc:
        raise InputError(f"--data is not valid CSV: {exc}") from None
    if len(lines) < 2:
        raise InputError("--data CSV needs a header line naming the columns and at least one row")
    header = tuple(cell.strip() for cell in lines[0])
    for number, line in enumerate(lines[1:], start=1):
        if len(line) > len(header):
            raise InputError(
                f"--data CSV row {number} has {len(line)} cells but the header names {len(header)}"
            )
    return TextRows(header, lines[1:])
