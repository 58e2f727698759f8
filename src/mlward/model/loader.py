"""Deserialize verified model files without trusting them.

Called by the registry only after the files were copied out of the object store
(digests checked), the signature verified and the files re-scanned. Even then nothing
is unpickled freely: pickle and joblib files go through an unpickler whose
``find_class`` admits only globals the scanner's allowlist marks SAFE, so a payload the
scanner missed still cannot import ``os.system``. PyTorch checkpoints load with
``torch.load(weights_only=True)``, safetensors and NumPy with their pickle-free loaders.
Formats without a safe in-process loader (Keras, ONNX, SavedModel, GGUF) are returned as
a verified local path for the framework's own loader.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

from mlward.core.errors import InputError, IntegrityError
from mlward.core.optional import MissingDependency, require
from mlward.model.scan.allowlist import Allowlist, GlobalStatus


class UnsafeGlobal(IntegrityError):
    """A pickle asked for a global outside the allowlist while loading."""


def _checked(allowlist: Allowlist, module: str, name: str, proto: int) -> None:
    status = allowlist.classify(module, name, proto)
    if status is not GlobalStatus.SAFE:
        raise UnsafeGlobal(
            f"refusing to load: the pickle imports {module}.{name}, which is {status.value} "
            "(not on the allowlist)",
            hint="if you trust it, add it to model.allowlist in mlward.yaml",
        )


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only allowlisted globals."""

    def __init__(self, file: Any, allowlist: Allowlist) -> None:
        super().__init__(file)
        self._allowlist = allowlist

    def find_class(self, module: str, name: str) -> Any:
        # The C unpickler does not expose the stream's protocol; classify as protocol 2,
        # which checks both the raw and the Python-2-mapped names (the stricter reading).
        _checked(self._allowlist, module, name, getattr(self, "proto", 2))
        return super().find_class(module, name)


def load_pickle(data: bytes, allowlist: Allowlist) -> Any:
    """Unpickle ``data`` admitting only allowlisted globals."""
    return RestrictedUnpickler(io.BytesIO(data), allowlist).load()


def load_joblib(path: Path, allowlist: Allowlist) -> Any:
    """Load a (possibly compressed) joblib file admitting only allowlisted globals."""
    from joblib import numpy_pickle

    class _Restricted(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            _checked(allowlist, module, name, self.proto)
            return super().find_class(module, name)

    # joblib's own reader undoes its compression wrappers (zlib, gzip, lzma, ...).
    with (
        path.open("rb") as handle,
        numpy_pickle._validate_fileobject_and_memmap(handle, str(path), None) as (fobj, _),
    ):
        if isinstance(fobj, str):
            # joblib < 0.10 kept arrays in companion files, loaded by a compatibility
            # path that unpickles freely: never take it.
            raise IntegrityError(f"{path.name}: legacy joblib (< 0.10) files are not loaded")
        return _Restricted(str(path), fobj, ensure_native_byte_order=True).load()


def _is_torch_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("data.pkl") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def deserialize(path: Path, allowlist: Allowlist) -> Any | None:
    """Load the model at ``path`` safely; None when mlward has no safe loader for it."""
    if path.is_dir():
        return None
    with path.open("rb") as handle:
        head = handle.read(16)
    suffix = path.suffix.lower()
    try:
        if head.startswith(b"PK") and _is_torch_zip(path):
            torch = require("torch", feature="loading PyTorch model files")
            return torch.load(path, weights_only=True, map_location="cpu")
        if head.startswith(b"\x93NUMPY"):
            import numpy as np

            return np.load(path, allow_pickle=False)
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            return load_file(str(path))
        if (
            head[:1] == b"\x80"
            or suffix in (".pkl", ".pickle", ".joblib")
            or head[:2] in (b"x\x9c", b"\x1f\x8b")
        ):
            try:
                return load_joblib(path, allowlist)
            except ImportError:
                return load_pickle(path.read_bytes(), allowlist)
    except (UnsafeGlobal, MissingDependency):
        raise
    except ImportError as exc:
        raise InputError(f"cannot load {path.name}: {exc.name} is not installed") from exc
    except Exception as exc:  # a malformed file: refuse, never half-load
        raise IntegrityError(f"cannot deserialize {path.name} safely: {type(exc).__name__}: {exc}") from exc
    return None
