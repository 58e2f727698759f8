"""``mlward deps audit`` and ``mlward sbom``: argument parsing, wiring and exit codes only."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mlward.cli.context import resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_text
from mlward.core.errors import EXIT_FINDINGS, ConfigError, InputError
from mlward.core.findings import Severity
from mlward.supplychain.audit import audit_dependencies
from mlward.supplychain.environment import (
    Environment,
    current_environment,
    interpreter_environment,
)
from mlward.supplychain.format.cyclonedx import report_cyclonedx
from mlward.supplychain.format.json import report_dict
from mlward.supplychain.format.sarif import report_sarif
from mlward.supplychain.format.table import report_table
from mlward.supplychain.interface import VulnerabilityService
from mlward.supplychain.osv_api import OsvApiService
from mlward.supplychain.osv_archive import OsvArchiveService, default_cache_dir
from mlward.supplychain.resolve import collect_dependencies
from mlward.supplychain.sbom import build_sbom

_AUDIT_FORMATS = ("table", "json", "sarif", "cyclonedx")


class SbomFormat(enum.StrEnum):
    """Formats of ``mlward sbom``."""

    json = "json"


def _write(text: str, output: Path | None) -> None:
    if output is None:
        emit_text(text)
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc}") from None


def _write_json(data: Any, output: Path | None) -> None:
    _write(json.dumps(data, indent=2), output)


def _environment(python: Path | None) -> Environment:
    return interpreter_environment(python) if python else current_environment()


def _fail_threshold(value: str) -> Severity | None:
    if value.strip().lower() == "none":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise ConfigError(f"--fail-on: {exc} (or none)") from None


def audit(
    requirements: Annotated[
        list[Path] | None,
        typer.Option("--requirement", "-r", help="A requirements file (repeatable)."),
    ] = None,
    pyproject: Annotated[
        Path | None, typer.Option("--pyproject", help="A pyproject.toml to read dependencies from.")
    ] = None,
    environment: Annotated[
        bool,
        typer.Option(
            "--environment",
            help="Audit every installed distribution (the default when no file is given).",
        ),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option("--python", help="Interpreter whose environment to use (default: mlward's own)."),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Offline OSV export (PyPI all.zip) instead of the OSV API."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never use the network (needs --db).")] = False,
    format: Annotated[
        OutputFormat | None,
        format_option(_AUDIT_FORMATS),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option("--fail-on", help="Exit 1 when a vulnerability is this severe or worse (or none)."),
    ] = "high",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here, not stdout.")
    ] = None,
) -> None:
    """Audit Python dependencies for known vulnerabilities (OSV)."""
    chosen = resolve_format(format, _AUDIT_FORMATS)
    threshold = _fail_threshold(fail_on)
    if offline and db is None:
        raise ConfigError("--offline needs --db", hint="download the OSV PyPI all.zip and pass --db PATH")
    files = list(requirements or [])
    env = _environment(python)
    dependencies = collect_dependencies(
        requirements=files,
        pyproject=pyproject,
        environment=env,
        include_environment=environment or (not files and pyproject is None),
    )
    service: VulnerabilityService = (
        OsvArchiveService(db, cache_dir=default_cache_dir()) if db is not None else OsvApiService()
    )
    try:
        report = audit_dependencies(dependencies, service)
    finally:
        service.close()
    if chosen is OutputFormat.table:
        if output is None:
            console.print(report_table(report))
        else:
            try:
                with output.open("w", encoding="utf-8") as handle:
                    Console(file=handle, width=140, no_color=True).print(report_table(report))
            except OSError as exc:
                raise InputError(f"cannot write {output}: {exc}") from None
    elif chosen is OutputFormat.json:
        _write_json(report_dict(report), output)
    elif chosen is OutputFormat.sarif:
        _write_json(report_sarif(report), output)
    else:
        _write_json(report_cyclonedx(report), output)
    if threshold is not None and report.count(threshold) > 0:
        raise typer.Exit(EXIT_FINDINGS)


def sbom(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the SBOM here, not stdout.")
    ] = None,
    format: Annotated[
        SbomFormat, typer.Option("--format", "-f", help="json: CycloneDX 1.6 JSON.")
    ] = SbomFormat.json,
    python: Annotated[
        Path | None,
        typer.Option("--python", help="Interpreter whose environment to list (default: mlward's)."),
    ] = None,
) -> None:
    """Write a CycloneDX 1.6 SBOM of the Python environment plus the workspace's models (ML-BOM)."""
    from mlward.cli.context import STATE
    from mlward.core.errors import WorkspaceNotFound

    if python is None:
        try:
            workspace = STATE.workspace()
        except WorkspaceNotFound:
            workspace = None
        if workspace is not None:
            from mlward.supplychain.sbom import workspace_sbom

            _write_json(workspace_sbom(workspace), output)
            return
    env = _environment(python)
    _write_json(build_sbom(env.packages), output)
