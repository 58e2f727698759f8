"""ONNX models: external data paths and custom operator domains, read with the wire-format
reader (the ``onnx`` package is not needed). Inline weights are skipped by seeking."""

from __future__ import annotations

import posixpath
import re

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.protobuf import LEN, VARINT, ProtoError, fields, stream_fields, text

STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
        "org.pytorch.aten",
        "pkg.onnxscript.torch_lib",
        "pkg.onnxscript.torch_lib.common",
    }
)
_MODEL_FIELDS = {1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26}
_IN_MEMORY = 64 << 20


def _escapes(location: str) -> bool:
    loc = location.replace("\\", "/")
    return (
        loc.startswith("/")
        or re.match(r"^[A-Za-z]:", loc) is not None
        or posixpath.normpath(loc).startswith("..")
    )


class _Walker:
    def __init__(self, ctx: ScanContext, member: str | None) -> None:
        self.ctx = ctx
        self.member = member
        self.domains: set[str] = set()
        self.local_domains: set[str] = set()
        self.locations: set[str] = set()

    def tensor(self, msg: memoryview) -> None:
        for number, wire, value in fields(msg):
            if number == 13 and wire == LEN and not isinstance(value, int):  # external_data
                key = val = ""
                for k_no, _, kv in fields(value):
                    if k_no == 1:
                        key = text(kv)
                    elif k_no == 2:
                        val = text(kv)
                if key == "location":
                    self.locations.add(val)

    def node(self, msg: memoryview) -> None:
        for number, _wire, value in fields(msg):
            if isinstance(value, int):
                continue
            if number == 7:
                self.domains.add(text(value))
            elif number == 5:  # attribute: subgraphs (g=6, graphs=11), tensors (t=5, 10)
                for a_no, a_wire, a_val in fields(value):
                    if a_wire == LEN and not isinstance(a_val, int):
                        if a_no in (6, 11):
                            self.graph(a_val)
                        elif a_no in (5, 10):
                            self.tensor(a_val)

    def graph(self, msg: memoryview) -> None:
        for number, wire, value in fields(msg):
            if wire != LEN or isinstance(value, int):
                continue
            if number == 1:
                self.node(value)
            elif number == 5:
                self.tensor(value)
            elif number == 15:  # sparse_initializer: values=1, indices=2
                for s_no, _, s_val in fields(value):
                    if s_no in (1, 2) and not isinstance(s_val, int):
                        self.tensor(s_val)

    def function(self, msg: memoryview) -> None:
        for number, _wire, value in fields(msg):
            if isinstance(value, int):
                continue
            if number == 7:
                self.node(value)
            elif number == 10:
                self.local_domains.add(text(value))


class OnnxScanner(Scanner):
    """ONNX ``ModelProto`` files."""

    format_name = "onnx"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if artifact.name.lower().endswith((".onnx", ".ort")):
            return True
        return (
            len(head) > 4
            and head[0] == 0x08
            and 3 <= head[1] <= 30
            and head[2] in (0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42)
        )

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        walker = _Walker(ctx, artifact.member)
        f = artifact.stream
        try:
            seen_graph = False
            for number, wire, value, length in stream_fields(f, 0, artifact.size):
                if number not in _MODEL_FIELDS:
                    raise ProtoError(f"field {number} is not a ModelProto field")
                if wire == VARINT or wire != LEN:
                    continue
                if number in (7, 8, 25):
                    f.seek(value)
                    if number == 7 and length > _IN_MEMORY:
                        self._big_graph(f, value, length, walker)
                    else:
                        data = memoryview(f.read(length))
                        ctx.bytes_scanned += length
                        if number == 7:
                            walker.graph(data)
                        elif number == 8:  # opset_import domain=1
                            for o_no, _, o_val in fields(data):
                                if o_no == 1 and not isinstance(o_val, int):
                                    walker.domains.add(text(o_val))
                        else:
                            walker.function(data)
                    seen_graph |= number == 7
            if not seen_graph:
                raise ProtoError("no graph")
        except (ProtoError, RecursionError, IndexError) as exc:
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.MEDIUM,
                f"ONNX model cannot be parsed ({exc})",
                member=artifact.member,
            )
        self._report(walker, artifact, ctx)

    @staticmethod
    def _big_graph(f, start: int, length: int, walker: _Walker) -> None:  # type: ignore[no-untyped-def]
        """Walk a huge GraphProto on the stream: nodes are small, inline tensors are not."""
        for number, wire, value, size in stream_fields(f, start, start + length):
            if wire == LEN and number in (1, 5, 15):
                f.seek(value)
                if number == 1:
                    walker.node(memoryview(f.read(size)))
                else:
                    walker.tensor(memoryview(_tensor_without_raw(f, value, size)))

    @staticmethod
    def _report(walker: _Walker, artifact: Artifact, ctx: ScanContext) -> None:
        for domain in sorted(walker.domains - STANDARD_DOMAINS - walker.local_domains):
            ctx.add(
                rules.ONNX_CUSTOM_DOMAIN,
                Severity.MEDIUM,
                f"ONNX model uses custom operator domain {domain!r}; running it loads "
                "native code from a custom-op library",
                member=artifact.member,
                detail=domain,
            )
        for loc in sorted(walker.locations):
            if _escapes(loc):
                ctx.add(
                    rules.ONNX_EXTERNAL_DATA,
                    Severity.HIGH,
                    f"ONNX external data location {loc!r} points outside the model "
                    "directory (reads arbitrary files)",
                    member=artifact.member,
                    detail=loc,
                )


def _tensor_without_raw(f, start: int, length: int) -> bytes:  # type: ignore[no-untyped-def]
    """Re-encode a TensorProto keeping only its external_data entries."""
    out = bytearray()
    for number, wire, value, size in stream_fields(f, start, start + length):
        if number == 13 and wire == LEN:
            f.seek(value)
            body = f.read(size)
            out += bytes([0x6A]) + _encode_varint(len(body)) + body
    return bytes(out)


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
