"""``mlward tokens create|ls|revoke|signing-secret``: API keys of the inference gateway."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json, err_console


def create(
    role: Annotated[list[str], typer.Option("--role", "-r", help="Role from mlward.yaml, repeatable.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Label shown in listings and the audit.")] = "",
    owner: Annotated[
        str, typer.Option("--owner", help="Principal the token belongs to; its tokens share its rate limits.")
    ] = "",
    expires: Annotated[str | None, typer.Option(help="Lifetime: 90m, 12h, 30d, 2w (default: never).")] = None,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Issue an API token (needs the local admin role); it is printed once and never stored."""
    from mlward.access.tokens import create_token, parse_duration

    lifetime = parse_duration(expires) if expires else None
    issued = create_token(STATE.workspace(), role, name=name, owner=owner, expires_in=lifetime)
    if resolve_format(format) is OutputFormat.json:
        emit_json({**issued.info.to_dict(), "token": issued.token, "signing_secret": issued.signing_secret})
        return
    info = issued.info
    err_console.print(
        f"created token [bold]{info.id}[/] ({info.name}) with role(s) {', '.join(info.roles)}"
        + (f", expires {info.expires:%Y-%m-%d %H:%M} UTC" if info.expires else "")
        + ". Store both secrets now: they are shown only this once."
    )
    # Plain lines on stdout so `TOKEN=$(mlward tokens create ... | head -1)` works.
    typer.echo(issued.token)
    typer.echo(f"signing secret: {issued.signing_secret}")


def ls(format: Annotated[OutputFormat | None, format_option()] = None) -> None:
    """List API tokens (needs the local admin role); secrets are never shown."""
    from mlward.access.tokens import list_tokens

    tokens = list_tokens(STATE.workspace())
    if resolve_format(format) is OutputFormat.json:
        emit_json([t.to_dict() for t in tokens])
        return
    table = Table(title=f"API tokens ({len(tokens)})")
    for column in ("id", "name", "roles", "created", "by", "expires", "state"):
        table.add_column(column)
    for t in tokens:
        state = "revoked" if t.revoked else ("active" if t.active() else "expired")
        table.add_row(
            t.id,
            t.name,
            ", ".join(t.roles),
            f"{t.created:%Y-%m-%d %H:%M}",
            t.created_by,
            f"{t.expires:%Y-%m-%d %H:%M}" if t.expires else "never",
            state,
            style=None if state == "active" else "dim",
        )
    console.print(table)


def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (the 12 hex digits after mlw_).")],
) -> None:
    """Revoke an API token (needs the local admin role); running gateways refuse it within seconds."""
    from mlward.access.tokens import revoke_token

    info = revoke_token(STATE.workspace(), token_id)
    console.print(f"revoked token [bold]{info.id}[/] ({info.name})")


def signing_secret(
    subject: Annotated[str, typer.Argument(help="JWT subject (sub claim) to derive the secret for.")],
) -> None:
    """Print the request-signing secret of a JWT subject (needs the local admin role)."""
    from mlward.access.authorize import authorize
    from mlward.access.tokens import signing_secret as derive

    workspace = STATE.workspace()
    who = authorize(workspace, "admin", target="request-signing")
    workspace.audit.append(who, "token.signing-secret", f"jwt:{subject}")
    typer.echo(derive(workspace, f"jwt:{subject}"))
