"""HDF5 files: legacy Keras ``.h5`` models keep their architecture in a ``model_config``
attribute (JSON). Read with h5py when it is installed, else by locating the JSON text."""

from __future__ import annotations

import json
from typing import Any

from mlward.core.findings import Severity
from mlward.core.optional import optional
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.keras_config import check_keras_config, looks_like_keras

MAGIC = b"\x89HDF\r\n\x1a\n"
_CONFIG_ATTRS = ("model_config", "training_config")


class Hdf5Scanner(Scanner):
    """HDF5 (``.h5``, ``.hdf5``, ``.keras`` weights)."""

    format_name = "hdf5"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(MAGIC)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        h5py = optional("h5py")
        if h5py is None:
            self._scan_raw(artifact, ctx)
            return
        artifact.stream.seek(0)
        try:
            with h5py.File(artifact.stream, "r") as h5:
                configs = [(name, h5.attrs[name]) for name in _CONFIG_ATTRS if name in h5.attrs]
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.MEDIUM,
                f"HDF5 file cannot be opened ({exc})",
                member=artifact.member,
            )
            return
        ctx.bytes_scanned += min(artifact.size, 1 << 16)
        for name, value in configs:
            self._check(value, name, artifact, ctx)

    @staticmethod
    def _check(value: Any, name: str, artifact: Artifact, ctx: ScanContext) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        try:
            doc = json.loads(str(value))
        except (ValueError, RecursionError):
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.MEDIUM,
                f"HDF5 attribute {name} is not valid JSON",
                member=artifact.member,
            )
            return
        if looks_like_keras(doc) or name == "training_config":
            ctx.formats.append("keras-h5")
            check_keras_config(doc, ctx, artifact.member, f"keras h5 {name}")

    def _scan_raw(self, artifact: Artifact, ctx: ScanContext) -> None:
        """Without h5py: find every JSON object that starts like a Keras config."""
        artifact.stream.seek(0)
        data = artifact.stream.read(256 << 20)
        ctx.bytes_scanned += len(data)
        decoder = json.JSONDecoder()
        pos = data.find(b'{"class_name"')
        while pos >= 0:
            try:
                doc, _ = decoder.raw_decode(data[pos:].decode("utf-8", "replace"))
                check_keras_config(doc, ctx, artifact.member, "keras h5 config")
            except ValueError:
                pass
            pos = data.find(b'{"class_name"', pos + 1)
