"""Static analysis of pickle streams: a model of the unpickler that never unpickles.

Why hand-written: ``pickletools.genops`` raises on the first bad byte without telling what
came before, and denylist scanners built on it (picklescan, modelscan) or on a decompiler
(fickling) are bypassed by globals they do not list, by STACK_GLOBAL operands built from
the memo, and by streams that break after the payload ran. This analyser follows
CPython's ``_pickle.c`` ``load_*`` functions: the same stack with a mark "fence", the same
memo (MEMOIZE numbers entries by the memo's size), protocol switches anywhere, Python 2
name mapping below protocol 3, dotted names resolved by attribute traversal. It classifies
every imported global against the allowlist and checks every call site, and turns
anything it cannot follow (unknown opcode, truncation, underflow, a missing memo key)
into a finding while keeping what it found before the break.
"""

from __future__ import annotations

import builtins
import struct
from dataclasses import dataclass
from typing import Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan._io import ByteStream
from mlward.model.scan.allowlist import GlobalStatus
from mlward.model.scan.interface import ScanContext
from mlward.model.scan.pickle_ops import OPCODE_NAMES, build_dispatch
from mlward.model.scan.pickle_values import (
    ANY,
    GlobalRef,
    Instance,
    worth_memoizing,
)

_MEMO_BITMAP_MAX = 1 << 24
# Allowlisted functions that return a type looked up by name in these modules.
TYPE_RESOLVERS: dict[str, tuple[str, ...]] = {
    "dill._dill._load_type": ("builtins", "types"),
    "cloudpickle.cloudpickle._builtin_type": ("types",),
}
_MEMO_KEEP_MAX = 1_000_000
_MEMO_SPARSE_MAX = 1_000_000


class Malformed(Exception):
    """The stream cannot be followed past this point (the unpickler would raise too)."""


@dataclass(frozen=True)
class PickleOutcome:
    """How the analysis of one pickle stream ended."""

    start: int
    """Offset where the stream started."""
    end: int
    """Offset just after STOP, or where the analysis broke off."""
    complete: bool
    """True when STOP was reached."""
    value: Any
    """The unpickled value as modelled (a small scalar, tuple, GlobalRef, Instance or ANY)."""
    calls: int
    """Number of call sites seen (REDUCE, NEWOBJ, OBJ, INST, BUILD)."""
    globals_seen: tuple[str, ...]
    """Every distinct global imported, in order."""
    error: str | None = None
    """Why the stream broke, when it did."""


class PickleAnalyser:
    """Analyses one pickle stream from the current position of a ``ByteStream``."""

    def __init__(
        self,
        bs: ByteStream,
        ctx: ScanContext,
        member: str | None,
        *,
        persistent_ok: bool = False,
        report_malformed: bool = True,
        label: str = "pickle",
    ) -> None:
        self.bs = bs
        self.ctx = ctx
        self.member = member
        self.persistent_ok = persistent_ok
        self.report_malformed = report_malformed
        self.label = label
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.fence = 0
        self.memo: dict[int, Any] = {}
        self.memo_bits = bytearray()
        self.memo_sparse: set[int] = set()
        self.memo_len = 0
        self.proto = 0
        self.calls = 0
        self.op_at = 0
        self.op_name = ""
        self.globals_seen: dict[str, None] = {}
        self._reported: dict[tuple[str, str], dict[str, Any]] = {}
        self.max_line = ctx.limits.max_line

    # -- running -----------------------------------------------------------------------

    def run(self) -> PickleOutcome:
        """Follow opcodes until STOP or until the stream cannot be followed."""
        bs = self.bs
        start = bs.tell()
        dispatch = build_dispatch(self)
        error: str | None = None
        value: Any = ANY
        complete = False
        op = -1
        try:
            while True:
                self.op_at = bs.base + bs.pos
                if bs.pos >= len(bs.buf) and not bs.fill(1):
                    raise Malformed("stream ends before STOP (truncated pickle)")
                op = bs.buf[bs.pos]
                bs.pos += 1
                handler = dispatch[op]
                if handler is None:
                    raise Malformed(f"unknown opcode 0x{op:02x}")
                if handler():
                    value = self.stack.pop() if len(self.stack) > self.fence else ANY
                    complete = True
                    break
        except Malformed as exc:
            self.op_name = OPCODE_NAMES.get(op, f"0x{op:02x}") if op >= 0 else ""
            error = f"{exc} at {self.op_name}" if self.op_name else str(exc)
            if self.report_malformed:
                self.report_break(error)
        except RecursionError:  # pragma: no cover - nested joblib streams only
            error = "nesting too deep"
        return PickleOutcome(
            start=start,
            end=bs.tell(),
            complete=complete,
            value=value,
            calls=self.calls,
            globals_seen=tuple(self.globals_seen),
            error=error,
        )

    def report_break(self, error: str) -> None:
        """Report where the stream broke: HIGH once something was imported or called."""
        ran = bool(self.calls or self.globals_seen)
        self.report(
            rules.PICKLE_MALFORMED,
            Severity.HIGH if ran else Severity.MEDIUM,
            f"malformed {self.label}: {error}"
            + ("; the payload before the break runs when it is loaded" if ran else ""),
            key=error,
            offset=self.op_at,
        )

    # -- findings ----------------------------------------------------------------------

    def report(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        *,
        key: str,
        offset: int | None = None,
        opcode: str | None = None,
        **props: Any,
    ) -> None:
        """Add a finding once per (rule, key) and stream; later hits only count."""
        seen = self._reported.get((rule_id, key))
        if seen is not None:
            seen["occurrences"] = seen.get("occurrences", 1) + 1
            return
        self.ctx.add(
            rule_id,
            severity,
            message,
            member=self.member,
            offset=self.op_at if offset is None else offset,
            detail=opcode or self.op_name,
            **props,
        )
        self._reported[(rule_id, key)] = self.ctx.findings[-1].properties

    # -- stack and memo primitives -------------------------------------------------------

    def pop(self) -> Any:
        """Pop one value, failing like the unpickler below the current mark."""
        if len(self.stack) <= self.fence:
            raise Malformed("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        """The top value, failing on an empty frame."""
        if len(self.stack) <= self.fence:
            raise Malformed("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        """Pop everything above the last MARK."""
        if not self.marks:
            raise Malformed("MARK expected but not found")
        mark = self.marks.pop()
        items = self.stack[mark:]
        del self.stack[mark:]
        self.fence = self.marks[-1] if self.marks else 0
        return items

    def push_mark(self) -> None:
        """MARK: remember where the current frame starts."""
        self.fence = len(self.stack)
        self.marks.append(self.fence)

    def memo_put(self, key: int, value: Any) -> None:
        """Store ``value`` under ``key`` (keeping only values later opcodes may need)."""
        if not self.memo_has(key):
            self.memo_len += 1
            if key < _MEMO_BITMAP_MAX:
                if key >= len(self.memo_bits):
                    self.memo_bits.extend(bytes(max(key + 1 - len(self.memo_bits), 4096)))
                self.memo_bits[key] = 1
            else:
                if len(self.memo_sparse) >= _MEMO_SPARSE_MAX:
                    raise Malformed("memo too large to follow")
                self.memo_sparse.add(key)
        if worth_memoizing(value) and (
            len(self.memo) < _MEMO_KEEP_MAX or isinstance(value, GlobalRef | str)
        ):
            self.memo[key] = value
        else:
            self.memo.pop(key, None)

    def memo_has(self, key: int) -> bool:
        """True when ``key`` was set."""
        if key < _MEMO_BITMAP_MAX:
            return key < len(self.memo_bits) and self.memo_bits[key] == 1
        return key in self.memo_sparse

    def memo_get(self, key: int) -> Any:
        """The value stored under ``key`` (ANY when it was not kept)."""
        if not self.memo_has(key):
            raise Malformed(f"memo key {key} was never set")
        return self.memo.get(key, ANY)

    # -- globals and calls --------------------------------------------------------------

    def import_global(self, module: str, name: str, opcode: str) -> GlobalRef:
        """Classify an import and report it unless it is allowlisted."""
        allowlist = self.ctx.allowlist
        status = allowlist.classify(module, name, self.proto)
        ref = GlobalRef(module, name, status)
        ref.full = allowlist.effective_name(module, name, self.proto)
        self.globals_seen[ref.full] = None
        if status is GlobalStatus.CRITICAL:
            self.report(
                rules.PICKLE_GLOBAL_CRITICAL,
                Severity.CRITICAL,
                f"{self.label} imports {ref.full}, which can execute code or reach the system",
                key=ref.full,
                opcode=opcode,
                **{"global": ref.full},
            )
        elif status is GlobalStatus.UNKNOWN:
            self.report(
                rules.PICKLE_GLOBAL_UNKNOWN,
                Severity.HIGH,
                f"{self.label} imports {ref.full}, which is not on the allowlist: "
                "unknown callable, review before loading",
                key=ref.full,
                opcode=opcode,
                **{"global": ref.full},
            )
        return ref

    def check_call(self, func: Any, args: Any, opcode: str) -> Any:
        """Check one call site and return the modelled result."""
        self.calls += 1
        if isinstance(func, GlobalRef):
            if func.status is GlobalStatus.SAFE:
                resolver = TYPE_RESOLVERS.get(func.full)
                if resolver is not None:
                    return self._resolve_type(resolver, args, opcode)
                entry = self.ctx.allowlist.entry(func.full)
                if entry is not None and entry.callable_args:
                    self._check_callable_args(func, args, entry.callable_args, opcode)
        else:
            what = type(func).__name__ if func is not ANY else "an untracked value"
            self.report(
                rules.PICKLE_CALL_UNRESOLVED,
                Severity.HIGH,
                f"{self.label} calls {what} that is not an allowlisted global ({opcode})",
                key=f"{opcode}@{self.op_at}",
                opcode=opcode,
            )
        return Instance(func, args)

    def _resolve_type(self, modules: tuple[str, ...], args: Any, opcode: str) -> Any:
        """dill/cloudpickle look types up by name: the result is that type, as a global."""
        name = args[0] if isinstance(args, tuple) and len(args) == 1 else None
        if not isinstance(name, str):
            self.report(rules.PICKLE_STACK_GLOBAL_UNRESOLVED, Severity.HIGH,
                        f"{self.label} looks up a type whose name cannot be resolved statically",
                        key=f"type@{self.op_at}", opcode=opcode)
            return GlobalRef("?", "?", GlobalStatus.UNKNOWN)
        module = modules[-1]
        for candidate in modules:
            if candidate == "builtins" and isinstance(getattr(builtins, name, None), type):
                module = candidate
                break
        return self.import_global(module, name, opcode)

    def _check_callable_args(
        self, func: GlobalRef, args: Any, positions: tuple[int, ...], opcode: str
    ) -> None:
        for pos in positions:
            arg = args[pos] if isinstance(args, tuple) and pos < len(args) else None
            if isinstance(arg, GlobalRef):
                continue  # its import was classified (and reported) when it was pushed
            self.report(
                rules.PICKLE_HIGHER_ORDER,
                Severity.HIGH,
                f"{func.full} receives argument {pos} that is not an allowlisted global; "
                "it would be called or instantiated",
                key=f"{func.full}@{self.op_at}",
                opcode=opcode,
                **{"global": func.full},
            )

    def mutate_target(self, target: Any, opcode: str) -> None:
        """BUILD/SETITEM/APPEND on an imported global changes process-wide state."""
        if isinstance(target, GlobalRef):
            self.report(
                rules.PICKLE_MUTATES_GLOBAL,
                Severity.HIGH,
                f"{self.label} mutates the imported global {target.full} ({opcode})",
                key=f"{target.full}:{opcode}",
                opcode=opcode,
                **{"global": target.full},
            )

    def read(self, n: int) -> bytes:
        """Read an operand of ``n`` bytes or fail as truncated."""
        data = self.bs.read(n)
        if data is None:
            raise Malformed("truncated operand")
        return data

    def skip(self, n: int) -> None:
        """Skip a payload of ``n`` bytes or fail as truncated."""
        if n < 0 or not self.bs.skip(n):
            raise Malformed("truncated payload")

    def line(self) -> bytes:
        """Read a newline-terminated operand."""
        data = self.bs.readline(self.max_line)
        if data is None:
            raise Malformed("unterminated text operand")
        return data

    def uint(self, n: int) -> int:
        """Read a little-endian unsigned operand of ``n`` bytes."""
        return int.from_bytes(self.read(n), "little")

    def int4(self) -> int:
        """Read a signed 4-byte operand."""
        return int(struct.unpack("<i", self.read(4))[0])
