"""``checkout``: write a dataset version back to disk, byte-identical and verified.

Every file is copied (and decrypted) into a private staging directory next to the
target and checked against its manifest digest; the manifest itself is checked against
the version digest. Only when everything verifies does the staging directory (or file)
move into place with one rename, so a tampered blob or catalogue row raises
``IntegrityError`` and leaves nothing behind. Confidential and restricted versions need
the ``data:read`` permission.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlward.access.authorize import authorize
from mlward.core.errors import ConfigError, IntegrityError
from mlward.data.catalog.manifest import safe_relative_path, verify_manifest
from mlward.data.catalog.results import CheckoutResult, DatasetVersion
from mlward.data.catalog.service import SENSITIVE_LABELS, get_dataset
from mlward.data.catalog.storage import fetch_file, make_private_dir
from mlward.workspace import Workspace, current_principal


def _target(version: DatasetVersion, output: Path, force: bool) -> Path:
    if version.layout == "file":
        target = output / version.files[0].path if output.is_dir() else output
        if target.exists() and not force:
            raise ConfigError(f"{target} already exists", hint="pass --force to overwrite it")
        if target.is_dir():
            raise ConfigError(f"{target} is a directory")
        return target
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ConfigError(
            f"{output} already exists and is not an empty directory",
            hint="check out a directory dataset into a new or empty directory",
        )
    return output


def _write(workspace: Workspace, version: DatasetVersion, stage: Path) -> int:
    total = 0
    for file in version.files:
        destination = stage.joinpath(*safe_relative_path(file.path).parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        total += fetch_file(workspace, file, destination)
    return total


def checkout_dataset(
    workspace: Workspace,
    name: str,
    output: str | Path,
    *,
    version: int | str | None = None,
    force: bool = False,
    principal: str | None = None,
) -> CheckoutResult:
    """Write ``name`` (``name@version`` works too) to ``output``, every byte verified.

    A single-file dataset goes to ``output`` (or into it, under its original name, when
    ``output`` is a directory; ``force`` overwrites an existing file). A directory
    dataset needs ``output`` to be new or empty.
    """
    record = get_dataset(workspace, name, version)
    who = principal or current_principal()
    if record.sensitivity in SENSITIVE_LABELS:
        who = authorize(workspace, "data:read", who, target=record.ref)
    target = _target(record, Path(output), force)
    stage = make_private_dir(target.parent, target.name)
    try:
        verify_manifest(record.digest, [(f.path, f.digest) for f in record.files])
        written = _write(workspace, record, stage)
        if record.layout == "file":
            os.replace(stage / record.files[0].path, target)
            stage.rmdir()
        else:
            if target.exists():
                target.rmdir()  # empty, checked above
            os.rename(stage, target)
    except IntegrityError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        workspace.audit.append(
            who, "data.checkout", record.ref, outcome="failed", details={"reason": exc.message}
        )
        raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    workspace.audit.append(
        who, "data.checkout", record.ref, details={"path": str(target.resolve()), "files": len(record.files)}
    )
    return CheckoutResult(record, target, len(record.files), written)
