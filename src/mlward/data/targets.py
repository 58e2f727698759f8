"""One dataset name space: the single place that turns a command's data argument into files.

A data argument is, in this order of precedence:

1. a path that exists (a file or a directory of files), used as given;
2. a dataset declared under ``datasets:`` in mlward.yaml (its ``path`` and ``contract``);
3. a catalogue dataset added with ``mlward data add`` (``NAME`` or ``NAME@VERSION|TAG``),
   checked out verified into a private temporary directory under ``.mlward/tmp`` that is
   removed when the caller is done (the checkout needs ``data:read`` for confidential and
   restricted versions, and is audited like any checkout).

Every door (CLI commands, pipeline stages, Python callers) resolves data arguments here,
so a name that works for one command works for all of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlward.core.errors import ConfigError, InputError, NotFound

if TYPE_CHECKING:
    from mlward.workspace import Workspace


@dataclass(frozen=True)
class DataTarget:
    """What a data argument resolved to."""

    path: Path
    """Files to read: the given path, the declared path, or a verified checkout."""
    contract: str | None = None
    """The contract a declared dataset names in mlward.yaml, if any."""
    dataset: str | None = None
    """``name@version`` when the data came from the catalogue."""


def declared_dataset(workspace: Workspace, name: str) -> DataTarget | None:
    """The dataset declared as ``name`` under ``datasets:`` (its files and contract), or None.

    The one place that turns a declared dataset into a path: relative paths are relative
    to the workspace root, whatever the current directory.
    """
    spec = workspace.config.datasets.get(name)
    if spec is None:
        return None
    path = Path(spec.path)
    return DataTarget(path if path.is_absolute() else workspace.root / path, spec.contract)


@contextmanager
def data_target(
    target: str | Path, workspace: Workspace | None, *, principal: str | None = None
) -> Iterator[DataTarget]:
    """Resolve ``target`` (path, declared dataset or catalogue name) for the duration of a block."""
    text = str(target)
    path = Path(text)
    if path.exists():
        yield DataTarget(path)
        return
    if workspace is not None:
        declared = declared_dataset(workspace, text)
        if declared is not None:
            yield declared
            return
        checkout = _checkout(text, workspace, principal)
        if checkout is not None:
            stage, result_target, ref = checkout
            try:
                yield DataTarget(result_target, dataset=ref)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            return
    hint = (
        "give a file or directory, a dataset declared in mlward.yaml, or a name from `mlward data add`"
        if workspace is not None
        else "give a file or directory (dataset names need a workspace: run inside one or pass --workspace)"
    )
    raise InputError(f"{text}: no such file, directory or dataset", hint=hint)


def _checkout(text: str, workspace: Workspace, principal: str | None) -> tuple[Path, Path, str] | None:
    """A verified checkout of a catalogue dataset into ``.mlward/tmp``, or None if unknown."""
    from mlward.data.catalog.checkout import checkout_dataset
    from mlward.data.catalog.service import get_dataset

    try:
        record = get_dataset(workspace, text)
    except (NotFound, ConfigError, InputError):
        return None  # not a catalogue name either
    from mlward.data.catalog.storage import make_private_dir

    tmp_root = workspace.state_dir / "tmp"
    tmp_root.mkdir(mode=0o700, exist_ok=True)
    stage = make_private_dir(tmp_root, record.name)
    output = stage / (record.files[0].path.rsplit("/", 1)[-1] if record.layout == "file" else record.name)
    try:
        result = checkout_dataset(workspace, record.ref, output, principal=principal)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return stage, result.path, record.ref


__all__ = ["DataTarget", "data_target", "declared_dataset"]
