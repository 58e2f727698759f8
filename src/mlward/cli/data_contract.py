"""``mlward data validate`` and ``mlward data contract infer|import``: parsing and wiring only.

Domain modules (Polars, the PII detectors) are imported inside the commands so that the
rest of the CLI starts fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import DelimiterOpt, EncodingOpt, data_source, format_option
from mlward.cli.output import OutputFormat, console, emit_text, err_console
from mlward.core.errors import EXIT_FINDINGS, ConfigError, InputError, WorkspaceNotFound
from mlward.workspace import current_principal

if TYPE_CHECKING:
    from mlward.engine.base import Engine
    from mlward.workspace import Workspace

_VALIDATE_FORMATS = ("table", "json", "junit")


def _workspace() -> Workspace | None:
    """The workspace when there is one; contracts and data files work without it."""
    try:
        return STATE.workspace()
    except WorkspaceNotFound:
        if STATE.workspace_dir is not None:
            raise
        return None


def _data_keys(workspace: Workspace | None) -> list[bytes]:
    """Every workspace data key (active and retired); none outside a workspace, where seals cannot verify."""
    return list(workspace.keys.data_keys().values()) if workspace is not None else []


def _write(text: str, output: Path | None) -> None:
    if output is None:
        emit_text(text)
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    err_console.print(f"wrote {output}")


def _engine(name: str | None, scheduler: str | None, workspace: Workspace | None) -> Engine:
    from mlward.engine.dask import make_engine

    section = workspace.config.data if workspace is not None else None
    chosen = name or (section.engine if section else "local")
    return make_engine(chosen, scheduler=scheduler or (section.scheduler if section else None))


def validate(
    target: Annotated[
        str, typer.Argument(help="A CSV / Parquet / JSON Lines file or directory, or a dataset name.")
    ],
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract", "-c", help="Contract name in mlward.yaml, or a YAML file (file.yaml#name)."
        ),
    ] = None,
    format: Annotated[OutputFormat | None, format_option(_VALIDATE_FORMATS)] = None,
    engine: Annotated[str | None, typer.Option(help="local or dask (default: data.engine).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    now: Annotated[str | None, typer.Option(help="Reference time of freshness rules (ISO 8601).")] = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Validate a dataset against its data contract; exit 1 when a rule fails."""
    from mlward.data.contract import resolve_contract
    from mlward.data.contract import validate as validate_data
    from mlward.data.contract.format import to_json, to_junit_xml, to_table
    from mlward.data.contract.values import parse_datetime
    from mlward.data.targets import data_target

    chosen = resolve_format(format, _VALIDATE_FORMATS)
    workspace = _workspace()
    with data_target(target, workspace) as resolved:
        reference = contract or resolved.contract
        if reference is None:
            raise ConfigError(
                f"no contract for {target!r}",
                hint="pass --contract NAME|FILE or set datasets.<name>.contract",
            )
        name, parsed = resolve_contract(reference, workspace)
        try:
            reference_time = parse_datetime(now) if now else None
        except ValueError as exc:
            raise ConfigError(f"--now: {exc}") from None
        runner = _engine(engine, scheduler, workspace)
        try:
            result = validate_data(
                data_source(str(resolved.path), delimiter, encoding),
                parsed,
                engine=runner,
                name=name,
                now=reference_time,
                keys=_data_keys(workspace),
            )
        finally:
            close = getattr(runner, "close", None)
            if close is not None:
                close()
    if workspace is not None:
        workspace.audit.append(
            current_principal(),
            "data.validate",
            target,
            outcome="ok" if result.passed else "failed",
            details={"contract": name, "rows": result.rows, "failed_rules": result.failed_rules},
        )
    if chosen is OutputFormat.json:
        _write(to_json(result), output)
    elif chosen is OutputFormat.junit:
        _write(to_junit_xml(result), output)
    elif output is not None:
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=160, no_color=True).print(to_table(result))
        err_console.print(f"wrote {output}")
    else:
        console.print(to_table(result))
    if not result.passed:
        raise typer.Exit(EXIT_FINDINGS)


def _contract_yaml(name: str, body: dict[str, object], header: str) -> str:
    text = yaml.safe_dump({"contracts": {name: body}}, sort_keys=False, allow_unicode=True)
    return header + text


def contract_infer(
    path: Annotated[str, typer.Argument(help="A data file or directory, or a dataset name.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the YAML here (default: stdout).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Contract name (default: the dataset or file name).")
    ] = None,
    margin: Annotated[float, typer.Option(help="Widen observed numeric ranges by this share.")] = 0.1,
    pii: Annotated[bool, typer.Option("--pii/--no-pii", help="Scan for PII and declare it.")] = True,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Propose a contract from a dataset (types, nulls, ranges, allowed values, keys, formats)."""
    from mlward.data.contract import infer_contract
    from mlward.data.targets import data_target

    workspace = _workspace()
    with data_target(path, workspace) as resolved:
        data = resolved.dataset or resolved.path
        contract = infer_contract(
            data_source(str(resolved.path), delimiter, encoding), margin=margin, detect_pii=pii
        )
    label = name or (path if workspace is not None and path in workspace.config.datasets else Path(path).stem)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    header = f"# Proposed by 'mlward data contract infer' from {data} on {stamp}; review before use.\n"
    _write(_contract_yaml(label, contract.to_yaml_dict(), header), output)


def contract_import(
    odcs_file: Annotated[Path, typer.Argument(help="An ODCS v3 data contract (YAML).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the YAML here (default: stdout).")
    ] = None,
) -> None:
    """Convert an ODCS v3 data contract to mlward contracts, listing what could not be mapped."""
    from mlward.data.contract import import_odcs

    imported = import_odcs(odcs_file)
    _write(imported.to_yaml(), output)
    for item in imported.unmapped:
        err_console.print(f"not mapped: {item.path}: {item.reason}", markup=False, highlight=False)
