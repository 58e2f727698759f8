"""``validate``: check a table or a dataset on disk against a data contract."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlward.data.contract.check import ContractCheck
from mlward.data.contract.loader import ContractSource, resolve_contract
from mlward.data.contract.result import ValidationResult
from mlward.data.contract.schema import Contract
from mlward.data.io import open_dataset, to_arrow
from mlward.data.pii.discover import verify_protection
from mlward.data.pii.entities import EntityType
from mlward.data.profile import run_in_memory
from mlward.engine.base import Engine, ProgressCallback
from mlward.engine.local import LocalEngine

if TYPE_CHECKING:
    import pyarrow as pa

    from mlward.crypto.encryption import DataKeys
    from mlward.workspace import Workspace


def _label(data: Any) -> str:
    return f"<{type(data).__module__.split('.')[0]}.{type(data).__name__}>"


def _verified(
    data: pa.Table | str | os.PathLike[str], contract: Contract, keys: Sequence[bytes | DataKeys]
) -> dict[str, tuple[EntityType, ...]]:
    """The contract's protected columns whose seal verifies (the PII scan decides, not the rule)."""
    protected = [n for n, spec in contract.columns.items() if spec.protection not in (None, "keep", "drop")]
    return verify_protection(data, keys, protected) if protected and keys else {}


def validate(
    data_or_path: Any,
    contract: ContractSource,
    *,
    engine: Engine | None = None,
    workspace: Workspace | None = None,
    name: str | None = None,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
    keys: Sequence[bytes | DataKeys] | None = None,
) -> ValidationResult:
    """Validate data against a contract and return per-rule results (never raises on violations).

    ``data_or_path`` is a pandas / Polars / Arrow table or a CSV, Parquet or JSON Lines
    file or directory (partitioned Parquet). Paths run on ``engine`` (default: local
    threads; pass ``make_engine("dask", ...)`` to scale out); in-memory tables run in
    this process. ``contract`` is a ``Contract``, its mapping, a contract name in
    ``workspace``'s mlward.yaml, or a YAML file; ``name`` labels it in the result.
    ``now`` fixes the reference time of freshness rules. Unreadable data raises
    ``InputError``; bad contracts ``ConfigError``.

    Protection recorded in column metadata is a claim: a ``protection`` rule trusts it
    only for columns whose seal verifies under one of ``keys`` (workspace data keys,
    active and retired; see ``mlward.data.pii.scan``). Without keys, content wins.
    """
    resolved_name, parsed = resolve_contract(contract, workspace)
    name = name or resolved_name
    started = time.perf_counter()
    if isinstance(data_or_path, str | os.PathLike):
        source = os.fspath(data_or_path)
        dataset = open_dataset(data_or_path)
        verified = _verified(data_or_path, parsed, keys or ())
        check = ContractCheck(parsed, name=name, source=source, now=now, verified=verified)
        runner = engine or LocalEngine()
        check.engine_name = type(runner).__name__.removesuffix("Engine").lower()
        result = runner.run(check, dataset, progress=progress)
    else:
        table = to_arrow(data_or_path)
        verified = _verified(table, parsed, keys or ())
        check = ContractCheck(parsed, name=name, source=_label(data_or_path), now=now, verified=verified)
        check.engine_name = "in-memory"
        result = run_in_memory(check, table)
    return replace(result, duration_s=time.perf_counter() - started)
