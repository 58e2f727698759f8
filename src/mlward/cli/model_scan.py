"""``mlward model scan``: static scan of model files for code execution.

Prints a Rich table (stdout; a progress bar on stderr when several files are scanned),
JSON, or SARIF 2.1.0. Exit codes: 0 clean, 1 a finding at or above ``--fail-on``,
3 a file could not be scanned completely (treated as unsafe by gates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json, err_console
from mlward.core.errors import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, ConfigError
from mlward.core.findings import Severity
from mlward.model.scan import RULES, ScanReport, Verdict, collect_files, scan_paths
from mlward.report.sarif import to_sarif

TOOL_NAME = "mlward-model-scan"
_STYLE = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan", "INFO": "dim"}


def exit_code_for(report: ScanReport, fail_on: Severity) -> int:
    """0 clean, 1 findings at or above ``fail_on``, 3 a file could not be scanned."""
    if report.verdict is Verdict.ERROR:
        return EXIT_INCOMPLETE
    worst = report.max_severity
    return EXIT_FINDINGS if worst is not None and worst >= fail_on else EXIT_OK


def render_table(report: ScanReport, quiet: bool = False) -> None:
    """Print one row per file and, unless ``quiet``, one row per finding."""
    files = Table(title="Model scan", show_lines=False)
    for col in ("verdict", "max severity", "format", "file", "findings"):
        files.add_column(col, overflow="fold")
    for r in report.files:
        sev = r.max_severity.name if r.max_severity is not None else "-"
        style = "green" if r.verdict is Verdict.SAFE else "bold red"
        files.add_row(
            f"[{style}]{r.verdict.value}[/]",
            f"[{_STYLE.get(sev, '')}]{sev}[/]" if sev != "-" else sev,
            r.format,
            escape(r.path),
            str(len(r.findings)),
        )
    console.print(files)
    if quiet or not report.findings:
        return
    detail = Table(title="Findings")
    for col in ("severity", "rule", "where", "message"):
        detail.add_column(col, overflow="fold")
    for f in report.findings:
        loc = f.location
        where = loc.path + (f"!{loc.member}" if loc.member else "")
        if loc.offset is not None:
            where += f"@{loc.offset}"
        if loc.detail:
            where += f" ({loc.detail})"
        detail.add_row(
            f"[{_STYLE[f.severity.name]}]{f.severity.name}[/]", f.rule_id, escape(where), escape(f.message)
        )
    console.print(detail)


def _workspace_allowlist() -> list[str]:
    """``model.allowlist`` of the enclosing workspace's mlward.yaml, if there is one."""
    from mlward.cli.context import STATE
    from mlward.core.errors import WorkspaceNotFound

    try:
        return list(STATE.workspace().config.model.allowlist)
    except WorkspaceNotFound:
        return []


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Model files or directories to scan.")],
    format: Annotated[OutputFormat | None, format_option(("table", "json", "sarif"))] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 at this severity or above.")] = "high",
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only files matching this glob.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Skip files matching this glob.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", min=1, help="Parallel scanner processes.")
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="Extra allowlisted global (pkg.mod.Name or pkg.mod.*)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the per-file table.")] = False,
) -> None:
    """Scan model files for code execution without loading them."""
    chosen = resolve_format(format, ("table", "json", "sarif"))
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    files = collect_files(paths, include or (), exclude or ())
    allow = [*(allow or []), *_workspace_allowlist()]
    show_progress = chosen is OutputFormat.table and not quiet and len(files) > 1
    kwargs: dict[str, Any] = dict(
        include=include or (), exclude=exclude or (), workers=workers, allowlist_extra=allow
    )
    if show_progress:
        with Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("scan", total=len(files))
            report = scan_paths(
                paths, progress=lambda done, total, _p: bar.update(task, completed=done), **kwargs
            )
    else:
        report = scan_paths(paths, **kwargs)
    if chosen is OutputFormat.json:
        emit_json(report.to_dict())
    elif chosen is OutputFormat.sarif:
        emit_json(to_sarif(report.findings, TOOL_NAME, RULES, artifacts=[r.path for r in report.files]))
    else:
        render_table(report, quiet=quiet)
    raise typer.Exit(exit_code_for(report, threshold))
