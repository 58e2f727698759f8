"""TensorFlow SavedModel (``saved_model.pb``) and frozen GraphDef (``*.pb``) files.

Walks SavedModel -> MetaGraphDef -> GraphDef -> NodeDef.op and FunctionDefLibrary ->
FunctionDef -> NodeDef.op with the wire-format reader, without importing TensorFlow, and
reports ops that run Python or touch files.
"""

from __future__ import annotations

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.protobuf import LEN, ProtoError, fields, text

RISKY_OPS: dict[str, tuple[Severity, str]] = {
    "PyFunc": (Severity.CRITICAL, "calls a Python function"),
    "PyFuncStateless": (Severity.CRITICAL, "calls a Python function"),
    "EagerPyFunc": (Severity.CRITICAL, "calls a Python function"),
    "ReadFile": (Severity.HIGH, "reads an arbitrary file"),
    "WriteFile": (Severity.HIGH, "writes an arbitrary file"),
    "MatchingFiles": (Severity.HIGH, "lists files on the host"),
    "ImmutableConst": (Severity.HIGH, "memory-maps a file from the host"),
    "DeleteFile": (Severity.HIGH, "deletes files"),
    "TextLineDataset": (Severity.MEDIUM, "reads files"),
    "TFRecordDataset": (Severity.MEDIUM, "reads files"),
    "FixedLengthRecordDataset": (Severity.MEDIUM, "reads files"),
    "DebugIdentity": (Severity.MEDIUM, "sends tensors to debug URLs"),
    "DebugIdentityV2": (Severity.MEDIUM, "sends tensors to debug URLs"),
    "DebugNumericSummary": (Severity.MEDIUM, "sends tensors to debug URLs"),
}
_MAX_PB = 2 << 30


def _node_ops(node: memoryview) -> str | None:
    for number, wire, value in fields(node):
        if number == 2 and wire == LEN:
            return text(value)
    return None


def _graph_ops(graph: memoryview, out: list[str]) -> None:
    for number, wire, value in fields(graph):
        if wire != LEN or isinstance(value, int):
            continue
        if number == 1:  # GraphDef.node
            op = _node_ops(value)
            if op:
                out.append(op)
        elif number == 2:  # GraphDef.library
            for fn_no, fn_wire, fn in fields(value):
                if fn_no == 1 and fn_wire == LEN and not isinstance(fn, int):
                    for nd_no, nd_wire, nd in fields(fn):
                        if nd_no == 3 and nd_wire == LEN and not isinstance(nd, int):
                            op = _node_ops(nd)
                            if op:
                                out.append(op)


def savedmodel_ops(data: bytes) -> tuple[str, list[str]]:
    """(kind, ops) of a SavedModel or a bare GraphDef; raises ProtoError when neither."""
    ops: list[str] = []
    top = list(fields(data))
    metas = [v for n, w, v in top if n == 2 and w == LEN]
    if any(n == 1 and w == 0 for n, w, _ in top) and metas:
        for meta in metas:
            for number, wire, value in fields(meta):  # type: ignore[arg-type]
                if number == 2 and wire == LEN and not isinstance(value, int):
                    _graph_ops(value, ops)
        return "tensorflow-savedmodel", ops
    _graph_ops(memoryview(data), ops)
    return "tensorflow-graphdef", ops


class SavedModelScanner(Scanner):
    """``saved_model.pb`` and other ``.pb`` graph files."""

    format_name = "tensorflow"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        name = artifact.name.lower()
        if name.endswith("saved_model.pb"):
            return True
        # SavedModel: schema_version=1 then meta_graphs (ONNX starts the same way but
        # its first field, ir_version, is >= 3).
        return head[:3] == b"\x08\x01\x12" or (name.endswith(".pb") and head[:1] == b"\x0a")

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        if artifact.size > _MAX_PB:
            ctx.add(rules.FORMAT_MALFORMED, Severity.MEDIUM, "protobuf larger than 2 GiB",
                    member=artifact.member)
            return
        artifact.stream.seek(0)
        data = artifact.stream.read()
        ctx.bytes_scanned += len(data)
        try:
            kind, ops = savedmodel_ops(data)
        except (ProtoError, RecursionError) as exc:
            ctx.add(rules.FORMAT_MALFORMED, Severity.MEDIUM,
                    f"TensorFlow protobuf cannot be parsed ({exc})", member=artifact.member)
            return
        ctx.formats.append(kind)
        for op in dict.fromkeys(ops):
            op_key = op[:-2] if op.endswith("V2") and op[:-2] in RISKY_OPS else op
            if op_key in RISKY_OPS:
                sev, why = RISKY_OPS[op_key]
                ctx.add(rules.TF_OP, sev, f"graph uses op {op}, which {why}",
                        member=artifact.member, detail=op, op=op, count=ops.count(op))
