"""Chat templates (Jinja2) parsed with Jinja2's own parser and checked on the AST.

A chat template is a program that the serving stack renders with the caller's messages
(``transformers``' ``apply_chat_template``, ``llama-cpp-python``, custom servers on a plain
``jinja2.Environment``). Server-side template injection walks from any object to Python's
internals through attribute names: ``''.__class__.__mro__[1].__subclasses__()``,
``cycler.__init__.__globals__.os.popen(...)``, or the same names built at render time
(``x|attr('_'*2 ~ 'class' ~ '_'*2)``, ``x['%c%c' % (95, 95) ~ 'globals' ...]``) so that no
text pattern sees them. Real chat templates never touch an underscored attribute, never
build a name they then look up, never look into Jinja's helper globals and never load other
templates; each of those is HIGH here, and so is a template that Jinja2 cannot parse
(fail closed: what a more tolerant renderer would run is unknown).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.jinja_names import MODEL_TOKENS, NameTaint, is_private

MAX_TEMPLATE_CHARS = 4 << 20
"""Longest template analysed; real chat templates are a few KiB (longer: HIGH, unchecked)."""

# Attribute names that lead from any object to code execution: CRITICAL, not just HIGH.
_ESCAPE_NAMES = frozenset(
    {
        "__globals__",
        "__builtins__",
        "__subclasses__",
        "__import__",
        "__mro__",
        "__base__",
        "__bases__",
        "__code__",
        "__getattribute__",
        "__reduce__",
        "__reduce_ex__",
        "__loader__",
        "func_globals",
        "f_globals",
        "f_builtins",
        "popen",
        "system",
        "eval",
        "exec",
    }
)
# Interpreter internals without a leading underscore (frames, code objects, os access);
# jinja2.sandbox blocks the generator/coroutine ones for the same reason.
_INTERNAL_NAMES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "tb_next",
        "func_globals",
        "func_code",
        "im_func",
        "im_self",
        "mro",
        "popen",
        "subprocess",
        "import_module",
        "check_output",
        "getoutput",
        "os",
        "sys",
        "builtins",
    }
)
# Internal names flagged as string constants anywhere (they reach a lookup through a
# variable, a list, a macro argument...); os and sys are too plausible as plain words.
_CONST_NAMES = _INTERNAL_NAMES - {"os", "sys", "builtins"}
# Helper globals of Jinja2, transformers and Flask: function objects and framework state
# whose attributes are a way into module globals, never chat data.
_HELPER_GLOBALS = frozenset(
    {
        "cycler",
        "joiner",
        "namespace",
        "lipsum",
        "range",
        "dict",
        "self",
        "config",
        "request",
        "session",
        "g",
        "url_for",
        "get_flashed_messages",
        "raise_exception",
        "strftime_now",
    }
)
# Filters that look attributes up by a name given as an argument.
_ATTRIBUTE_ARG = {"selectattr": 0, "rejectattr": 0, "groupby": 0}
_ATTRIBUTE_KWARG = frozenset(
    {"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max", "join", "dictsort"}
)
_FILTER_BY_NAME = frozenset({"map", "select", "reject", "selectattr", "rejectattr"})
_FORMAT_METHODS = frozenset({"format", "format_map"})
# A name-mangled private attribute (_TemplateReference__context): no dunder to see.
_MANGLED = re.compile(r"_[A-Za-z][A-Za-z0-9]*__[A-Za-z0-9_]+")


@dataclass(frozen=True)
class TemplateIssue:
    """One reason a template is unsafe to render."""

    rule_id: str
    """A ``MW-TEMPLATE-*`` rule id."""
    severity: Severity
    """HIGH, or CRITICAL for an attribute that leads straight to code execution."""
    message: str
    """What was found, in the template's terms."""
    line: int | None
    """Template line of the construct (1-based), None when it concerns the whole text."""


class _GenerationTag(Extension):
    """Parses transformers' ``{% generation %}...{% endgeneration %}`` (AssistantTracker)."""

    tags = {"generation"}  # noqa: RUF012 -- the attribute Jinja2's Extension API reads

    def parse(self, parser: Any) -> list[nodes.Node]:
        next(parser.stream)
        body: list[nodes.Node] = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return body


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # The syntax transformers' apply_chat_template accepts: loop controls and {% generation %}.
    # Only ever parses, never renders, so escaping is moot.
    return jinja2.Environment(  # noqa: S701
        extensions=[loopcontrols, _GenerationTag], trim_blocks=True, lstrip_blocks=True
    )


def analyse_template(source: str) -> list[TemplateIssue]:
    """Every template-injection construct in ``source``, or why it could not be checked."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [
            TemplateIssue(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                f"template of {len(source)} characters is longer than the "
                f"{MAX_TEMPLATE_CHARS} the scanner parses; unchecked",
                None,
            )
        ]
    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [
            TemplateIssue(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                f"template does not parse ({exc.message}); what another renderer would run is unchecked",
                exc.lineno,
            )
        ]
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        return [
            TemplateIssue(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                f"template could not be parsed ({type(exc).__name__}); unchecked",
                None,
            )
        ]
    try:
        return _Checker(tree).run()
    except RecursionError:
        return [
            TemplateIssue(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                "template nests too deeply to analyse; unchecked",
                None,
            )
        ]


class _Checker:
    """One walk over a parsed template, collecting issues once per distinct message."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.taint = NameTaint(tree)
        self.issues: dict[tuple[str, str], TemplateIssue] = {}
        self.checked_consts: set[int] = set()
        # {% set r = request %}, {% set r = [request]|first %}: the helper under another name.
        self.helper_aliases = {
            target.name
            for assign in tree.find_all(nodes.Assign)
            for target in [assign.target]
            if isinstance(target, nodes.Name) and self._holds_helper(assign.node)
        }

    def run(self) -> list[TemplateIssue]:
        for node in self.tree.find_all(nodes.Node):
            self._visit(node)
        for const in self.tree.find_all(nodes.Const):
            if id(const) in self.checked_consts or not isinstance(const.value, str):
                continue
            if _has_dunder(const.value):
                self._add(
                    rules.TEMPLATE_PRIVATE,
                    _severity(const.value),
                    const,
                    f"string constant {const.value[:60]!r} names a dunder attribute",
                )
            elif const.value in _CONST_NAMES or _MANGLED.fullmatch(const.value):
                # {% set g = 'gi_frame' %}...x[g]: the name reaches the lookup through a
                # variable (or a list, a dict, a macro argument) that the taint lets through.
                self._add(
                    rules.TEMPLATE_PRIVATE,
                    _severity(const.value),
                    const,
                    f"string constant {const.value!r} names an interpreter-internal attribute",
                )
        return list(self.issues.values())

    def _visit(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Getattr):
            self._name(node.attr, node, "attribute")
            self._helper(node.node, node, f".{node.attr}")
            if node.attr in _FORMAT_METHODS:
                self._format(node.node, node)
        elif isinstance(node, nodes.Getitem):
            if not isinstance(node.arg, nodes.Slice):
                self._key(node.arg, node, "item lookup")
                self._helper(node.node, node, "[...]")
        elif isinstance(node, nodes.Filter):
            self._filter(node)
        elif isinstance(node, nodes.Keyword) and is_private(node.key):
            self._add(
                rules.TEMPLATE_PRIVATE,
                _severity(node.key),
                node,
                f"keyword argument {node.key!r} (builds an underscored name)",
            )
        elif (
            isinstance(node, nodes.Name)
            and node.name.startswith("_")
            and node.ctx == "load"
            and not self.taint.is_bound(node.name)
        ):
            self._add(
                rules.TEMPLATE_PRIVATE,
                _severity(node.name),
                node,
                f"variable {node.name!r} (an interpreter-internal name)",
            )
        elif isinstance(node, (nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
            kind = {
                nodes.Import: "import",
                nodes.FromImport: "from-import",
                nodes.Include: "include",
                nodes.Extends: "extends",
            }[type(node)]
            self._add(
                rules.TEMPLATE_LOAD,
                Severity.HIGH,
                node,
                f"{{% {kind} %}} loads another template through the environment's loader",
            )

    def _filter(self, node: nodes.Filter) -> None:
        if node.name == "attr":
            self._helper(node.node, node, "|attr(...)")
            if node.dyn_args is not None or not node.args:
                self._add(
                    rules.TEMPLATE_COMPUTED, Severity.HIGH, node, "attr filter with a computed attribute name"
                )
                return
            self._key(node.args[0], node, "attr filter", strict=True)
            arg = node.args[0]
            if isinstance(arg, nodes.Const) and arg.value in _FORMAT_METHODS:
                self._add(
                    rules.TEMPLATE_COMPUTED,
                    Severity.HIGH,
                    node,
                    f"attr filter fetches str.{arg.value} (format fields traverse attributes)",
                )
            return
        if node.name in _FILTER_BY_NAME and node.args:
            first = node.args[0]
            if not isinstance(first, nodes.Const):
                self._add(
                    rules.TEMPLATE_COMPUTED,
                    Severity.HIGH,
                    node,
                    f"{node.name} filter with a computed filter or attribute name",
                )
            elif first.value == "attr" and node.name in ("map", "select", "reject"):
                for arg in node.args[1:2]:
                    self._key(arg, node, f"{node.name}('attr', ...)", strict=True)
        if node.name in _ATTRIBUTE_ARG and node.args:
            self._path(node.args[_ATTRIBUTE_ARG[node.name]], node)
        if node.name in _ATTRIBUTE_KWARG:
            for kw in node.kwargs:
                if kw.key == "attribute":
                    self._path(kw.value, node)
            if node.dyn_kwargs is not None:
                self._add(
                    rules.TEMPLATE_COMPUTED,
                    Severity.HIGH,
                    node,
                    f"{node.name} filter with computed keyword arguments",
                )

    def _path(self, expr: nodes.Node, node: nodes.Filter) -> None:
        """A dotted ``attribute=`` path: Jinja looks each part up on the previous one."""
        if not (isinstance(expr, nodes.Const) and isinstance(expr.value, str)):
            self._add(
                rules.TEMPLATE_COMPUTED,
                Severity.HIGH,
                node,
                f"{node.name} filter with a computed attribute path",
            )
            return
        self.checked_consts.add(id(expr))
        for part in expr.value.split("."):
            self._name(part, node, f"{node.name} filter attribute path part")

    def _key(self, expr: nodes.Node, node: nodes.Node, what: str, strict: bool = False) -> None:
        """The name of an item or attribute lookup: a constant, or data, never built."""
        if isinstance(expr, nodes.Const):
            self.checked_consts.add(id(expr))
            if isinstance(expr.value, str):
                self._name(expr.value, node, what)
            return
        if strict or self.taint.computed(expr):
            self._add(
                rules.TEMPLATE_COMPUTED,
                Severity.HIGH,
                node,
                f"{what} by a name the template computes ({_describe(expr)})",
            )

    def _name(self, name: str, node: nodes.Node, what: str) -> None:
        if name.startswith("_") or name in _INTERNAL_NAMES:
            self._add(
                rules.TEMPLATE_PRIVATE, _severity(name), node, f"{what} {name!r} reaches Python internals"
            )

    def _helper(self, base: nodes.Node | None, node: nodes.Node, access: str) -> None:
        if isinstance(base, nodes.Name) and base.name in self.helper_aliases:
            self._add(
                rules.TEMPLATE_GLOBAL,
                Severity.HIGH,
                node,
                f"{base.name}{access}: looks inside a helper global under another name",
            )
            return
        name = self._holds_helper(base)
        if name:
            self._add(
                rules.TEMPLATE_GLOBAL,
                Severity.HIGH,
                node,
                f"{name}{access}: looks inside the helper global {name!r}",
            )

    def _holds_helper(self, expr: nodes.Node | None) -> str | None:
        """The helper global ``expr`` may evaluate to (``request``, ``(request,)|first``,
        ``[config][0]``), None when it only calls one (``range(3)``, ``namespace(a=1).a``)."""
        if expr is None:
            return None
        if isinstance(expr, nodes.Name):
            return expr.name if expr.name in _HELPER_GLOBALS and not self.taint.is_bound(expr.name) else None
        if isinstance(expr, nodes.Call):
            parts = [*expr.args, *(k.value for k in expr.kwargs), expr.dyn_args, expr.dyn_kwargs]
            if not isinstance(expr.node, nodes.Name):
                parts.append(expr.node)
            return next(filter(None, map(self._holds_helper, parts)), None)
        if (
            isinstance(expr, (nodes.Getattr, nodes.Filter))
            and isinstance(expr.node, nodes.Name)
            and (isinstance(expr, nodes.Getattr) or expr.name in ("attr", "map"))
        ):
            return None  # lipsum.x, lipsum|attr(x): an attribute of it, flagged right there
        return next(filter(None, map(self._holds_helper, expr.iter_child_nodes())), None)

    def _format(self, receiver: nodes.Node, node: nodes.Node) -> None:
        """``str.format`` resolves ``{0.attr}`` and ``{0[key]}`` fields itself, unsandboxed."""
        if not (isinstance(receiver, nodes.Const) and isinstance(receiver.value, str)):
            self._add(rules.TEMPLATE_COMPUTED, Severity.HIGH, node, "str.format on a computed format string")
            return
        try:
            fields = [f for _, f, spec, _ in string.Formatter().parse(receiver.value) for f in (f, spec) if f]
        except ValueError:
            fields = [receiver.value]
        if any("." in f or "[" in f or "{" in f for f in fields):
            self._add(
                rules.TEMPLATE_PRIVATE,
                Severity.HIGH,
                node,
                f"format string {receiver.value[:60]!r} traverses attributes or items",
            )

    def _add(self, rule_id: str, severity: Severity, node: nodes.Node, message: str) -> None:
        key = (rule_id, message)
        if key not in self.issues:
            self.issues[key] = TemplateIssue(rule_id, severity, message, node.lineno)


def _has_dunder(text: str) -> bool:
    start = text.find("__")
    while start != -1:
        end = text.find("__", start + 3)
        if end != -1 and text[start + 2 : end].isidentifier():
            return True
        start = text.find("__", start + 2)
    return False


def _severity(name: str) -> Severity:
    return Severity.CRITICAL if name in _ESCAPE_NAMES else Severity.HIGH


def _describe(expr: nodes.Node) -> str:
    if isinstance(expr, nodes.Name) and expr.name in MODEL_TOKENS:
        return f"{expr.name}, a special token the model's own files choose"
    kinds: dict[type[nodes.Node], str] = {
        nodes.Concat: "~ concatenation",
        nodes.Mod: "% formatting",
        nodes.Add: "+ concatenation",
        nodes.Mul: "string repetition",
        nodes.Name: "a variable bound to a built string",
    }
    kind = kinds.get(type(expr))
    if kind:
        return kind
    if isinstance(expr, nodes.Filter):
        return f"|{expr.name} filter"
    if isinstance(expr, nodes.Call):
        return "a call result"
    return type(expr).__name__
