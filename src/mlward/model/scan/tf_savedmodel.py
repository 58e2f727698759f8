"""TensorFlow SavedModel (``saved_model.pb``) and frozen GraphDef (``*.pb``) files.

Walks SavedModel -> MetaGraphDef -> GraphDef -> NodeDef and the FunctionDefLibrary with the
wire-format reader, without importing TensorFlow, and checks every op of the graph and of
every library function against the compute-op allowlist in ``tf_ops``: anything outside it
is HIGH, ops that run Python or touch files are CRITICAL. Checkpoint ops pass only where
the ``saver_def`` alone reaches them (the loader's own restore).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.protobuf import ProtoError
from mlward.model.scan.tf_graph import Graph, Node, looks_like_savedmodel, read_graphs
from mlward.model.scan.tf_ops import ALLOWED_OPS, CHECKPOINT_OPS, DANGEROUS_OPS

_MAX_PB = 2 << 30
_MAIN = ""  # context name of the top-level graph; library functions use their own name


@dataclass
class OpUse:
    """Where one disallowed op is used."""

    severity: Severity
    """CRITICAL for known-dangerous ops, HIGH for ops outside the allowlist."""
    reason: str
    """Why it is reported, completing "graph uses op X, which ..."."""
    count: int = 0
    """How many nodes (or function references) use it."""
    where: list[str] = field(default_factory=list)
    """``graph`` or ``function <name>`` for each context that uses it."""


def _clean_main_nodes(graph: Graph) -> set[str]:
    """Main-graph nodes that only the saver reaches.

    A node is clean when it feeds a ``saver_def`` entry node and nothing outside the
    saver's own subgraph consumes it, directly or through other nodes.
    """
    inputs = {n.name: n.inputs for n in graph.nodes}
    region = _ancestors(graph.saver_nodes & inputs.keys(), inputs)
    return region - _ancestors(inputs.keys() - region, inputs)


def _ancestors(start: Iterable[str], inputs: dict[str, tuple[str, ...]]) -> set[str]:
    seen, todo = set(start), deque(start)
    while todo:
        for parent in inputs.get(todo.popleft(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _callees(node: Node, functions: dict[str, list[Node]]) -> list[str]:
    targets = [node.op, *node.calls]
    return [t for t in targets if t in functions]


def _saver_functions(graph: Graph, clean: set[str]) -> set[str]:
    """Library functions called only from the saver (clean main nodes or each other)."""
    callers: dict[str, list[tuple[str, str]]] = {name: [] for name in graph.functions}
    contexts = [(_MAIN, graph.nodes), *graph.functions.items()]
    for ctx, nodes in contexts:
        for node in nodes:
            for callee in _callees(node, graph.functions):
                callers[callee].append((ctx, node.name))
    saver: set[str] = set()
    todo = deque(f for n in graph.nodes if n.name in clean for f in _callees(n, graph.functions))
    while todo:
        fn = todo.popleft()
        if fn not in saver:
            saver.add(fn)
            todo.extend(f for n in graph.functions[fn] for f in _callees(n, graph.functions))
    changed = True
    while changed:
        changed = False
        for fn in sorted(saver):
            outside = fn in graph.exported or any(
                (ctx == _MAIN and name not in clean) or (ctx != _MAIN and ctx not in saver)
                for ctx, name in callers[fn]
            )
            if outside:
                saver.discard(fn)
                changed = True
    return saver


def disallowed_ops(graph: Graph) -> dict[str, OpUse]:
    """Every op of ``graph`` outside the allowlist, with its severity and where it is used."""
    clean = _clean_main_nodes(graph)
    saver = _saver_functions(graph, clean)
    found: dict[str, OpUse] = {}
    for ctx, nodes in [(_MAIN, graph.nodes), *graph.functions.items()]:
        where = "graph" if ctx == _MAIN else f"function {ctx}"
        in_saver = ctx in saver if ctx != _MAIN else None
        for node in nodes:
            # A function attribute naming no library function runs that primitive op.
            used = [node.op, *(c for c in node.calls if c not in graph.functions)]
            for op in used:
                if not op or op in graph.functions or op in ALLOWED_OPS:
                    continue
                if op in CHECKPOINT_OPS and (in_saver if in_saver is not None else node.name in clean):
                    continue
                if op in DANGEROUS_OPS:
                    sev, why = Severity.CRITICAL, DANGEROUS_OPS[op]
                    if op in CHECKPOINT_OPS:
                        why += " outside the SavedModel's own saver"
                else:
                    sev, why = Severity.HIGH, "is outside the compute-op allowlist"
                use = found.setdefault(op, OpUse(sev, why))
                use.count += 1
                if where not in use.where:
                    use.where.append(where)
    return found


class SavedModelScanner(Scanner):
    """``saved_model.pb`` and other ``.pb`` graph files."""

    format_name = "tensorflow"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        name = artifact.name.lower()
        if name.endswith("saved_model.pb"):
            return True
        # SavedModel: schema_version=1 then meta_graphs (ONNX starts the same way but
        # its first field, ir_version, is >= 3); without the version it starts at
        # meta_graphs (0x12). A GraphDef starts with a node (0x0a).
        return head[:3] == b"\x08\x01\x12" or (name.endswith(".pb") and head[:1] in (b"\x0a", b"\x12"))

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        if artifact.size > _MAX_PB:
            ctx.add(
                rules.FORMAT_MALFORMED, Severity.MEDIUM, "protobuf larger than 2 GiB", member=artifact.member
            )
            return
        artifact.stream.seek(0)
        data = artifact.stream.read()
        ctx.bytes_scanned += len(data)
        try:
            # TensorFlow's loader parses saved_model.pb as a SavedModel whatever its fields.
            savedmodel = artifact.name.lower().endswith("saved_model.pb") or looks_like_savedmodel(data)
            graphs = read_graphs(data, savedmodel=savedmodel)
        except (ProtoError, RecursionError) as exc:
            # Fail closed: an unreadable graph has unchecked ops.
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.HIGH,
                f"TensorFlow protobuf cannot be parsed, so its ops are unchecked ({exc})",
                member=artifact.member,
            )
            return
        ctx.formats.append("tensorflow-savedmodel" if savedmodel else "tensorflow-graphdef")
        merged: dict[str, OpUse] = {}
        for graph in graphs:
            for op, use in disallowed_ops(graph).items():
                prev = merged.setdefault(op, OpUse(use.severity, use.reason))
                prev.count += use.count
                prev.where.extend(w for w in use.where if w not in prev.where)
        for op, use in merged.items():
            places = ", ".join(use.where[:3]) + (" ..." if len(use.where) > 3 else "")
            ctx.add(
                rules.TF_OP,
                use.severity,
                f"graph uses op {op}, which {use.reason} (in {places})",
                member=artifact.member,
                detail=op,
                op=op,
                count=use.count,
                where=use.where,
            )
