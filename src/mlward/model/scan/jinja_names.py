"""Which Jinja2 expressions build strings: the taint half of the chat-template analysis.

Jinja's ``x[key]`` falls back to ``getattr(x, key)`` when ``key`` is a string, so an item
access is an attribute access whose name is whatever ``key`` evaluates to. A template that
builds that name (``'_' * 2 ~ 'class' ~ '_' * 2``, ``'%c' % 95``, ``[..]|join``,
``dict(_=1)|first``) hides the dunder from any reading of its text. ``NameTaint`` decides,
for every expression, whether its value may be a string the template built (*computed*)
rather than a number, a constant name, or a value handed in by the caller (messages,
special tokens). Variables carry the taint of what is bound to them (``set``, ``for``,
``with``, macro parameters, ``namespace`` attributes), computed to a fixed point.
"""

from __future__ import annotations

from jinja2 import nodes

# Filters whose result is a number or a boolean whatever they are given.
_NUMERIC_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round", "wordcount"})
# Filters (and string/dict methods) that pass their input through without building a
# new string out of other pieces: computed only when an input is.
_PRESERVING_FILTERS = frozenset({
    "trim", "lower", "upper", "title", "capitalize", "e", "escape", "forceescape", "safe",
    "striptags", "first", "last", "list", "tojson", "default", "d", "items", "dictsort",
    "selectattr", "rejectattr", "select", "reject", "map", "sort", "unique", "batch",
    "slice", "indent", "truncate", "wordwrap", "random", "min", "max", "groupby",
})
_PRESERVING_METHODS = frozenset({
    "strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize", "casefold",
    "split", "rsplit", "splitlines", "partition", "rpartition", "get", "keys", "values",
    "items", "startswith", "endswith", "find", "rfind", "index", "rindex", "count",
    "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "copy",
})
# Globals whose call result is never a built string.
_INERT_CALLS = frozenset({"range", "raise_exception", "namespace", "cycler", "joiner"})
_NUMERIC_NODES = (nodes.Sub, nodes.Div, nodes.FloorDiv, nodes.Pow, nodes.Neg, nodes.Pos,
                  nodes.Not, nodes.Compare, nodes.Test, nodes.Slice)
_WILDCARD = "*"


def is_private(name: str) -> bool:
    """A ``_``-prefixed name or one with a double underscore: never a chat-template field."""
    return name.startswith("_") or "__" in name


class NameTaint:
    """Computed-string taint of the expressions of one parsed template."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.names: dict[str, bool] = {}
        """Variables bound in the template, True when some binding is computed."""
        self.namespaces: dict[tuple[str, str], bool] = {}
        """``namespace`` attributes (``*`` for any) bound in the template."""
        self.literals: set[str] = set()
        """Variables bound to a string constant (or iterating over a list of them)."""
        self._bind_to_fixed_point()

    def is_bound(self, name: str) -> bool:
        """True when the template itself binds ``name`` (so it is not a global)."""
        return name in self.names

    def computed(self, expr: nodes.Node | None) -> bool:
        """True when ``expr`` may evaluate to a string the template built."""
        if expr is None:
            return False
        if isinstance(expr, nodes.Const):
            return isinstance(expr.value, str) and is_private(expr.value)
        if isinstance(expr, _NUMERIC_NODES):
            return False
        if isinstance(expr, nodes.Name):
            return self.names.get(expr.name, False)
        if isinstance(expr, nodes.Getattr):
            if isinstance(expr.node, nodes.Name):
                ns = expr.node.name
                if (ns, expr.attr) in self.namespaces or (ns, _WILDCARD) in self.namespaces:
                    return (self.namespaces.get((ns, expr.attr), False)
                            or self.namespaces.get((ns, _WILDCARD), False))
            return self.computed(expr.node)
        if isinstance(expr, nodes.Getitem):
            # 'a_b_cgdlleofb...'[1::2]: a slice with a step picks a name out of a constant.
            if isinstance(expr.arg, nodes.Slice) and (_is_string_const(expr.node) or (
                    isinstance(expr.node, nodes.Name) and expr.node.name in self.literals)):
                return True
            return self.computed(expr.node) or self.computed(expr.arg)
        if isinstance(expr, nodes.Concat):
            return True
        if isinstance(expr, (nodes.Add, nodes.Mul, nodes.Mod)):
            # str + str, str * n and str % args all build strings; numbers do not.
            return any(_is_string_const(e) or self.computed(e) for e in (expr.left, expr.right))
        if isinstance(expr, (nodes.And, nodes.Or)):
            return self.computed(expr.left) or self.computed(expr.right)
        if isinstance(expr, nodes.CondExpr):
            return self.computed(expr.expr1) or self.computed(expr.expr2)
        if isinstance(expr, (nodes.List, nodes.Tuple)):
            return any(self.computed(e) for e in expr.items)
        if isinstance(expr, nodes.Dict):
            return any(self.computed(p.key) or self.computed(p.value) for p in expr.items)
        if isinstance(expr, (nodes.MarkSafe, nodes.MarkSafeIfAutoescape)):
            return self.computed(expr.expr)
        if isinstance(expr, nodes.Filter):
            if expr.name in _NUMERIC_FILTERS:
                return False
            return expr.name not in _PRESERVING_FILTERS or self._any_input(expr)
        if isinstance(expr, nodes.Call):
            return self._call_computed(expr)
        return True  # an expression kind this analysis does not model: assume the worst

    def _any_input(self, expr: nodes.Filter | nodes.Call) -> bool:
        if expr.dyn_args is not None or expr.dyn_kwargs is not None:
            return True
        return (any(self.computed(a) for a in expr.args)
                or any(is_private(k.key) or self.computed(k.value) for k in expr.kwargs)
                or (isinstance(expr, nodes.Filter) and self.computed(expr.node)))

    def _call_computed(self, call: nodes.Call) -> bool:
        callee = call.node
        if isinstance(callee, nodes.Name) and callee.name in _INERT_CALLS \
                and not self.is_bound(callee.name):
            return self._any_input(call)
        if isinstance(callee, nodes.Getattr) and callee.attr in _PRESERVING_METHODS:
            return self.computed(callee.node) or self._any_input(call)
        return True  # format, join, replace, macros, unknown callables

    # -- bindings -----------------------------------------------------------------------

    def _bind_to_fixed_point(self) -> None:
        # Taint only ever turns on, so this stops after at most one round per binding.
        bindings = list(self.tree.find_all((nodes.Assign, nodes.AssignBlock, nodes.For,
                                            nodes.With, nodes.Macro, nodes.CallBlock)))
        calls = list(self.tree.find_all(nodes.Call))
        for _ in range(len(bindings) + 2):
            before = (dict(self.names), dict(self.namespaces))
            for node in bindings:
                self._bind(node, calls)
            if before == (self.names, self.namespaces):
                return

    def _bind(self, node: nodes.Node, calls: list[nodes.Call]) -> None:
        if isinstance(node, nodes.Assign):
            self._assign(node.target, node.node)
        elif isinstance(node, nodes.AssignBlock):
            self._mark(node.target, True)  # the rendered block is a string the template wrote
        elif isinstance(node, nodes.For):
            self._mark(node.target, self.computed(node.iter))
            if isinstance(node.target, nodes.Name) and isinstance(node.iter, (
                    nodes.List, nodes.Tuple)) and any(map(_is_string_const, node.iter.items)):
                self.literals.add(node.target.name)
            self._mark_name("loop", False)
        elif isinstance(node, nodes.With):
            for target, value in zip(node.targets, node.values, strict=False):
                self._assign(target, value)
        elif isinstance(node, nodes.Macro):
            self._mark_name(node.name, False)
            tainted = any(self.computed(d) for d in node.defaults) or any(
                self._any_input(c) for c in calls
                if isinstance(c.node, nodes.Name) and c.node.name == node.name)
            for arg in node.args:
                self._mark(arg, tainted)
        elif isinstance(node, nodes.CallBlock):
            for arg in node.args:
                self._mark(arg, True)  # bound by caller(...) inside some macro

    def _assign(self, target: nodes.Node, value: nodes.Node) -> None:
        if (isinstance(target, nodes.Name) and isinstance(value, nodes.Call)
                and isinstance(value.node, nodes.Name) and value.node.name == "namespace"):
            for kw in value.kwargs:
                self._mark_ns(target.name, kw.key, self.computed(kw.value))
            if value.args or value.dyn_args is not None or value.dyn_kwargs is not None:
                self._mark_ns(target.name, _WILDCARD, True)  # a mapping handed in whole
        self._mark(target, self.computed(value))
        if isinstance(target, nodes.Name) and _is_string_const(value):
            self.literals.add(target.name)

    def _mark(self, target: nodes.Node, tainted: bool) -> None:
        if isinstance(target, nodes.Name):
            self._mark_name(target.name, tainted)
        elif isinstance(target, nodes.NSRef):
            self._mark_ns(target.name, target.attr, tainted)
        elif isinstance(target, (nodes.Tuple, nodes.List)):
            for item in target.items:
                self._mark(item, tainted)

    def _mark_name(self, name: str, tainted: bool) -> None:
        self.names[name] = self.names.get(name, False) or tainted

    def _mark_ns(self, name: str, attr: str, tainted: bool) -> None:
        key = (name, attr)
        self.namespaces[key] = self.namespaces.get(key, False) or tainted


def _is_string_const(expr: nodes.Node) -> bool:
    return isinstance(expr, nodes.Const) and isinstance(expr.value, str)
