"""``mlward run``, ``mlward run show|ls`` and ``mlward verify-provenance``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json, emit_text
from mlward.cli.progress import step_progress
from mlward.core.errors import EXIT_FINDINGS, ConfigError

_STYLE = {
    "ok": "green",
    "cached": "cyan",
    "failed": "red",
    "gate-failed": "red",
    "skipped": "yellow",
    "not-run": "dim",
}


RUN_FORMATS = ("table", "json", "junit")


def run(
    stages: Annotated[
        list[str] | None, typer.Argument(help="Stages to run (with their upstream); default: all.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun stages even when cached.")] = False,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Collect every failure instead of stopping.")
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="'security': re-scan with current rules only.")
    ] = None,
    list_stages: Annotated[bool, typer.Option("--list", help="Print the stage order and exit.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML run report here.")] = None,
    format: Annotated[OutputFormat | None, format_option(RUN_FORMATS)] = None,
) -> None:
    """Run the pipeline declared in mlward.yaml: gates fail closed, exit 1 on any failure."""
    from mlward.pipeline.runner import PipelineRunner

    workspace = STATE.workspace()
    fmt = resolve_format(format, RUN_FORMATS)
    quiet = fmt is not OutputFormat.table
    stage_names = workspace.config.pipeline.get("stages", {}) or {}
    if stages and stages[0] in ("show", "ls") and stages[0] not in stage_names:
        # `mlward run show RUN` / `mlward run ls` read recorded runs (same as `mlward runs ...`).
        if stages[0] == "show":
            show(stages[1] if len(stages) > 1 else None, format)
        else:
            ls(format)
        return
    if not stage_names and only != "security":
        # A run of nothing would report PASSED: a CI job wired to an empty pipeline must fail.
        raise ConfigError(
            f"{workspace.config_path}: no pipeline stages declared",
            hint="declare stages under 'pipeline: stages:' in mlward.yaml",
        )

    def progress(event: str, stage: str, record: object) -> None:
        # Stage lines are the run's log (kept in CI logs); the spinner only shows on a terminal.
        # ``display`` is bound by the ``with step_progress`` around ``runner.run`` below.
        if quiet:
            return
        if event == "start":
            display.phase(f"running {escape(stage)}")
            display.note(f"[dim]>> {escape(stage)}[/]")
        elif record is not None:
            status = record.status  # type: ignore[attr-defined]
            display.note(
                f"[{_STYLE.get(status, 'white')}]{status:>11}[/] {escape(stage)}: "
                f"{escape(record.error or record.summary)}"  # type: ignore[attr-defined]
            )

    runner = PipelineRunner(workspace, force=force, keep_going=keep_going, only=only, progress=progress)
    if list_stages:
        for name in runner.order(stages or []):
            stage = runner.stages[name]
            console.print(f"{name}  [dim]({stage.spec.kind}; in: {', '.join(stage.inputs) or '-'})[/]")
        return
    with step_progress("pipeline", fmt) as display:
        result = runner.run(stages or [])
    report_path = report or workspace.state_dir / "reports" / f"run-{result.run_id[:8]}.html"
    from mlward.report.run_html import write_run_report

    write_run_report(result, report_path, project=workspace.config.project)
    if fmt is OutputFormat.junit:
        from mlward.report.run_junit import run_to_junit

        emit_text(run_to_junit(result.to_dict()))
    elif quiet:
        emit_json({**result.to_dict(), "report": str(report_path)})
    else:
        print_summary(result.to_dict())
        console.print(f"run {result.run_id[:8]} report: {report_path}")
    if result.status != "passed":
        raise typer.Exit(EXIT_FINDINGS)


def print_summary(result: dict[str, Any]) -> None:
    """The stage table and the failure lines of a run."""
    table = Table(
        title=f"pipeline run {result['run_id'][:8]}: {result['status'].upper()}", title_justify="left"
    )
    for column in ("stage", "kind", "status", "time", "summary / gates"):
        table.add_column(column, overflow="fold")
    for stage in result["stages"]:
        notes = [stage.get("error") or stage.get("summary") or ""]
        for gate in stage.get("gates", []):
            mark = "pass" if gate["passed"] else ("retrain" if gate.get("action") == "retrain" else "FAIL")
            waived = " (waived)" if gate.get("waived_by") else ""
            notes.append(f"gate {gate['gate']}: {mark}{waived}")
        table.add_row(
            stage["name"],
            stage["kind"],
            f"[{_STYLE.get(stage['status'], 'white')}]{stage['status']}[/]",
            f"{stage['duration_s']:.1f}s",
            escape("\n".join(n for n in notes if n)),
        )
    console.print(table)
    for line in result.get("failures", []):
        console.print(f"[red]x[/] {escape(line)}")
    for model, digest in result.get("provenance", {}).items():
        console.print(f"provenance for {model}: signed SLSA v1 statement (blob {digest[:12]})")


app = typer.Typer(help="Pipeline runs.", no_args_is_help=True)


@app.command("show")
def show(
    run_id: Annotated[str | None, typer.Argument(help="Run id or prefix (default: the latest).")] = None,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Show a recorded run: stages, gate verdicts with observed values, provenance."""
    from mlward.pipeline.runner import get_run

    record = get_run(STATE.workspace(), run_id)
    if resolve_format(format) is OutputFormat.json:
        emit_json(record)
        return
    stages = list(record["stages"].values())
    failures = []
    for stage in stages:
        if stage["status"] == "failed":
            failures.append(f"stage {stage['name']} failed: {stage['error']}")
        for gate in stage.get("gates", []):
            if not gate["passed"] and gate.get("action", "fail") == "fail":
                failures.append(
                    f"gate {gate['gate']}: {gate['rule']} (observed {json.dumps(gate['observed'])})"
                )
    print_summary({**record, "stages": stages, "failures": failures})


@app.command("ls")
def ls(format: Annotated[OutputFormat | None, format_option()] = None) -> None:
    """List recent runs."""
    from mlward.pipeline.runner import list_runs

    runs = list_runs(STATE.workspace())
    if resolve_format(format) is OutputFormat.json:
        emit_json(runs)
        return
    table = Table(title="pipeline runs")
    for column in ("run", "status", "started", "by", "stages"):
        table.add_column(column)
    for r in runs:
        table.add_row(r["run_id"][:8], r["status"], r["started"][:19], r["principal"], str(r["stages"]))
    console.print(table)


def verify_provenance(
    target: Annotated[
        str, typer.Argument(help="A model NAME@VERSION, a run id, or a provenance bundle file.")
    ],
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Verify signed SLSA provenance and that no input changed since the run (exit 1 if any did)."""
    from mlward.core.errors import NotFound
    from mlward.pipeline.provenance import verify_provenance as verify
    from mlward.pipeline.runner import get_run, list_runs

    workspace = STATE.workspace()
    bundles: list[bytes] = []
    path = Path(target)
    if path.is_file():
        bundles.append(path.read_bytes())
    else:
        runs = (
            [get_run(workspace, target)]
            if "@" not in target
            else [get_run(workspace, r["run_id"]) for r in list_runs(workspace, limit=200)]
        )
        for run_record in runs:
            for model, digest in run_record["provenance"].items():
                if "@" not in target or model == target:
                    bundles.append(workspace.objects.get_bytes(digest))
            if bundles and "@" in target:
                break
        if not bundles:
            raise NotFound(f"no provenance recorded for {target!r}")
    checks = [verify(workspace, bundle) for bundle in bundles]
    if resolve_format(format) is OutputFormat.json:
        emit_json([c.to_dict() for c in checks])
    else:
        for check in checks:
            if check.ok:
                console.print(
                    f"[green]provenance verified[/] for {check.subject} "
                    f"({len(check.dependencies)} dependencies unchanged)"
                )
            else:
                console.print(f"[red]provenance FAILED[/] for {check.subject}:")
                for problem in check.problems:
                    console.print(f"  - {escape(problem)}")
    if not all(c.ok for c in checks):
        raise typer.Exit(EXIT_FINDINGS)
