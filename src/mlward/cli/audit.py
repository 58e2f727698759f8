"""``mlward audit log|verify``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.cli.workspace import read_only_workspace
from mlward.core.errors import EXIT_FINDINGS

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@app.command("log")
def log(
    action: Annotated[str | None, typer.Option(help="Action, or a prefix ending in '*' (model.*).")] = None,
    actor: Annotated[str | None, typer.Option(help="Only events by this principal.")] = None,
    target: Annotated[str | None, typer.Option(help="Only events about this target.")] = None,
    outcome: Annotated[str | None, typer.Option(help="ok, denied, failed or alert.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, e.g. 2026-01-31 or 2026-01-31T12:00.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most the newest N events (0: all).")] = 50,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Show audit events, oldest first."""
    events = read_only_workspace().audit.query(
        action=action, actor=actor, target=target, outcome=outcome, since=since, limit=limit or None
    )
    if resolve_format(format) is OutputFormat.json:
        emit_json([e.to_dict() for e in events])
        return
    table = Table(title=f"audit events ({len(events)} shown)")
    for column in ("seq", "time", "actor", "action", "target", "outcome"):
        table.add_column(column, overflow="fold")
    for event in events:
        style = "red" if event.outcome in ("denied", "failed", "alert") else None
        table.add_row(
            str(event.seq),
            event.time[:19],
            event.actor,
            event.action,
            event.target,
            event.outcome,
            style=style,
        )
    console.print(table)


@app.command("verify")
def verify(
    since: Annotated[
        str | None, typer.Option(help="Count refused journal lines only from this ISO time on.")
    ] = None,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Verify the hash chain and report refused journal lines; exit 1 if either finds anything."""
    audit = read_only_workspace().audit
    result = audit.verify()
    refusals = audit.journal_refusals(since)
    refused = sum(int(event.details.get("refused", 0)) for event in refusals)
    if resolve_format(format) is OutputFormat.json:
        emit_json(
            {
                **result.__dict__,
                "journal_refused": refused,
                "journal_refusals": [
                    {
                        "seq": e.seq,
                        "time": e.time,
                        "journal": e.target,
                        "reasons": e.details.get("reasons", {}),
                    }
                    for e in refusals
                ],
            }
        )
    else:
        if result.ok:
            console.print(f"[green]audit trail verified[/]: {result.events} events, chain and seals intact")
        else:
            console.print(f"[bold red]audit trail BROKEN[/] at event {result.first_bad_seq}: {result.reason}")
        for event in refusals:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(event.details.get("reasons", {}).items()))
            console.print(
                f"[bold red]journal lines refused[/] (event {event.seq}, {event.time}, "
                f"{event.target}): {reasons}"
            )
    if not result.ok or refused:
        raise typer.Exit(EXIT_FINDINGS)
