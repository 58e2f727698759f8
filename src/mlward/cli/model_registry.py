"""``mlward model register|ls|show|promote|verify-stored|export|bom``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import format_option
from mlward.cli.output import OutputFormat, console, emit_json


def _metrics(values: list[str]) -> dict[str, float | str]:
    from mlward.core.errors import ConfigError

    parsed: dict[str, float | str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--metric {item!r} must look like NAME=VALUE, e.g. auc=0.91")
        try:
            parsed[key] = float(value)
        except ValueError:
            parsed[key] = value
    return parsed


def register(
    path: Annotated[Path, typer.Argument(help="Model file or directory.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Registry name (lowercase, digits, . _ -).")],
    framework: Annotated[str | None, typer.Option(help="Framework (detected when omitted).")] = None,
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="NAME=VALUE, repeatable.")] = [],  # noqa: B006
    dataset: Annotated[
        list[str], typer.Option("--dataset", "-d", help="Training dataset NAME@VERSION, repeatable.")
    ] = [],  # noqa: B006
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    accept_risk: Annotated[
        str | None, typer.Option(help="Register despite blocking findings (approver role; audited).")
    ] = None,
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Scan, sign and store a model; refused when the scan finds model.block_on or worse."""
    from mlward.model.registry import register_model

    version = register_model(
        STATE.workspace(),
        path,
        name,
        framework=framework,
        metrics=_metrics(metric),
        datasets=dataset,
        description=description,
        accept_risk=accept_risk,
    )
    if resolve_format(format) is OutputFormat.json:
        emit_json(version.to_dict())
        return
    console.print(
        f"registered [bold]{version.ref}[/] ({version.framework}, {len(version.files)} file(s)), "
        f"signed with key {version.signing_key}, scan: {version.scan_max_severity or 'clean'}"
    )


def ls(format: Annotated[OutputFormat | None, format_option()] = None) -> None:
    """List every registered model version."""
    from mlward.model.registry import list_models

    versions = list_models(STATE.workspace())
    if resolve_format(format) is OutputFormat.json:
        emit_json([v.to_dict() for v in versions])
        return
    table = Table(title="models")
    for column in ("model", "stage", "framework", "scan", "digest", "registered", "by"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            v.ref,
            v.stage,
            v.framework,
            v.scan_max_severity or "clean",
            v.root_digest[:12],
            v.registered_at.strftime("%Y-%m-%d %H:%M"),
            v.registered_by,
        )
    console.print(table)


def show(
    model: Annotated[str, typer.Argument(help="NAME[@VERSION|@STAGE].")],
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Show one version: files, digests, scan, metrics, datasets, approvals."""
    from mlward.model.registry import get_model, parse_model_ref

    name, selector = parse_model_ref(model)
    version = get_model(STATE.workspace(), name, selector)
    if resolve_format(format) is OutputFormat.json:
        emit_json(version.to_dict())
        return
    table = Table(title=version.ref, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("stage", version.stage),
        ("framework / format", f"{version.framework} / {version.format}"),
        ("root digest", f"sha256:{version.root_digest}"),
        ("signing key", version.signing_key),
        ("scan", version.scan_max_severity or "clean"),
        ("metrics", json.dumps(version.metrics) if version.metrics else "-"),
        ("datasets", ", ".join(version.datasets) or "-"),
        ("registered", f"{version.registered_at:%Y-%m-%d %H:%M} by {version.registered_by}"),
        (
            "approved",
            f"{version.approved_by} at {version.promoted_at:%Y-%m-%d %H:%M}" if version.approved_by else "-",
        ),
    ]
    if version.accepted_risk:
        rows.append(("accepted risk", json.dumps(version.accepted_risk)))
    for rel, digest in sorted(version.files.items()):
        rows.append((f"file {rel}", digest))
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def promote(
    model: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    stage: Annotated[str, typer.Option("--to", help="staging, production or archived.")],
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Re-verify a version and move it to a stage (needs model:promote)."""
    from mlward.core.errors import ConfigError
    from mlward.model.registry import parse_model_ref, promote_model

    name, selector = parse_model_ref(model)
    if not selector or not selector.isdigit():
        raise ConfigError("promote needs an explicit version: NAME@VERSION")
    version = promote_model(STATE.workspace(), name, int(selector), stage)
    if resolve_format(format) is OutputFormat.json:
        emit_json(version.to_dict())
        return
    console.print(f"{version.ref} is now [bold]{version.stage}[/] (approved by {version.approved_by})")


def verify_stored(
    model: Annotated[str, typer.Argument(help="NAME[@VERSION|@STAGE].")],
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Re-check a registered version: stored digests, signature and a fresh scan."""
    from mlward.model.registry import parse_model_ref, verify_version

    name, selector = parse_model_ref(model)
    result = verify_version(STATE.workspace(), name, selector)
    if resolve_format(format) is OutputFormat.json:
        emit_json(result)
        return
    console.print(
        f"[green]verified[/] {result['model']}: {result['digests']} digest(s), signature by key "
        f"{result['signature']['key']}, scan {result['scan']}"
    )


def export(
    model: Annotated[str, typer.Argument(help="NAME[@VERSION|@STAGE].")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the verified copy.")],
) -> None:
    """Write a verified copy of a registered model to OUTPUT."""
    from mlward.model.registry import export_model, parse_model_ref

    name, selector = parse_model_ref(model)
    version = export_model(STATE.workspace(), name, selector, output)
    console.print(f"wrote verified {version.ref} to {output}")


def bom(
    model: Annotated[str, typer.Argument(help="NAME[@VERSION|@STAGE].")],
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Emit a CycloneDX 1.6 ML-BOM for a registered model."""
    from mlward.model.bom import model_bom
    from mlward.model.registry import parse_model_ref

    name, selector = parse_model_ref(model)
    document = model_bom(STATE.workspace(), name, selector)
    if output:
        output.write_text(json.dumps(document, indent=2))
        console.print(f"wrote ML-BOM to {output}")
    else:
        emit_json(document)


def load(
    model: Annotated[str, typer.Argument(help="NAME[@VERSION|@STAGE].")],
    format: Annotated[OutputFormat | None, format_option()] = None,
) -> None:
    """Verify (digests, signature, fresh scan) then deserialize with the restricted loader."""
    from mlward.model.registry import open_model, parse_model_ref

    name, selector = parse_model_ref(model)
    with open_model(STATE.workspace(), name, selector) as loaded:
        obj = loaded.model
        facts = {
            "model": loaded.version.ref,
            "root_digest": loaded.version.root_digest,
            "checks": loaded.checks,
            "loaded": f"{type(obj).__module__}.{type(obj).__qualname__}" if obj is not None else None,
        }
    if resolve_format(format) is OutputFormat.json:
        emit_json(facts)
        return
    what = facts["loaded"] or "verified files (no safe in-process loader: use the framework's own)"
    console.print(f"[green]verified and loaded[/] {facts['model']}: {what}")
