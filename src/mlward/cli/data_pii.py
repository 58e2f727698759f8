"""``mlward data scan | protect | reveal | encrypt | decrypt``: PII and encryption at rest.

The command functions parse arguments, fetch keys through the loaders installed with
``set_loaders`` (the entry point installs the workspace keyring's data keys), call
``mlward.data.pii`` (``protect_dataset`` / ``reveal_dataset``, which choose the policy,
check ``pii:reveal``, audit and register) or ``mlward.crypto.encryption``, and print
the result. Exit codes: 0 done, 1 PII found at
or above ``--fail-on`` (scan) or an integrity failure (decrypt), 2 usage or key
problem, 3 could not read or write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import DelimiterOpt, EncodingOpt, data_source, format_option
from mlward.cli.output import OutputFormat, console, emit_json, emit_text
from mlward.cli.progress import step_progress
from mlward.core.errors import EXIT_FINDINGS, ConfigError, InputError
from mlward.core.findings import Severity
from mlward.crypto.encryption import decrypt_file, encrypt_file
from mlward.data.pii import ProtectOutcome, protect_dataset, reveal_dataset
from mlward.data.pii import scan as scan_data
from mlward.data.pii.format import to_json, to_sarif, to_table
from mlward.data.targets import data_target
from mlward.engine.dask import make_engine

if TYPE_CHECKING:
    from mlward.workspace import Workspace

DataKeyLoader = Callable[[], bytes]
"""Returns the active 32-byte workspace data key."""
AllDataKeysLoader = Callable[[], Sequence[bytes]]
"""Returns every data key, active and retired (for decryption after a rotation)."""


@dataclass
class Loaders:
    """Where the data keys come from."""

    data_key: DataKeyLoader | None = None
    all_data_keys: AllDataKeysLoader | None = None


_loaders = Loaders()


def set_loaders(
    *,
    data_key: DataKeyLoader | None = None,
    all_data_keys: AllDataKeysLoader | None = None,
) -> None:
    """Install the workspace data-key sources."""
    _loaders.data_key = data_key
    _loaders.all_data_keys = all_data_keys


def _data_key() -> bytes:
    if _loaders.data_key is None:
        raise ConfigError(
            "no workspace data key available", hint="run inside an mlward workspace (mlward init)"
        )
    return _loaders.data_key()


def _optional_data_keys() -> list[bytes]:
    """Every workspace data key, or none outside a workspace (seals then cannot verify)."""
    if _loaders.data_key is None and _loaders.all_data_keys is None:
        return []
    try:
        return _all_data_keys()
    except ConfigError:  # WorkspaceNotFound included: outside a workspace, content wins
        return []


def _all_data_keys() -> list[bytes]:
    if _loaders.all_data_keys is not None:
        return list(_loaders.all_data_keys())
    return [_data_key()]


def _write(text: str, output: Path | None) -> None:
    if output is None:
        emit_text(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None


def scan(
    target: Annotated[
        str,
        typer.Argument(
            help="CSV, Parquet or JSON Lines file, a directory of them, or a dataset name (mlward.yaml or "
            "`mlward data add`)."
        ),
    ],
    format: Annotated[OutputFormat | None, format_option(("table", "json", "sarif"))] = None,
    engine: Annotated[str, typer.Option("--engine", help="local or dask.")] = "local",
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (default: a local cluster).")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Threads or Dask workers.")] = None,
    sample_cells: Annotated[
        int | None,
        typer.Option(
            "--sample-cells", help="Validated cells per column and batch (0: all; default adaptive)."
        ),
    ] = None,
    columns: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="Scan only these columns (repeatable).")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when PII this severe is found in the content (protection counts only where its "
            "seal verifies with the workspace key) or a column was not scanned (or none).",
        ),
    ] = "none",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Discover PII per column and cell; report entity types, shares and masked examples."""
    chosen = resolve_format(format, ("table", "json", "sarif"))
    threshold = None if fail_on.lower() == "none" else Severity.parse(fail_on)
    runner = make_engine(engine, scheduler=scheduler, workers=workers)
    try:
        with data_target(target, _optional_workspace()) as resolved:
            result = scan_data(
                data_source(resolved.path, delimiter, encoding),
                engine=runner,
                sample_cells=sample_cells,
                columns=columns,
                keys=_optional_data_keys(),
            )
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    if chosen is OutputFormat.table:
        if output is None:
            console.print(to_table(result))
        else:
            from rich.console import Console

            with output.open("w", encoding="utf-8") as handle:
                Console(file=handle, width=160, no_color=True).print(to_table(result))
    elif chosen is OutputFormat.json:
        _write(json.dumps(to_json(result), indent=2), output)
    else:
        _write(json.dumps(to_sarif(result), indent=2), output)
    if threshold is not None:
        # Judged on content: only entities proven to be mlward's own output (a seal that
        # verifies with the workspace key) are left out; a metadata flag alone is not.
        worst = [f for f in result.to_findings() if not f.properties.get("protected")]
        # Fail closed: a column that could not be scanned fails any threshold.
        if result.not_scanned_columns() or any(f.severity >= threshold for f in worst):
            raise typer.Exit(EXIT_FINDINGS)


def protect(
    target: Annotated[
        str, typer.Argument(help="Dataset to protect: a file, a directory, or a dataset name in mlward.yaml.")
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Protected output: .parquet (keeps metadata), .csv or .jsonl."),
    ],
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", "-p", help="Policy YAML (default: the pii: section of mlward.yaml)."),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Add the output to the catalogue under this name, with lineage."),
    ] = None,
    quasi_identifiers: Annotated[
        str | None,
        typer.Option(
            "--quasi-identifiers", help="Comma-separated columns: report k-anonymity / l-diversity."
        ),
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Sensitive column for l-diversity.")
    ] = None,
    format: Annotated[OutputFormat | None, format_option()] = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Scan, then anonymize every PII column by the policy, writing a new dataset."""
    chosen = resolve_format(format)
    qids = [c.strip() for c in (quasi_identifiers or "").split(",") if c.strip()]
    with step_progress("scanning, then protecting", chosen) as tick:
        outcome = protect_dataset(
            _optional_workspace(),
            target,
            output,
            policy=policy_file,
            data_key=_data_key(),
            register=register,
            quasi_identifiers=qids,
            sensitive=sensitive,
            delimiter=delimiter,
            encoding=encoding,
            progress=tick,
        )
    result = outcome.result
    extra, lines = _protect_extra(outcome, quasi_identifiers or "")
    if chosen is OutputFormat.json:
        emit_json(
            {
                "output": result.output,
                "rows": result.rows,
                "actions": result.actions,
                "warnings": list(result.warnings),
                "sensitivity": result.scan.sensitivity.label,
                **extra,
            }
        )
        return
    for line in lines:
        console.print(line)
    table = Table(title=f"Protected {result.rows} rows -> {result.output}")
    table.add_column("column")
    table.add_column("entity")
    table.add_column("action")
    for name, action in result.actions.items():
        column = result.scan.column(name)
        table.add_row(name, ", ".join(e.value for e in column.entity_types) or "-", action)
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def _optional_workspace() -> Workspace | None:
    """The current workspace, or None outside one (files still work without a workspace)."""
    from mlward.cli.context import STATE
    from mlward.core.errors import WorkspaceNotFound

    try:
        return STATE.workspace()
    except WorkspaceNotFound:
        return None


def _protect_extra(outcome: ProtectOutcome, quasi_identifiers: str) -> tuple[dict[str, object], list[str]]:
    """The registration and k-anonymity parts of the report: JSON fields and text lines."""
    lines: list[str] = []
    extra: dict[str, object] = {}
    if outcome.registered is not None:
        extra["registered"] = outcome.registered.ref
        first = outcome.lineage_input
        lines.append(
            f"registered {outcome.registered.ref}"
            + (f" with lineage to {first.kind}:{first.name}" if first is not None else "")
        )
    report = outcome.k_anonymity
    if report is not None:
        extra["k_anonymity"] = {
            "k": report.k,
            "classes": report.classes,
            "rows_at_risk": report.rows_at_risk,
            "l_distinct": report.l_distinct,
        }
        lines.append(
            f"k-anonymity over {quasi_identifiers}: k={report.k}, {report.classes} classes, "
            f"{report.rows_at_risk} rows at risk (below k={report.k_target})"
            + (f", l-diversity {report.l_distinct}" if report.l_distinct is not None else "")
        )
    return extra, lines


def reveal(
    target: Annotated[Path, typer.Argument(help="Protected Parquet file (its metadata names the actions).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the revealed data.")],
    columns: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="Reveal only these columns (repeatable).")
    ] = None,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", "-p", help="Policy used to protect (for CSV / JSONL input).")
    ] = None,
) -> None:
    """Restore tokenized, FF3-1 and AES-GCM protected columns (needs pii:reveal)."""
    from mlward.cli.context import STATE

    outcome = reveal_dataset(
        STATE.workspace(), target, output, columns=columns, policy=policy_file, keys=_all_data_keys()
    )
    console.print(f"revealed {outcome.rows} rows -> {output}")


def encrypt(
    src: Annotated[Path, typer.Argument(help="File to encrypt.")],
    dst: Annotated[Path, typer.Argument(help="Encrypted output (mlward envelope format).")],
) -> None:
    """Encrypt a file at rest: a fresh AES-256-GCM data key, wrapped by the workspace key."""
    size = encrypt_file(src, dst, _data_key())
    console.print(f"encrypted {size} bytes -> {dst}")


def decrypt(
    src: Annotated[Path, typer.Argument(help="Encrypted file.")],
    dst: Annotated[Path, typer.Argument(help="Decrypted output (written only if every chunk verifies).")],
) -> None:
    """Decrypt and verify a file encrypted with ``mlward data encrypt``."""
    size = decrypt_file(src, dst, _all_data_keys())
    console.print(f"decrypted {size} bytes -> {dst}")


def register(app: typer.Typer) -> None:
    """Add the commands to a ``data`` Typer group."""
    app.command("scan")(scan)
    app.command("protect")(protect)
    app.command("reveal")(reveal)
    app.command("encrypt")(encrypt)
    app.command("decrypt")(decrypt)
