"""Opcode handlers that import globals and invoke callables (the part of the unpickler
that can run code): GLOBAL, STACK_GLOBAL, EXT*, persistent ids, REDUCE, NEWOBJ(_EX), OBJ,
INST and BUILD. Registered into the table built by ``pickle_ops.build_dispatch``."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.allowlist import GlobalStatus
from mlward.model.scan.pickle_values import PERSISTENT, GlobalRef, Instance, make_tuple

if TYPE_CHECKING:
    from mlward.model.scan.pickle_analyser import PickleAnalyser
    from mlward.model.scan.pickle_ops import Handler

JOBLIB_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _import_name(a: PickleAnalyser, raw: bytes, opcode: str, codec: str = "utf-8") -> str:
    """A GLOBAL (UTF-8) or INST (ASCII) operand. pickle and _pickle decode it strictly and
    raise before importing anything, but where the scanner's reading of the bytes may differ
    from the unpickler's (a framing differential), stopping here would hide what the
    unpickler imports: the stream is flagged HIGH and followed, never broken off."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        if a.strict_names:  # an alternative reading (polyglot): that reading stops here
            from mlward.model.scan.pickle_analyser import Malformed

            raise Malformed(f"{opcode} operand is not {codec}") from None
        a.report(
            rules.PICKLE_MALFORMED,
            Severity.HIGH,
            f"{opcode} operand is not {codec}: unpicklers raise on it, unless their "
            "reading of the bytes differs from this one; followed as written",
            key=f"import-codec@{a.op_at}",
            opcode=opcode,
        )
        return _decode_text(raw)


def register_call_ops(
    a: PickleAnalyser,
    table: list[Handler | None],
    on: Callable[[bytes], Callable[[Handler], Handler]],
    operand: Callable[[int], bytes],
) -> None:
    """Add the import and call opcodes of analyser ``a`` to ``table``."""
    from mlward.model.scan.pickle_analyser import Malformed

    stack = a.stack

    # -- globals ------------------------------------------------------------------------------
    @on(pickle.GLOBAL)
    def _global() -> None:
        module = _import_name(a, a.line(), "GLOBAL")
        name = _import_name(a, a.line(), "GLOBAL")
        stack.append(a.import_global(module, name, "GLOBAL"))

    @on(pickle.STACK_GLOBAL)
    def _stack_global() -> None:
        name = a.pop()
        module = a.pop()
        if isinstance(module, str) and isinstance(name, str):
            stack.append(a.import_global(module, name, "STACK_GLOBAL"))
            if a.memo_budget <= 0:
                a.memo_pin(module, name)
            return
        a.report(
            rules.PICKLE_STACK_GLOBAL_UNRESOLVED,
            Severity.HIGH,
            f"{a.label} imports a global whose name cannot be resolved statically "
            f"(STACK_GLOBAL operands {module!r}, {name!r})",
            key=f"stack-global@{a.op_at}",
            opcode="STACK_GLOBAL",
        )
        stack.append(GlobalRef("?", "?", GlobalStatus.UNKNOWN))

    def ext(n: int) -> None:
        code = int.from_bytes(operand(n), "little")
        a.report(
            rules.PICKLE_EXT,
            Severity.HIGH,
            f"{a.label} loads extension code {code}, whose target depends on the loading "
            "process's copyreg registry",
            key=f"ext:{code}",
            opcode=f"EXT{n}",
        )
        stack.append(GlobalRef("copyreg._extension_registry", str(code), GlobalStatus.UNKNOWN))

    table[pickle.EXT1[0]] = lambda: ext(1)
    table[pickle.EXT2[0]] = lambda: ext(2)
    table[pickle.EXT4[0]] = lambda: ext(4)

    def persistent(pid: Any, opcode: str) -> None:
        if not a.persistent_ok:
            a.report(
                rules.PICKLE_PERSID,
                Severity.LOW,
                f"{a.label} uses persistent ids, which only a custom loader resolves",
                key="persid",
                opcode=opcode,
            )
        stack.append(PERSISTENT)

    table[pickle.PERSID[0]] = lambda: persistent(a.line(), "PERSID")
    table[pickle.BINPERSID[0]] = lambda: persistent(a.pop(), "BINPERSID")

    # -- calls --------------------------------------------------------------------------------
    @on(pickle.REDUCE)
    def _reduce() -> None:
        args = a.pop()
        func = a.pop()
        stack.append(a.check_call(func, args, "REDUCE"))

    @on(pickle.NEWOBJ)
    def _newobj() -> None:
        args = a.pop()
        cls = a.pop()
        stack.append(a.check_call(cls, args, "NEWOBJ"))

    @on(pickle.NEWOBJ_EX)
    def _newobj_ex() -> None:
        a.pop()
        args = a.pop()
        cls = a.pop()
        stack.append(a.check_call(cls, args, "NEWOBJ_EX"))

    @on(pickle.OBJ)
    def _obj() -> None:
        items = a.pop_mark()
        if not items:
            raise Malformed("OBJ without a class")
        stack.append(a.check_call(items[0], make_tuple(items[1:]), "OBJ"))

    @on(pickle.INST)
    def _inst() -> None:
        module = _import_name(a, a.line(), "INST", "ascii")
        name = _import_name(a, a.line(), "INST", "ascii")
        ref = a.import_global(module, name, "INST")
        stack.append(a.check_call(ref, make_tuple(a.pop_mark()), "INST"))

    @on(pickle.BUILD)
    def _build() -> None:
        state = a.pop()
        inst = a.top()
        if isinstance(inst, Instance):
            a.calls += 1
            inst.state = state
            if inst.func_name() in JOBLIB_WRAPPERS:
                from mlward.model.scan.joblib_layout import skip_joblib_array

                skip_joblib_array(a, inst)
        else:
            a.mutate_target(inst, "BUILD")
