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
_PRESERVING_FILTERS = frozenset(
    {
        "trim",
        "lower",
        "upper",
        "title",
        "capitalize",
        "e",
        "escape",
        "forceescape",
        "safe",
        "striptags",
        "first",
        "last",
        "list",
        "tojson",
        "default",
        "d",
        "items",
        "dictsort",
        "selectattr",
        "rejectattr",
        "select",
        "reject",
        "map",
        "sort",
        "unique",
        "batch",
        "slice",
        "indent",
        "truncate",
        "wordwrap",
        "random",
        "min",
        "max",
        "groupby",
    }
)
_PRESERVING_METHODS = frozenset(
    {
        "strip",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "title",
        "capitalize",
        "casefold",
        "split",
        "rsplit",
        "splitlines",
        "partition",
        "rpartition",
        "get",
        "keys",
        "values",
        "items",
        "startswith",
        "endswith",
        "find",
        "rfind",
        "index",
        "rindex",
        "count",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "isupper",
        "islower",
        "isnumeric",
        "copy",
    }
)
# Filters whose string arguments can end up in the result (``x|default('a_')``,
# ``x|batch(2, 'a_')``, ``x|indent('_', true)``), unlike attribute paths and test names.
_ARG_SOURCE_FILTERS = frozenset({"default", "d", "batch", "slice", "indent", "truncate", "wordwrap"})
# Values the caller hands in that come from the model's own files (tokenizer_config.json,
# GGUF vocabulary), so the template's author chooses them: a lookup by one is a lookup by a
# name the attacker wrote (``x[bos_token]`` with bos_token ``__globals__``).
MODEL_TOKENS = frozenset(
    {
        "bos_token",
        "eos_token",
        "unk_token",
        "pad_token",
        "sep_token",
        "cls_token",
        "mask_token",
        "additional_special_tokens",
    }
)
# Globals whose call result is never a built string.
_INERT_CALLS = frozenset({"range", "raise_exception", "namespace", "cycler", "joiner"})
_NUMERIC_NODES = (
    nodes.Sub,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Pow,
    nodes.Neg,
    nodes.Pos,
    nodes.Not,
    nodes.Compare,
    nodes.Test,
    nodes.Slice,
)
_WILDCARD = "*"
_CONTAINERS = (nodes.List, nodes.Tuple, nodes.Dict)
# Methods that put their arguments into a list, dict or set (plain Jinja2 lets a template
# call them on the caller's messages; transformers' immutable sandbox refuses them).
_MUTATORS = frozenset({"append", "extend", "insert", "update", "setdefault", "add"})


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
        self.lit_names: set[str] = set()
        """Variables whose value may hold a piece of a string constant of the template."""
        self.lit_namespaces: dict[tuple[str, str], bool] = {}
        """The same for ``namespace`` attributes (``*`` for any)."""
        self._container_bound: set[str] = set()
        self._other_bound: set[str] = set()
        self.mutated = (False, False)
        """(literal, computed): some ``x.append(...)`` / ``x.update(...)`` put a piece of a
        constant (or a built string) into a list or dict, so any variable may hold one."""
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
            if self.mutated[1]:
                return True
            if expr.name not in self.names:
                return expr.name in MODEL_TOKENS
            # ns['attr'] reads the namespace's attributes too.
            return self.names[expr.name] or any(
                v for (ns, _), v in self.namespaces.items() if ns == expr.name
            )
        if isinstance(expr, nodes.Getattr):
            if isinstance(expr.node, nodes.Name):
                ns = expr.node.name
                if (ns, expr.attr) in self.namespaces or (ns, _WILDCARD) in self.namespaces:
                    return self.namespaces.get((ns, expr.attr), False) or self.namespaces.get(
                        (ns, _WILDCARD), False
                    )
            return self.computed(expr.node)
        if isinstance(expr, nodes.Getitem):
            # 'a_b_cgdlleofb...'[1::2], 'a_'[1], ('a_'|list)[1], t.k[1]: an index or a slice
            # of something holding a constant picks a name (or an underscore) out of it.
            # An element of a list, tuple or dict literal is that element, nothing more.
            if not self._container(expr.node) and self.literal(expr.node):
                return True
            return self.computed(expr.node) or self.computed(expr.arg)
        if isinstance(expr, nodes.Concat):
            return True
        if isinstance(expr, (nodes.Add, nodes.Mul, nodes.Mod)):
            # str + str, str * n and str % args all build strings; numbers do not.
            # ('a_'|last) + ('a_'|last): pieces cut out of constants are strings too.
            return any(self.computed(e) or self.literal(e) for e in (expr.left, expr.right))
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
            if expr.name not in _PRESERVING_FILTERS or self._any_input(expr):
                return True
            # 'a_'|last, ['x_']|first|list, none|default('a_'): a piece of a constant.
            return self.literal(expr.node) or (
                expr.name in _ARG_SOURCE_FILTERS and self._any_literal_input(expr)
            )
        if isinstance(expr, nodes.Call):
            return self._call_computed(expr)
        return True  # an expression kind this analysis does not model: assume the worst

    def _any_input(self, expr: nodes.Filter | nodes.Call) -> bool:
        if expr.dyn_args is not None or expr.dyn_kwargs is not None:
            return True
        return (
            any(self.computed(a) for a in expr.args)
            # Jinja2 annotates Filter/Test kwargs as Pair, but its parser builds Keyword nodes.
            or any(is_private(k.key) or self.computed(k.value) for k in expr.kwargs)  # type: ignore[arg-type]
            or (isinstance(expr, nodes.Filter) and self.computed(expr.node))
        )

    def _call_computed(self, call: nodes.Call) -> bool:
        callee = call.node
        if isinstance(callee, nodes.Name) and callee.name in _INERT_CALLS and not self.is_bound(callee.name):
            return self._any_input(call)
        if isinstance(callee, nodes.Getattr) and callee.attr in _PRESERVING_METHODS:
            # 'a_b'.split('a'), d.get('k', 'a_'): pieces of constants again.
            return (
                self.computed(callee.node)
                or self._any_input(call)
                or self.literal(callee.node)
                or (callee.attr == "get" and self._any_literal_input(call))
            )
        return True  # format, join, replace, macros, unknown callables

    def literal(self, expr: nodes.Node | None) -> bool:
        """True when ``expr``'s value may hold a piece of one of the template's strings.

        Not a verdict by itself (a constant is checked where it is used as a name), but
        whatever cuts, picks or glues pieces out of such a value builds a string.
        """
        if expr is None or isinstance(expr, _NUMERIC_NODES):
            return False
        if isinstance(expr, nodes.Const):
            return isinstance(expr.value, str)
        if isinstance(expr, nodes.Name):
            return (
                self.mutated[0]
                or expr.name in self.lit_names
                or any(v for (ns, _), v in self.lit_namespaces.items() if ns == expr.name)
            )
        if isinstance(expr, nodes.Getattr):
            if isinstance(expr.node, nodes.Name):
                ns = expr.node.name
                if (ns, expr.attr) in self.lit_namespaces or (ns, _WILDCARD) in self.lit_namespaces:
                    return self.lit_namespaces.get((ns, expr.attr), False) or self.lit_namespaces.get(
                        (ns, _WILDCARD), False
                    )
            return self.literal(expr.node)
        if isinstance(expr, nodes.Getitem):
            return self.literal(expr.node)
        if isinstance(expr, nodes.Filter):
            if expr.name in _NUMERIC_FILTERS:
                return False
            return self.literal(expr.node) or (
                (expr.name not in _PRESERVING_FILTERS or expr.name in _ARG_SOURCE_FILTERS)
                and self._any_literal_input(expr)
            )
        if isinstance(expr, nodes.Call):
            callee = expr.node
            if isinstance(callee, nodes.Getattr):
                return self.literal(callee.node) or self._any_literal_input(expr)
            return self._any_literal_input(expr)
        if isinstance(expr, nodes.CondExpr):
            return self.literal(expr.expr1) or self.literal(expr.expr2)
        return any(self.literal(child) for child in expr.iter_child_nodes())

    def _any_literal_input(self, expr: nodes.Filter | nodes.Call) -> bool:
        return (
            any(self.literal(a) for a in expr.args)
            or any(self.literal(k.value) for k in expr.kwargs)
            or self.literal(expr.dyn_args)
            or self.literal(expr.dyn_kwargs)
        )

    # -- bindings -----------------------------------------------------------------------

    def _bind_to_fixed_point(self) -> None:
        # Taint only ever turns on, so this stops after at most one round per binding.
        bindings = list(
            self.tree.find_all(
                (nodes.Assign, nodes.AssignBlock, nodes.For, nodes.With, nodes.Macro, nodes.CallBlock)
            )
        )
        calls = list(self.tree.find_all(nodes.Call))
        mutators = [c for c in calls if _mutator(c.node)]
        for _ in range(2 * len(bindings) + 2):
            before = (
                dict(self.names),
                dict(self.namespaces),
                set(self.lit_names),
                dict(self.lit_namespaces),
                self.mutated,
            )
            for node in bindings:
                self._bind(node, calls)
            self.mutated = (
                self.mutated[0] or any(map(self._any_literal_input, mutators)),
                self.mutated[1] or any(map(self._any_input, mutators)),
            )
            if before == (self.names, self.namespaces, self.lit_names, self.lit_namespaces, self.mutated):
                return

    def _bind(self, node: nodes.Node, calls: list[nodes.Call]) -> None:
        if isinstance(node, nodes.Assign):
            self._assign(node.target, node.node)
        elif isinstance(node, nodes.AssignBlock):
            self._mark(node.target, True)  # the rendered block is a string the template wrote
            self._other(node.target)
        elif isinstance(node, nodes.For):
            # for c in 'x_': the characters of a constant; for k in ['a', 'b']: the constants.
            literal = self.literal(node.iter)
            self._mark(
                node.target, self.computed(node.iter) or (literal and not self._container(node.iter)), literal
            )
            self._other(node.target)
            self._mark_name("loop", False)
        elif isinstance(node, nodes.With):
            for target, value in zip(node.targets, node.values, strict=False):
                self._assign(target, value)
        elif isinstance(node, nodes.Macro):
            self._mark_name(node.name, False)
            sites = [c for c in calls if isinstance(c.node, nodes.Name) and c.node.name == node.name]
            tainted = any(self.computed(d) for d in node.defaults) or any(self._any_input(c) for c in sites)
            literal = any(self.literal(d) for d in node.defaults) or any(
                self._any_literal_input(c) for c in sites
            )
            for arg in node.args:
                self._mark(arg, tainted, literal)
                self._other(arg)
        elif isinstance(node, nodes.CallBlock):
            for arg in node.args:
                self._mark(arg, True)  # bound by caller(...) inside some macro
                self._other(arg)

    def _assign(self, target: nodes.Node, value: nodes.Node) -> None:
        if (
            isinstance(target, nodes.Name)
            and isinstance(value, nodes.Call)
            and isinstance(value.node, nodes.Name)
            and value.node.name == "namespace"
        ):
            for kw in value.kwargs:
                self._mark_ns(target.name, kw.key, self.computed(kw.value), self.literal(kw.value))
            if value.args or value.dyn_args is not None or value.dyn_kwargs is not None:
                self._mark_ns(target.name, _WILDCARD, True, True)  # a mapping handed in whole
        self._mark(target, self.computed(value), self.literal(value))
        if isinstance(target, nodes.Name) and isinstance(value, _CONTAINERS):
            self._container_bound.add(target.name)
        else:
            self._other(target)

    def _container(self, expr: nodes.Node) -> bool:
        """A list, tuple or dict literal, or a variable only ever bound to one: its items
        (or keys) are the constants written in it, whose taint ``computed`` already has."""
        if self.mutated[0]:
            return False
        return isinstance(expr, _CONTAINERS) or (
            isinstance(expr, nodes.Name)
            and expr.name in self._container_bound
            and expr.name not in self._other_bound
        )

    def _other(self, target: nodes.Node) -> None:
        for name in target.find_all(nodes.Name):
            self._other_bound.add(name.name)
        if isinstance(target, nodes.Name):
            self._other_bound.add(target.name)

    def _mark(self, target: nodes.Node, tainted: bool, literal: bool = False) -> None:
        if isinstance(target, nodes.Name):
            self._mark_name(target.name, tainted)
            if literal:
                self.lit_names.add(target.name)
        elif isinstance(target, nodes.NSRef):
            self._mark_ns(target.name, target.attr, tainted, literal)
        elif isinstance(target, (nodes.Tuple, nodes.List)):
            for item in target.items:
                self._mark(item, tainted, literal)

    def _mark_name(self, name: str, tainted: bool) -> None:
        self.names[name] = self.names.get(name, False) or tainted

    def _mark_ns(self, name: str, attr: str, tainted: bool, literal: bool = False) -> None:
        key = (name, attr)
        self.namespaces[key] = self.namespaces.get(key, False) or tainted
        self.lit_namespaces[key] = self.lit_namespaces.get(key, False) or literal


def _mutator(callee: nodes.Node) -> bool:
    """``x.append``, ``x['update']``, ``x|attr('add')``: a method that stores its arguments."""
    if isinstance(callee, nodes.Getattr):
        return callee.attr in _MUTATORS
    if isinstance(callee, nodes.Getitem):
        return isinstance(callee.arg, nodes.Const) and callee.arg.value in _MUTATORS
    if isinstance(callee, nodes.Filter) and callee.name == "attr" and callee.args:
        return isinstance(callee.args[0], nodes.Const) and callee.args[0].value in _MUTATORS
    return False
