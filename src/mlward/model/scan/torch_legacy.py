"""PyTorch's oldest checkpoint format: a tar of ``sys_info``, ``pickle``, ``storages`` and
``tensors``. The last two interleave pickles with raw bytes, so they are walked record by
record exactly as ``torch.serialization.legacy_load`` reads them."""

from __future__ import annotations

import struct

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan._io import ByteStream
from mlward.model.scan.interface import Artifact, ScanContext
from mlward.model.scan.pickle_analyser import PickleAnalyser, PickleOutcome
from mlward.model.scan.pickle_file import scan_pickle_sequence
from mlward.model.scan.pickle_values import GlobalRef

LEGACY_TAR_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})

_ELEMENT_SIZE = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16,
}
_MAX_RECORDS = 1_000_000


def scan_legacy_tar_member(artifact: Artifact, ctx: ScanContext) -> None:
    """Scan one member of a legacy torch tar."""
    if artifact.name in ("sys_info", "pickle"):
        scan_pickle_sequence(artifact, ctx, persistent_ok=True, label=f"legacy torch {artifact.name}")
        return
    bs = ByteStream(artifact.stream, 0, artifact.size)
    try:
        _walk(bs, artifact, ctx)
    finally:
        ctx.bytes_scanned += bs.bytes_read


def _pickle(bs: ByteStream, artifact: Artifact, ctx: ScanContext) -> PickleOutcome | None:
    out = PickleAnalyser(
        bs, ctx, artifact.member, persistent_ok=True, label=f"legacy torch {artifact.name} pickle"
    ).run()
    return out if out.complete else None


def _walk(bs: ByteStream, artifact: Artifact, ctx: ScanContext) -> None:
    head = _pickle(bs, artifact, ctx)
    count = head.value if head else None
    if not isinstance(count, int) or not 0 <= count <= _MAX_RECORDS:
        _bad(ctx, artifact, "record count is not a small integer")
        return
    for _ in range(count):
        rec = _pickle(bs, artifact, ctx)
        if rec is None or not isinstance(rec.value, tuple) or len(rec.value) != 3:
            _bad(ctx, artifact, "record header is not a 3-tuple")
            return
        if artifact.name == "storages":
            stype = rec.value[2]
            size = _ELEMENT_SIZE.get(stype.name) if isinstance(stype, GlobalRef) else None
            raw = bs.read(8)
            if size is None or raw is None:
                _bad(ctx, artifact, "unknown storage type or truncated storage")
                return
            ok = bs.skip(struct.unpack("<q", raw)[0] * size)
        else:
            raw = bs.read(8)
            ndim = struct.unpack("<i", raw[:4])[0] if raw else -1
            ok = raw is not None and 0 <= ndim <= 64 and bs.skip(16 * ndim + 8)
        if not ok:
            _bad(ctx, artifact, "raw record runs past the end")
            return
    if artifact.name == "storages" and _pickle(bs, artifact, ctx) is None:
        _bad(ctx, artifact, "storage views pickle is missing")


def _bad(ctx: ScanContext, artifact: Artifact, why: str) -> None:
    ctx.add(
        rules.PICKLE_MALFORMED,
        Severity.HIGH,
        f"legacy torch {artifact.name} member is malformed ({why}); a payload may run before the break",
        member=artifact.member,
    )
