"""Read the graphs of a TensorFlow SavedModel or GraphDef with the wire-format reader.

Field numbers follow tensorflow/core/protobuf/{saved_model,meta_graph,saver,
saved_object_graph}.proto and tensorflow/core/framework/{graph,node_def,function,
attr_value}.proto. Only what the op check needs is kept: each node's name, op, inputs and
the functions its attributes name; each library function's nodes; the saver's entry
points; the functions the object graph exposes to Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mlward.model.scan.protobuf import LEN, VARINT, ProtoError, fields, text


@dataclass(frozen=True)
class Node:
    """One NodeDef."""

    name: str
    """``NodeDef.name``."""
    op: str
    """``NodeDef.op``: an op type or the name of a library function."""
    inputs: tuple[str, ...]
    """Names of the nodes it reads (``^ctrl`` and ``:N`` stripped)."""
    calls: tuple[str, ...]
    """Function names found in its attributes (``f``, ``then_branch``, ``body`` ...)."""


@dataclass
class Graph:
    """One GraphDef with its function library and, in a SavedModel, its saver."""

    nodes: list[Node] = field(default_factory=list)
    """Nodes of the top-level graph."""
    functions: dict[str, list[Node]] = field(default_factory=dict)
    """Library functions by name, each with its body's nodes."""
    saver_nodes: frozenset[str] = frozenset()
    """Nodes named by ``saver_def`` (save tensor, restore op): the loader's restore entry."""
    exported: frozenset[str] = frozenset()
    """Functions the SavedObjectGraph exposes to Python callers."""


def _messages(buf: memoryview, number: int) -> Iterator[memoryview]:
    for n, wire, value in fields(buf):
        if n == number and wire == LEN and not isinstance(value, int):
            yield value


def _strings(buf: memoryview, number: int) -> list[str]:
    return [text(v) for v in _messages(buf, number)]


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":", 1)[0]


def _attr_functions(attr_value: memoryview, out: list[str]) -> None:
    """Function names in an AttrValue: ``func`` (10) and ``list.func`` (1 -> 9)."""
    for name_attrs in _messages(attr_value, 10):
        _name_attr_list(name_attrs, out)
    for lst in _messages(attr_value, 1):
        for name_attrs in _messages(lst, 9):
            _name_attr_list(name_attrs, out)


def _name_attr_list(msg: memoryview, out: list[str]) -> None:
    out.extend(_strings(msg, 1))
    for entry in _messages(msg, 2):  # nested attrs may name more functions
        for value in _messages(entry, 2):
            _attr_functions(value, out)


def _node(msg: memoryview) -> Node:
    calls: list[str] = []
    for entry in _messages(msg, 5):  # map<string, AttrValue> attr
        for value in _messages(entry, 2):
            _attr_functions(value, calls)
    names = _strings(msg, 1)
    ops = _strings(msg, 2)
    return Node(
        names[-1] if names else "",
        ops[-1] if ops else "",
        tuple(_node_name(i) for i in _strings(msg, 3)),
        tuple(calls),
    )


def _graph(graph_def: memoryview, graph: Graph) -> None:
    graph.nodes.extend(_node(n) for n in _messages(graph_def, 1))
    for library in _messages(graph_def, 2):
        for fn in _messages(library, 1):
            names = [nm for sig in _messages(fn, 1) for nm in _strings(sig, 1)]
            name = names[-1] if names else ""
            graph.functions.setdefault(name, []).extend(_node(n) for n in _messages(fn, 3))


def _meta_graph(meta: memoryview) -> Graph:
    graph = Graph()
    for graph_def in _messages(meta, 2):
        _graph(graph_def, graph)
    # Repeated occurrences of a singular message merge: the last string of each field wins.
    savers = list(_messages(meta, 3))
    entries = [[s for sd in savers for s in _strings(sd, number)] for number in (2, 3)]
    graph.saver_nodes = frozenset(_node_name(e[-1]) for e in entries if e and e[-1])
    graph.exported = frozenset(
        key for og in _messages(meta, 7) for entry in _messages(og, 2) for key in _strings(entry, 1)
    )
    return graph


def looks_like_savedmodel(data: bytes | memoryview) -> bool:
    """A SavedModel by structure: only ``schema_version`` (1, varint) and ``meta_graphs``.

    The version field is optional: TensorFlow parses a ``saved_model.pb`` without it. A
    GraphDef starts with ``node`` (1, length-delimited) and carries ``versions`` (4).
    """
    top = [(n, w) for n, w, _ in fields(data)]
    return (2, LEN) in top and all(t in ((1, VARINT), (2, LEN)) for t in top)


def read_graphs(data: bytes, *, savedmodel: bool) -> list[Graph]:
    """Every graph of a SavedModel (one per MetaGraphDef) or the one graph of a GraphDef."""
    view = memoryview(data)
    if savedmodel:
        metas = list(_messages(view, 2))
        if not metas:
            raise ProtoError("SavedModel without meta_graphs")
        return [_meta_graph(m) for m in metas]
    graph = Graph()
    _graph(view, graph)
    return [graph]
