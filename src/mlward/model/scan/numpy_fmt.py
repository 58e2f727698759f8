"""NumPy ``.npy`` files (and, through the zip scanner, ``.npz`` members).

Only object arrays can run code: their payload is a pickle, analysed like any other.
The header is a Python literal that NumPy itself reads with ``ast.literal_eval``.
"""

from __future__ import annotations

import ast
import math
import struct
from typing import Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.pickle_file import scan_pickle_sequence

MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 20


def _has_object(descr: Any, depth: int = 0) -> bool:
    if depth > 16:
        return True
    if isinstance(descr, str):
        return "O" in descr.lstrip("<>|=")[:1]
    if isinstance(descr, list | tuple):
        return any(_has_object(d, depth + 1) for d in descr)
    return False


class NpyScanner(Scanner):
    """``\\x93NUMPY`` files: validate the header, analyse object-array pickles."""

    format_name = "numpy-npy"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(MAGIC)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        f = artifact.stream
        f.seek(6)
        version = f.read(2)
        ctx.bytes_scanned += 8
        if len(version) < 2 or version[0] not in (1, 2, 3):
            self._bad(ctx, artifact, "unsupported .npy version")
            return
        width = 2 if version[0] == 1 else 4
        raw_len = f.read(width)
        hlen = int.from_bytes(raw_len, "little") if len(raw_len) == width else -1
        if hlen < 0 or hlen > _MAX_HEADER or 8 + width + hlen > artifact.size:
            self._bad(ctx, artifact, "header length out of bounds")
            return
        raw = f.read(hlen)
        ctx.bytes_scanned += width + hlen
        try:
            header = ast.literal_eval(raw.decode("utf-8" if version[0] == 3 else "latin-1"))
            descr, shape = header["descr"], tuple(header["shape"])
        except (
            ValueError,
            SyntaxError,
            KeyError,
            TypeError,
            UnicodeDecodeError,
            MemoryError,
            RecursionError,
        ):
            self._bad(ctx, artifact, "header is not a valid NumPy header literal")
            return
        data_start = 8 + width + hlen
        if _has_object(descr):
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.LOW,
                "object array: np.load needs allow_pickle=True, which runs its pickle",
                member=artifact.member,
                offset=data_start,
                detail="descr",
            )
            scan_pickle_sequence(artifact, ctx, data_start, label="npy object-array pickle")
            return
        import numpy as np  # lazily: keeps the scanner's start-up small

        try:
            itemsize = np.dtype(descr).itemsize
            expected = math.prod(int(d) for d in shape) * itemsize
        except (TypeError, ValueError, struct.error):
            self._bad(ctx, artifact, f"unknown dtype {descr!r}")
            return
        if expected > artifact.size - data_start:
            self._bad(ctx, artifact, "array data is shorter than the header declares")

    @staticmethod
    def _bad(ctx: ScanContext, artifact: Artifact, why: str) -> None:
        ctx.add(
            rules.FORMAT_MALFORMED,
            Severity.MEDIUM,
            f"malformed .npy: {why}",
            member=artifact.member,
            offset=0,
            detail="header",
        )
