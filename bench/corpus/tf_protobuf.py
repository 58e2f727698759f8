"""Hand-encoded TensorFlow SavedModel / GraphDef protobufs (no TensorFlow needed).

Field numbers follow saved_model.proto, meta_graph.proto, graph.proto, node_def.proto,
function.proto and attr_value.proto; only the fields the scanner reads are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def varint(n: int) -> bytes:
    """Protobuf base-128 varint."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def func_attr(key: str, function: str) -> bytes:
    """A NodeDef ``attr`` map entry whose AttrValue.func names ``function``."""
    value = length_field(10, length_field(1, function.encode()))
    return length_field(1, key.encode()) + length_field(2, value)


def node(
    name: str,
    op: str,
    inputs: Sequence[str] = (),
    calls: dict[str, str] | None = None,
) -> bytes:
    """A NodeDef; ``calls`` maps attribute names (``f``, ``body`` ...) to function names."""
    body = length_field(1, name.encode()) + length_field(2, op.encode())
    body += b"".join(length_field(3, i.encode()) for i in inputs)
    body += b"".join(length_field(5, func_attr(k, v)) for k, v in (calls or {}).items())
    return body


def function(name: str, nodes: Iterable[bytes]) -> bytes:
    """A FunctionDef named ``name`` with the given NodeDefs as its body."""
    signature = length_field(1, length_field(1, name.encode()))
    return signature + b"".join(length_field(3, n) for n in nodes)


def graph_def(nodes: Iterable[bytes], functions: Iterable[bytes] = ()) -> bytes:
    """A GraphDef with a FunctionDefLibrary when ``functions`` is not empty."""
    body = b"".join(length_field(1, n) for n in nodes)
    library = b"".join(length_field(1, f) for f in functions)
    return body + (length_field(2, library) if library else b"")


def meta_graph(
    graph: bytes, saver: tuple[str, str, str] | None = None, exported: Sequence[str] = ()
) -> bytes:
    """A MetaGraphDef; ``saver`` is (filename tensor, save tensor, restore op)."""
    body = length_field(2, graph)
    if saver:
        body += length_field(3, b"".join(length_field(i + 1, s.encode()) for i, s in enumerate(saver)))
    if exported:
        entries = b"".join(length_field(2, length_field(1, f.encode())) for f in exported)
        body += length_field(7, entries)
    return body


def saved_model(*metas: bytes, schema_version: int | None = 1) -> bytes:
    """A SavedModel; ``schema_version=None`` leaves the optional version field out."""
    head = b"" if schema_version is None else b"\x08" + varint(schema_version)
    return head + b"".join(length_field(2, m) for m in metas)


def savedmodel_bytes(ops: list[str], function_ops: Sequence[str] = ()) -> bytes:
    """A SavedModel whose graph (and one library function) uses ``ops``."""
    nodes = [node(f"n{i}", op) for i, op in enumerate(ops)]
    fns = [function("fn", [node(f"f{i}", op) for i, op in enumerate(function_ops)])]
    return saved_model(meta_graph(graph_def(nodes, fns if function_ops else ())))
