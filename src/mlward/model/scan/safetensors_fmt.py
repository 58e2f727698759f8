"""safetensors: no code can run, but a malformed header crashes or misleads loaders."""

from __future__ import annotations

import json
import math

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner

_MAX_HEADER = 100_000_000  # the limit the safetensors library enforces
# Bits per element, including the sub-byte float formats.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


class SafetensorsScanner(Scanner):
    """``.safetensors``: 8-byte header length, JSON header, contiguous tensor data."""

    format_name = "safetensors"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if len(head) < 10:
            return False
        n = int.from_bytes(head[:8], "little")
        return 2 <= n <= _MAX_HEADER and head[8:9] == b"{"

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        f = artifact.stream
        f.seek(0)
        n = int.from_bytes(f.read(8), "little")
        problems: list[str] = []
        if 8 + n > artifact.size:
            problems.append("header length exceeds the file")
        else:
            raw = f.read(n)
            ctx.bytes_scanned += 8 + n
            try:
                header = json.loads(raw.decode("utf-8"))
                if not isinstance(header, dict):
                    raise ValueError("not an object")
                problems += _check(header, artifact.size - 8 - n)
            except (ValueError, RecursionError) as exc:
                problems.append(f"header is not valid JSON ({exc})")
        for problem in problems[:20]:
            ctx.add(
                rules.SAFETENSORS_INVALID,
                Severity.MEDIUM,
                f"safetensors: {problem}",
                member=artifact.member,
                detail="header",
            )


def _check(header: dict[str, object], data_len: int) -> list[str]:
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, spec in header.items():
        if name == "__metadata__":
            if not isinstance(spec, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in spec.items()
            ):
                problems.append("__metadata__ must map strings to strings")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{name}: entry is not an object")
            continue
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype not in DTYPE_BITS:
            problems.append(f"{name}: unknown dtype {dtype!r}")
            continue
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            problems.append(f"{name}: invalid shape")
            continue
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_len
        ):
            problems.append(f"{name}: data offsets outside the data section")
            continue
        nbytes = math.ceil(math.prod(shape) * DTYPE_BITS[str(dtype)] / 8)
        if nbytes != offsets[1] - offsets[0]:
            problems.append(
                f"{name}: {nbytes} bytes expected for its shape and dtype, "
                f"offsets span {offsets[1] - offsets[0]}"
            )
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    cursor = 0
    for start, end, name in spans:
        if start < cursor:
            problems.append(f"{name}: overlaps another tensor")
        elif start > cursor:
            problems.append(f"{name}: gap before its data")
        cursor = max(cursor, end)
    if spans and cursor != data_len:
        problems.append("data section has trailing bytes not covered by any tensor")
    return problems
