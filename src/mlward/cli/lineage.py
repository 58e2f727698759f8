"""``mlward lineage show|export|loops``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.core.errors import EXIT_FINDINGS, ConfigError

if TYPE_CHECKING:
    from mlward.lineage.graph import ArtifactRef

app = typer.Typer(help="Where artifacts come from and where they go.", no_args_is_help=True)


def parse_ref(text: str) -> ArtifactRef:
    """Parse ``kind:name@version`` (version optional: ``latest``)."""
    from mlward.lineage.graph import ArtifactRef

    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ConfigError(f"artifact {text!r} must look like KIND:NAME[@VERSION], e.g. dataset:credit-apps@1")
    name, _, version = rest.partition("@")
    return ArtifactRef(kind, name, version or "latest")


@app.command("show")
def show(
    artifact: Annotated[str, typer.Argument(help="KIND:NAME@VERSION, e.g. model:credit-risk@1")],
    direction: Annotated[str, typer.Option(help="upstream or downstream.")] = "upstream",
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """List every artifact upstream (derived from) or downstream of ARTIFACT."""
    lineage = STATE.workspace().lineage
    ref = parse_ref(artifact)
    if direction not in ("upstream", "downstream"):
        raise ConfigError("--direction must be upstream or downstream")
    related = lineage.upstream(ref) if direction == "upstream" else lineage.downstream(ref)
    if resolve_format(format) is OutputFormat.json:
        emit_json([r.__dict__ for r in related])
        return
    table = Table(title=f"{direction} of {ref.key}")
    for column in ("kind", "name", "version", "digest"):
        table.add_column(column)
    for r in related:
        table.add_row(r.kind, r.name, r.version, (r.digest or "")[:23])
    console.print(table)


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON here instead of stdout.")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Only this run id.")] = None,
) -> None:
    """Export runs as OpenLineage 2 RunEvents (JSON list)."""
    import json

    events = STATE.workspace().lineage.openlineage_events(run)
    if output:
        output.write_text(json.dumps(events, indent=2))
        console.print(f"wrote {len(events)} OpenLineage events to {output}")
    else:
        emit_json(events)


@app.command("loops")
def loops(format: Annotated[OutputFormat | None, format_option()] = None) -> None:
    """Detect feedback loops: artifacts that flow back into their own inputs (exit 1 if any)."""
    cycles = STATE.workspace().lineage.cycles()
    if resolve_format(format) is OutputFormat.json:
        emit_json({"loops": cycles})
    elif cycles:
        for cycle in cycles:
            console.print("[red]feedback loop:[/] " + " -> ".join([*cycle, cycle[0]]))
    else:
        console.print("[green]no feedback loops in the lineage graph[/]")
    if cycles:
        raise typer.Exit(EXIT_FINDINGS)
