"""Safe evaluation of gate rules such as ``drift.share < 0.3``.

Rules are parsed with :mod:`ast` and interpreted by walking a small, explicit subset of
node types; nothing is ever passed to ``eval``. Allowed: dotted names that look up
stage metrics, numbers, strings, booleans, severity names (``HIGH``), comparisons
(chains too), ``and``/``or``/``not``, unary minus, ``+ - * /``, and one call form:
``metric(field OP value)``, which counts the items of a list metric whose ``field``
satisfies the comparison (``deps.vulnerabilities(severity >= HIGH) == 0``).
A name that no stage produced is an error: a rule that cannot be evaluated fails.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlward.core.errors import ConfigError
from mlward.core.findings import Severity

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "none": None, "None": None}


class RuleError(ConfigError):
    """A rule is malformed or refers to something no stage produced."""


@dataclass(frozen=True)
class Rule:
    """A parsed rule."""

    text: str
    """The rule as written."""
    tree: ast.Expression
    """Its syntax tree (validated)."""

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Parse and validate ``text``; raise ``RuleError`` naming the problem."""
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise RuleError(f"rule {text!r} is not a valid expression: {exc.msg}") from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise RuleError(f"rule {text!r} uses {type(node).__name__}, which rules do not allow")
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                raise RuleError(f"rule {text!r} reads a private attribute ({node.attr})")
        return cls(text, tree)

    def names(self) -> set[str]:
        """Dotted metric names the rule reads."""
        found = set()
        filters = {
            id(arg.left)
            for call in ast.walk(self.tree)
            if isinstance(call, ast.Call)
            for arg in call.args
            if isinstance(arg, ast.Compare)
        }
        for node in ast.walk(self.tree):
            if id(node) in filters:
                continue
            if isinstance(node, ast.Attribute | ast.Name) and not isinstance(
                getattr(node, "ctx", None), ast.Store
            ):
                dotted = _dotted(node)
                if dotted and dotted.split(".")[0] not in _CONSTANTS and dotted not in Severity.__members__:
                    found.add(dotted)
        # Drop prefixes of longer names (``deps`` inside ``deps.vulnerabilities``).
        return {n for n in found if not any(o != n and o.startswith(n + ".") for o in found)}

    def evaluate(self, metrics: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Evaluate against nested ``metrics``; return the verdict and the values it read."""
        seen: dict[str, Any] = {}
        value = _Interpreter(metrics, seen).visit(self.tree.body)
        if not isinstance(value, bool):
            raise RuleError(f"rule {self.text!r} does not evaluate to true or false (got {value!r})")
        return value, seen


_ALLOWED = (
    ast.Expression,
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Name,
    ast.Attribute,
    ast.Load,
    ast.Constant,
    ast.Call,
    ast.List,
    ast.Tuple,
    *_COMPARE,
)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    """Resolve ``a.b.c`` in nested mappings; raise ``RuleError`` if absent."""
    node: Any = metrics
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise RuleError(f"no stage produced {dotted!r}", hint="check the gate's stage and metric name")
    return node


def _normalize(value: Any) -> Any:
    """Severity names compare as severities."""
    if isinstance(value, str) and value.upper() in Severity.__members__:
        return Severity[value.upper()]
    return value


class _Interpreter(ast.NodeVisitor):
    def __init__(self, metrics: Mapping[str, Any], seen: dict[str, Any]) -> None:
        self.metrics = metrics
        self.seen = seen

    def generic_visit(self, node: ast.AST) -> Any:
        raise RuleError(f"unsupported syntax {type(node).__name__}")

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_List(self, node: ast.List | ast.Tuple) -> Any:
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def _name(self, node: ast.AST) -> Any:
        dotted = _dotted(node)
        if dotted is None:
            raise RuleError("only dotted metric names may be used")
        if dotted in _CONSTANTS:
            return _CONSTANTS[dotted]
        if dotted in Severity.__members__:
            return Severity[dotted]
        value = lookup(self.metrics, dotted)
        self.seen[dotted] = value
        return value

    visit_Name = _name
    visit_Attribute = _name

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        return -value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return _BINARY[type(node.op)](self.visit(node.left), self.visit(node.right))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        values = [bool(self.visit(v)) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = _normalize(self.visit(node.left))
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _normalize(self.visit(comparator))
            # "No findings" (None) ranks below every severity.
            if left is None and isinstance(right, Severity):
                left = -1
            if right is None and isinstance(left, Severity):
                right = -1
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError as exc:
                raise RuleError(f"cannot compare {left!r} with {right!r}") from exc
            if not ok:
                return False
            left = right
        return True

    def visit_Call(self, node: ast.Call) -> Any:
        items = self._name(node.func)
        if node.keywords or len(node.args) > 1 or not isinstance(items, list):
            raise RuleError("a call must look like metric(field OP value) on a list metric")
        if not node.args:
            return len(items)
        condition = node.args[0]
        if not (isinstance(condition, ast.Compare) and isinstance(condition.left, ast.Name)):
            raise RuleError("the filter of a list metric must look like field OP value")
        field = condition.left.id
        count = 0
        for item in items:
            if not isinstance(item, Mapping) or field not in item:
                raise RuleError(f"items of {_dotted(node.func)} have no field {field!r}")
            scope = _Interpreter({**self.metrics, field: item[field]}, {})
            if scope.visit_Compare(condition):
                count += 1
        return count
