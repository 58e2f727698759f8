"""``mlward init`` and ``mlward status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.workspace import Workspace


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path("."),
    project: Annotated[str | None, typer.Option(help="Project name (default: the directory name).")] = None,
) -> None:
    """Create mlward.yaml, the .mlward/ state directory and the workspace keys."""
    workspace = Workspace.init(directory, project=project)
    try:
        console.print(f"Initialized mlward workspace [bold]{workspace.config.project}[/] in {workspace.root}")
        console.print(f"  config:   {workspace.config_path}")
        console.print(f"  state:    {workspace.state_dir} (keys are 0600; never commit this directory)")
        console.print("  next:     edit mlward.yaml, add yourself to a role, then 'mlward status'")
    finally:
        workspace.close()


def read_only_workspace() -> Workspace:
    """The CLI's workspace with its database opened read-only, for commands that only look."""
    workspace = STATE.workspace()
    if "metadata" not in workspace.__dict__:
        workspace.read_only = True
    return workspace


def workspace_status(workspace: Workspace) -> dict[str, Any]:
    """Gather the facts ``mlward status`` shows."""
    from sqlalchemy import func, select

    from mlward.access.rbac import roles_of
    from mlward.store.metadata import redact_url
    from mlward.store.models import Artifact, AuditEvent, Run

    with workspace.metadata.session() as session:
        counts = {
            "audit_events": session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            "runs": session.scalar(select(func.count()).select_from(Run)) or 0,
            "artifacts": session.scalar(select(func.count()).select_from(Artifact)) or 0,
        }
        by_kind = dict(session.execute(select(Artifact.kind, func.count()).group_by(Artifact.kind)).all())
    chain = workspace.audit.verify()
    keys = workspace.keys.list()
    return {
        "project": workspace.config.project,
        "root": str(workspace.root),
        "metadata": redact_url(workspace.metadata_url),
        "metadata_backend": workspace.metadata.dialect,
        "object_store": workspace.objects.url,
        "signing_key": next((k.kid for k in keys if k.kind == "signing" and k.active), None),
        "data_key": next((k.kid for k in keys if k.kind == "data" and k.active), None),
        "keys_total": len(keys),
        "counts": counts,
        "artifacts_by_kind": by_kind,
        "audit_chain": {"ok": chain.ok, "events": chain.events, "reason": chain.reason},
        "principal_roles": roles_of(workspace.config, _principal()),
        "principal": _principal(),
    }


def _principal() -> str:
    from mlward.workspace import current_principal

    return current_principal()


def status(
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Show the workspace: stores, keys, counts and audit-chain health."""
    fmt = resolve_format(format)
    facts = workspace_status(read_only_workspace())
    if fmt is OutputFormat.json:
        emit_json(facts)
        return
    table = Table(title=f"mlward workspace: {facts['project']}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("root", facts["root"])
    table.add_row("metadata", f"{facts['metadata']} ({facts['metadata_backend']})")
    table.add_row("object store", facts["object_store"])
    table.add_row("signing key", str(facts["signing_key"]))
    table.add_row("data key", str(facts["data_key"]))
    table.add_row(
        "principal", f"{facts['principal']} (roles: {', '.join(facts['principal_roles']) or 'none'})"
    )
    for kind, count in sorted(facts["artifacts_by_kind"].items()):
        table.add_row(f"{kind}s", str(count))
    table.add_row("runs", str(facts["counts"]["runs"]))
    chain = facts["audit_chain"]
    verdict = "[green]verified[/]" if chain["ok"] else f"[red]BROKEN: {chain['reason']}[/]"
    table.add_row("audit trail", f"{chain['events']} events, {verdict}")
    console.print(table)
