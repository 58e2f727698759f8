"""``mlward data scan | protect | reveal | encrypt | decrypt``: PII and encryption at rest.

The command functions parse arguments, fetch keys through the loaders installed with
``set_loaders`` (the entry point installs the workspace keyring's data key, the
``pii:`` policy of mlward.yaml and the ``pii:reveal`` guard), call ``mlward.data.pii`` or
``mlward.crypto.encryption``, and print the result. Exit codes: 0 done, 1 PII found at
or above ``--fail-on`` (scan) or an integrity failure (decrypt), 2 usage or key
problem, 3 could not read or write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow.parquet as pq
import typer
from rich.table import Table

from mlward.cli.context import resolve_format
from mlward.cli.options import DelimiterOpt, EncodingOpt, data_source, format_option
from mlward.cli.output import OutputFormat, console, emit_json, emit_text
from mlward.cli.progress import step_progress
from mlward.core.errors import EXIT_FINDINGS, ConfigError, InputError
from mlward.core.findings import Severity
from mlward.crypto.encryption import decrypt_file, encrypt_file
from mlward.data.io import open_dataset
from mlward.data.pii import (
    PiiPolicy,
    load_policy,
)
from mlward.data.pii import (
    protect as protect_data,
)
from mlward.data.pii import (
    reveal as reveal_data,
)
from mlward.data.pii import (
    scan as scan_data,
)
from mlward.data.pii.format import to_json, to_sarif, to_table
from mlward.data.pii.writers import write_tables
from mlward.data.targets import data_target
from mlward.engine.dask import make_engine

if TYPE_CHECKING:
    from mlward.core.workspace import Workspace

DataKeyLoader = Callable[[], bytes]
"""Returns the active 32-byte workspace data key."""
AllDataKeysLoader = Callable[[], Sequence[bytes]]
"""Returns every data key, active and retired (for decryption after a rotation)."""
PolicyLoader = Callable[[], PiiPolicy | None]
"""Returns the workspace's ``pii:`` policy, if it has one."""
RevealGuard = Callable[[Path, list[str] | None], None]
"""Raises ``AccessDenied`` unless the caller may reveal; records the audit event."""


@dataclass
class Loaders:
    """Where keys, the policy and the reveal permission come from."""

    data_key: DataKeyLoader | None = None
    all_data_keys: AllDataKeysLoader | None = None
    policy: PolicyLoader | None = None
    reveal_guard: RevealGuard | None = None


_loaders = Loaders()


def set_loaders(
    *,
    data_key: DataKeyLoader | None = None,
    all_data_keys: AllDataKeysLoader | None = None,
    policy: PolicyLoader | None = None,
    reveal_guard: RevealGuard | None = None,
) -> None:
    """Install the workspace key, policy and reveal-permission sources."""
    _loaders.data_key = data_key
    _loaders.all_data_keys = all_data_keys
    _loaders.policy = policy
    _loaders.reveal_guard = reveal_guard


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


def _policy(policy_file: Path | None) -> PiiPolicy:
    if policy_file is not None:
        return load_policy(policy_file)
    workspace_policy = _loaders.policy() if _loaders.policy is not None else None
    return workspace_policy or PiiPolicy.default()


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
    with data_target(target, _optional_workspace()) as resolved:
        source = data_source(resolved.path, delimiter, encoding)
        policy, keys = _policy(policy_file), _data_key()
        with step_progress("scanning, then protecting", chosen) as tick:
            result, _ = protect_data(source, policy, keys, output, progress=tick)
        source = Path(resolved.dataset) if resolved.dataset else resolved.path
        extra = _after_protect(source, target, output, result, register, quasi_identifiers, sensitive)
    if extra and chosen is not OutputFormat.json:
        for line in extra.get("lines", []):
            console.print(line)
    if chosen is OutputFormat.json:
        emit_json(
            {
                "output": result.output,
                "rows": result.rows,
                "actions": result.actions,
                "warnings": list(result.warnings),
                "sensitivity": result.scan.sensitivity.label,
                **{k: v for k, v in extra.items() if k != "lines"},
            }
        )
        return
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


def _after_protect(
    source: Path,
    target: str,
    output: Path,
    result: object,
    register: str | None,
    quasi_identifiers: str | None,
    sensitive: str | None,
) -> dict[str, Any]:
    """Audit the protection, register the output with lineage, report k-anonymity."""
    from mlward.cli.context import STATE
    from mlward.core.errors import WorkspaceNotFound

    lines: list[str] = []
    extra: dict[str, Any] = {"lines": lines}
    try:
        workspace = STATE.workspace()
    except WorkspaceNotFound:
        workspace = None
    if workspace is not None:
        from mlward.core.workspace import current_principal

        workspace.audit.append(
            current_principal(),
            "data.protect",
            str(output),
            details={"source": str(source), "actions": getattr(result, "actions", {})},
        )
    if register:
        if workspace is None:
            raise ConfigError("--register needs a workspace (mlward init)")
        from mlward.core.errors import NotFound
        from mlward.data.catalog import add_dataset, get_dataset
        from mlward.lineage.graph import ArtifactRef

        try:
            inputs = [get_dataset(workspace, target).artifact]
        except (NotFound, ConfigError):  # the source need not be in the catalogue
            inputs = [ArtifactRef("file", str(source), "source")]
        version = add_dataset(
            workspace, output, register, lineage_inputs=inputs, produced_by="pii.protect", tags=["protected"]
        )
        extra["registered"] = version.ref
        lines.append(f"registered {version.ref} with lineage to {inputs[0].kind}:{inputs[0].name}")
    if quasi_identifiers:
        from mlward.data.pii import k_anonymity

        table = open_dataset(output).read()
        report = k_anonymity(
            table, [c.strip() for c in quasi_identifiers.split(",") if c.strip()], sensitive=sensitive
        )
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
    return extra


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
    if _loaders.reveal_guard is not None:
        _loaders.reveal_guard(target, columns)
    policy = load_policy(policy_file) if policy_file is not None else None
    table = open_dataset(target).read() if target.suffix != ".parquet" else _read_parquet(target)
    keys = _all_data_keys()
    errors: list[str] = []
    for key in keys:
        try:
            revealed = reveal_data(table, policy, key, columns=columns)
        except InputError as exc:
            if "another data key" in exc.message:
                errors.append(exc.message)
                continue
            raise
        rows = write_tables([revealed], output)
        console.print(f"revealed {rows} rows -> {output}")
        return
    raise InputError(errors[0] if errors else "nothing to reveal")


def _read_parquet(path: Path) -> object:
    try:
        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


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
