"""Protect and reveal as workspace services: ``protect_dataset`` and ``reveal_dataset``.

Every door (the Python API, the CLI, pipeline stages, the HTTP server) calls these two
functions, so none can skip what they do around ``protect`` / ``reveal``: resolve the
data argument (``mlward.data.targets``), choose the policy and the data keys, check the
permission (``pii:reveal`` to reveal; protecting needs none, it only ever removes
information), write the audit event, register the output in the catalogue with
lineage and measure k-anonymity. They never print and never exit; they return values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlward.core.errors import ConfigError, InputError, NotFound
from mlward.data.pii.anonymizer import ProtectResult, protect
from mlward.data.pii.kanon import KAnonymityReport, k_anonymity
from mlward.data.pii.policy import PiiPolicy, load_policy
from mlward.data.pii.reveal import WrongDataKey, reveal
from mlward.data.pii.writers import write_tables

if TYPE_CHECKING:
    from mlward.data.catalog.results import DatasetVersion
    from mlward.engine.base import ProgressCallback
    from mlward.lineage.graph import ArtifactRef
    from mlward.workspace import Workspace

REVEAL_PERMISSION = "pii:reveal"
"""The permission ``reveal_dataset`` requires."""


@dataclass(frozen=True)
class ProtectOutcome:
    """What ``protect_dataset`` did."""

    result: ProtectResult
    """Rows written, the action per column, the scan the plan came from, warnings."""
    source: str
    """What was protected: the path read, or ``name@version`` of a catalogue dataset."""
    output: Path
    """Where the protected data was written."""
    registered: DatasetVersion | None = None
    """The catalogue version of the output, when it was registered."""
    lineage_input: ArtifactRef | None = None
    """The artifact the registered version's lineage starts from (the first input)."""
    k_anonymity: KAnonymityReport | None = None
    """Re-identification risk of the output's quasi-identifiers, when some were named."""


@dataclass(frozen=True)
class RevealOutcome:
    """What ``reveal_dataset`` did."""

    output: Path
    """Where the revealed data was written."""
    rows: int
    """Rows written."""
    principal: str
    """Who revealed (and holds ``pii:reveal``)."""
    columns: tuple[str, ...] | None = None
    """The columns asked for (``None``: every reversible column)."""


def workspace_pii_policy(workspace: Workspace) -> PiiPolicy | None:
    """The ``pii:`` section of mlward.yaml as a policy (None when absent); errors name key paths."""
    from pydantic import ValidationError

    from mlward.core.config import format_validation_error

    if not workspace.config.pii:
        return None
    try:
        return PiiPolicy.model_validate(workspace.config.pii)
    except ValidationError as exc:
        message = format_validation_error(f"{workspace.config_path}: pii", exc)
        raise ConfigError(message.replace(": pii: ", ": pii.")) from None


def _policy(workspace: Workspace | None, policy: PiiPolicy | Path | None) -> PiiPolicy:
    if isinstance(policy, PiiPolicy):
        return policy
    if policy is not None:
        return load_policy(policy)
    chosen = workspace_pii_policy(workspace) if workspace is not None else None
    return chosen or PiiPolicy.default()


def _shown(workspace: Workspace | None, path: Path) -> str:
    """``path`` relative to the workspace root when it lies inside, else as given."""
    if workspace is not None:
        try:
            return path.resolve().relative_to(workspace.root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def protect_dataset(
    workspace: Workspace | None,
    source: str | Path,
    output: Path,
    *,
    principal: str | None = None,
    policy: PiiPolicy | Path | None = None,
    data_key: bytes | None = None,
    register: str | None = None,
    lineage_inputs: Sequence[ArtifactRef] | None = None,
    quasi_identifiers: Sequence[str] = (),
    sensitive: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: ProgressCallback | None = None,
) -> ProtectOutcome:
    """Scan ``source``, anonymize every PII column by the policy and write ``output``.

    ``source`` is a data argument (a path, a dataset declared in mlward.yaml or a
    catalogue name). ``policy`` is a policy or its YAML file (default: the workspace's
    ``pii:`` section, else the default policy); ``data_key`` defaults to the workspace's
    active data key. In a workspace the protection is audited (``data.protect``);
    ``register`` adds the output to the catalogue with lineage to ``lineage_inputs``
    (default: the source's catalogue version, else its file); ``quasi_identifiers``
    measure k-anonymity (and l-diversity of ``sensitive``) of the output.
    """
    from mlward.data.targets import data_target
    from mlward.workspace import current_principal

    if register and workspace is None:
        raise ConfigError("registering the protected data needs a workspace (mlward init)")
    who = principal or current_principal()
    chosen = _policy(workspace, policy)
    if data_key is None:
        if workspace is None:
            raise ConfigError(
                "no workspace data key available", hint="run inside an mlward workspace (mlward init)"
            )
        data_key = workspace.keys.data_key()
    with data_target(source, workspace, principal=who) as resolved:
        data: Any = resolved.path
        if delimiter is not None or encoding is not None:
            from mlward.data.io import open_dataset

            data = open_dataset(resolved.path, delimiter=delimiter, encoding=encoding)
        result, _ = protect(data, chosen, data_key, output, progress=progress)
        read_from = resolved.dataset or str(resolved.path)
        if workspace is not None:
            workspace.audit.append(
                who,
                "data.protect",
                _shown(workspace, output),
                details={"source": read_from, "actions": result.actions, "rows": result.rows},
            )
        registered, first_input = None, None
        if register and workspace is not None:
            inputs = (
                list(lineage_inputs)
                if lineage_inputs is not None
                else [_source_artifact(workspace, str(source), read_from)]
            )
            from mlward.data.catalog import add_dataset

            registered = add_dataset(
                workspace,
                output,
                register,
                principal=who,
                lineage_inputs=inputs,
                produced_by="pii.protect",
                tags=["protected"],
            )
            first_input = inputs[0] if inputs else None
    report = None
    if quasi_identifiers:
        from mlward.data.io import open_dataset

        report = k_anonymity(open_dataset(output).read(), list(quasi_identifiers), sensitive=sensitive)
    return ProtectOutcome(result, read_from, output, registered, first_input, report)


def _source_artifact(workspace: Workspace, target: str, read_from: str) -> ArtifactRef:
    """The catalogue version ``target`` names, else the file that was read."""
    from mlward.data.catalog import get_dataset
    from mlward.lineage.graph import ArtifactRef

    try:
        return get_dataset(workspace, target).artifact
    except (NotFound, ConfigError):  # the source need not be in the catalogue
        return ArtifactRef("file", read_from, "source")


def reveal_dataset(
    workspace: Workspace,
    source: Path,
    output: Path,
    *,
    principal: str | None = None,
    columns: Sequence[str] | None = None,
    policy: PiiPolicy | Path | None = None,
    keys: Sequence[bytes] | None = None,
) -> RevealOutcome:
    """Restore the tokenized, FF3-1 and AES-GCM protected columns of ``source`` into ``output``.

    Needs ``pii:reveal``: a principal without it gets ``AccessDenied`` and the denial is
    audited; a reveal is audited (``pii.reveal``, with the columns) before any data is
    read. The action of each column comes from its Parquet metadata, else from
    ``policy`` (for CSV / JSON Lines). Every data key (``keys``, default the workspace's
    active and retired ones) is tried until one opened the columns.
    """
    wanted = list(columns) if columns is not None else None
    from mlward.access.authorize import authorize

    who = authorize(workspace, REVEAL_PERMISSION, principal, target=str(source))
    workspace.audit.append(who, "pii.reveal", str(source), details={"columns": wanted or "all"})
    chosen = None if policy is None else _policy(workspace, policy)
    table = _read(source)
    candidates = list(keys) if keys is not None else list(workspace.keys.data_keys().values())
    refusals: list[WrongDataKey] = []
    for key in candidates:
        try:
            revealed = reveal(table, chosen, key, columns=wanted)
        except WrongDataKey as exc:
            refusals.append(exc)
            continue
        rows = write_tables([revealed], output)
        return RevealOutcome(output, rows, who, tuple(wanted) if wanted is not None else None)
    if refusals:
        raise refusals[0]
    raise InputError("nothing to reveal")


def _read(path: Path) -> Any:
    """The whole table: Parquet as stored (it keeps the protection metadata), else via ``open_dataset``."""
    if path.suffix != ".parquet":
        from mlward.data.io import open_dataset

        return open_dataset(path).read()
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


__all__ = [
    "REVEAL_PERMISSION",
    "ProtectOutcome",
    "RevealOutcome",
    "protect_dataset",
    "reveal_dataset",
    "workspace_pii_policy",
]
