"""``mlward model privacy``: membership-inference attacks against a trained model.

Prints a Rich table or JSON (HTML is not offered yet: report/html has no privacy
section). Exit codes: 0 the strongest attack's AUC is at most ``--max-auc`` (and the
advantage at most ``--max-advantage`` when given), 1 a limit is exceeded, 2 bad
arguments, 3 unreadable input (a missing column, a model mlward will not load).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.core.errors import EXIT_FINDINGS, EXIT_OK
from mlward.model.privacy.results import MembershipResult

FORMATS = ("table", "json")


def _workspace_allowlist() -> list[str]:
    from mlward.cli.context import STATE
    from mlward.core.errors import WorkspaceNotFound

    try:
        return list(STATE.workspace().config.model.allowlist)
    except WorkspaceNotFound:
        return []


def violations(result: MembershipResult, max_auc: float, max_advantage: float | None) -> list[str]:
    """The limits the result exceeds, one sentence each."""
    failed = []
    if result.mia_auc > max_auc:
        failed.append(f"membership-inference AUC {result.mia_auc:.3f} ({result.attack}) > {max_auc}")
    if max_advantage is not None and result.mia_advantage > max_advantage:
        failed.append(f"membership advantage {result.mia_advantage:.3f} > {max_advantage}")
    return failed


def render_table(result: MembershipResult) -> None:
    """One row per attack, one per group, and the attribute-inference estimate."""
    level = f"{result.confidence_level:.0%}"
    table = Table(
        title=f"Membership inference: AUC {result.mia_auc:.3f}, advantage {result.mia_advantage:.3f} "
        f"({result.members} members, {result.nonmembers} non-members)"
    )
    for name in ("attack", "by", "AUC", f"{level} interval", "advantage", f"{level} interval", "seconds"):
        table.add_column(name)
    for a in result.attacks:
        f = a.figures
        table.add_row(
            a.name,
            a.implementation,
            f"{f.auc:.3f}",
            f"[{f.auc_ci[0]:.3f}, {f.auc_ci[1]:.3f}]",
            f"{f.advantage:.3f}",
            f"[{f.advantage_ci[0]:.3f}, {f.advantage_ci[1]:.3f}]",
            f"{a.seconds:.2f}",
        )
    console.print(table)
    if result.groups:
        groups = Table(title=f"By {escape(result.sensitive or '')} ({result.attack} attack)")
        for name in ("group", "members", "non-members", "AUC", f"{level} interval", "advantage"):
            groups.add_column(name)
        for g in result.groups:
            f = g.figures
            groups.add_row(
                escape(g.group),
                str(f.members),
                str(f.nonmembers),
                f"{f.auc:.3f}",
                f"[{f.auc_ci[0]:.3f}, {f.auc_ci[1]:.3f}]",
                f"{f.advantage:.3f}",
            )
        console.print(groups)
    ai = result.attribute_inference
    if ai is not None:
        console.print(
            f"attribute inference of {escape(ai.attribute)}: accuracy {ai.accuracy:.3f} vs base rate "
            f"{ai.baseline:.3f} (advantage {ai.advantage:+.3f}; members {ai.members_accuracy:.3f}, "
            f"non-members {ai.nonmembers_accuracy:.3f})",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


def privacy(
    model: Annotated[Path, typer.Argument(help="Model file (pickle or joblib), loaded allowlisted-only.")],
    members: Annotated[Path, typer.Option("--members", help="Rows the model was trained on.")],
    nonmembers: Annotated[Path, typer.Option("--nonmembers", help="Held-out rows it never saw.")],
    label: Annotated[str, typer.Option("--label", help="Label column.")],
    sensitive: Annotated[
        str | None,
        typer.Option("--sensitive", "-s", help="Sensitive column: per-group figures, attribute inference."),
    ] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="Feature column (repeatable; default: the model's).")
    ] = None,
    attack: Annotated[
        list[str] | None,
        typer.Option("--attack", help="loss, confidence or shadow (repeatable; default all)."),
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=40, help="Rows scored, members + non-members.")
    ] = 4000,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples per interval.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same figures).")] = 0,
    max_auc: Annotated[float, typer.Option("--max-auc", help="Exit 1 above this attack AUC.")] = 0.6,
    max_advantage: Annotated[
        float | None, typer.Option("--max-advantage", help="Exit 1 above this membership advantage.")
    ] = None,
    format: Annotated[OutputFormat | None, format_option(FORMATS)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the JSON here.")] = None,
) -> None:
    """Attack a model with its training rows and held-out rows; exit 1 if it leaks membership."""
    from mlward.model.privacy import ATTACKS, MembershipInference
    from mlward.model.privacy.files import evaluate_files

    chosen = resolve_format(format, FORMATS)
    estimator = MembershipInference(
        attacks=tuple(attack or ATTACKS),
        n_bootstrap=bootstrap,
        max_rows=max_rows,
        attribute_inference=sensitive is not None,
        random_state=seed,
    )
    result = evaluate_files(
        model,
        members,
        nonmembers,
        label,
        estimator=estimator,
        features=feature,
        sensitive=sensitive,
        allowlist_extra=_workspace_allowlist(),
    )
    failed = violations(result, max_auc, max_advantage)
    doc = {
        **result.to_dict(),
        "limits": {"max_auc": max_auc, "max_advantage": max_advantage},
        "violations": failed,
    }
    if output is not None:
        output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if chosen is OutputFormat.json and output is None:
        emit_json(doc)
    elif chosen is not OutputFormat.json:
        render_table(result)
        for message in failed:
            console.print(f"[bold red]fail[/] {escape(message)}")
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
