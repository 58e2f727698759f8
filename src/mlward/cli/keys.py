"""``mlward keys show|rotate``: public parts only, never secrets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json

app = typer.Typer(help="Workspace signing and data keys.", no_args_is_help=True)


@app.command("show")
def show(
    format: Annotated[OutputFormat | None, format_option()] = None,
    pem: Annotated[bool, typer.Option(help="Print the active public signing key as PEM.")] = False,
) -> None:
    """List keys: ids, fingerprints, creation time, active flag (public parts only)."""
    workspace = STATE.workspace()
    keys = workspace.keys.list()
    if pem:
        active = next(k for k in keys if k.kind == "signing" and k.active)
        typer.echo(active.public_pem, nl=False)
        return
    if resolve_format(format) is OutputFormat.json:
        emit_json([k.__dict__ for k in keys])
        return
    table = Table(title="keys")
    for column in ("kind", "id", "fingerprint (sha256)", "created", "active"):
        table.add_column(column)
    for key in keys:
        table.add_row(key.kind, key.kid, key.fingerprint, key.created, "yes" if key.active else "retired")
    console.print(table)


@app.command("rotate")
def rotate(
    kind: Annotated[str, typer.Option(help="signing, data or all.")] = "all",
) -> None:
    """Make new active keys; retired keys stay for verification and decryption."""
    from mlward.access.authorize import authorize

    workspace = STATE.workspace()
    who = authorize(workspace, "admin", target="keys")
    kinds = ("signing", "data") if kind == "all" else (kind,)
    if any(k not in ("signing", "data") for k in kinds):
        raise typer.BadParameter("expected signing, data or all", param_hint="--kind")
    made = workspace.keys.rotate(kinds)
    workspace.audit.append(who, "keys.rotate", "keys", details={"new": [f"{k.kind}:{k.kid}" for k in made]})
    for key in made:
        console.print(f"new active {key.kind} key {key.kid}")
