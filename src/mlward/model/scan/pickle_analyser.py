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

import struct
from dataclasses import dataclass
from typing import Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan._io import ByteStream
from mlward.model.scan.interface import ScanContext
from mlward.model.scan.pickle_checks import CallChecks
from mlward.model.scan.pickle_framing import FrameChecks
from mlward.model.scan.pickle_ops import OPCODE_NAMES, build_dispatch
from mlward.model.scan.pickle_values import (
    ANY,
    DictValue,
    GlobalRef,
    Instance,
    ListValue,
)

_MEMO_BITMAP_MAX = 1 << 24
_MEMO_KEEP_MAX = 1_000_000
_MEMO_SPARSE_MAX = 1_000_000


# Stack values the memo keeps; anything else is only marked as set.
_KEPT = frozenset({str, GlobalRef, Instance, tuple})
# Operand-less opcodes that push a fresh container or constant.
_SIMPLE_PUSH: dict[int, Any] = {
    0x7D: DictValue, 0x5D: ListValue, 0x8F: ListValue, 0x29: tuple,
    0x4E: lambda: None, 0x88: lambda: True, 0x89: lambda: False,
}


class Malformed(Exception):
    """The stream cannot be followed past this point (the unpickler would raise too)."""


class LimitReached(Malformed):
    """The analyser stops at one of its own bounds where a real unpickler would go on.

    Always HIGH (fail closed): whatever follows the bound is unseen, whether or not
    anything was imported before it.
    """


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
    limit: bool = False
    """True when the analysis stopped at a scanner bound, not at an error of the stream."""


class PickleAnalyser(CallChecks, FrameChecks):
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
        depth: int = 0,
    ) -> None:
        self.bs = bs
        self.ctx = ctx
        self.member = member
        self.persistent_ok = persistent_ok
        self.report_malformed = report_malformed
        self.label = label
        self.depth = depth
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
        self.last_op = -1
        self.frame_end = -1
        """Absolute offset where the current FRAME ends; -1 outside frames."""

    # -- running -----------------------------------------------------------------------

    def run(self) -> PickleOutcome:
        """Follow opcodes until STOP or until the stream cannot be followed."""
        bs = self.bs
        start = bs.tell()
        dispatch = build_dispatch(self)
        error: str | None = None
        value: Any = ANY
        complete = False
        limit = False
        try:
            value, complete = self._follow(dispatch)
        except Malformed as exc:
            op = self.last_op
            self.op_name = OPCODE_NAMES.get(op, f"0x{op:02x}") if op >= 0 else ""
            error = f"{exc} at {self.op_name}" if self.op_name else str(exc)
            limit = isinstance(exc, LimitReached)
            if self.report_malformed:
                self.report_break(error, limit=limit)
        except RecursionError:  # pragma: no cover - nested joblib streams only
            error, limit = "nesting too deep to follow", True
            if self.report_malformed:
                self.report_break(error, limit=True)
        return PickleOutcome(
            start=start,
            end=bs.tell(),
            complete=complete,
            value=value,
            calls=self.calls,
            globals_seen=tuple(self.globals_seen),
            error=error,
            limit=limit,
        )

    def _follow(self, dispatch: list[Any]) -> tuple[Any, bool]:
        """The opcode loop: the commonest opcodes inline on the buffer, the rest by table.

        Opcode-dense pickles are tens of millions of MEMOIZE/BINGET/BININT1/short-string
        opcodes, so these avoid a function call each; anything that would cross the end
        of the buffer takes the general path, which refills it.
        """
        bs = self.bs
        stack = self.stack
        push = stack.append
        memo = self.memo
        bits = self.memo_bits
        buf, pos = bs.buf, bs.pos
        end = self._buffer_end()
        while True:
            if pos + 2 < end:
                op = buf[pos]
                if op == 0x94:  # MEMOIZE
                    if len(stack) <= self.fence:
                        self.last_op, bs.pos, self.op_at = op, pos, bs.base + pos
                        raise Malformed("stack underflow")
                    key = self.memo_len
                    value = stack[-1]
                    if key < len(bits) and not bits[key] and value.__class__ not in _KEPT:
                        bits[key] = 1
                        self.memo_len = key + 1
                    else:
                        self.memo_put(key, value)
                        bits = self.memo_bits
                    pos += 1
                    continue
                if op == 0x68:  # BINGET
                    key = buf[pos + 1]
                    got = memo.get(key)
                    if got is None:
                        if not (key < len(bits) and bits[key]):
                            self.last_op, bs.pos, self.op_at = op, pos + 2, bs.base + pos
                            raise Malformed(f"memo key {key} was never set")
                        got = ANY
                    push(got)
                    pos += 2
                    continue
                if op == 0x4B:  # BININT1
                    push(buf[pos + 1])
                    pos += 2
                    continue
                if op == 0x8C:  # SHORT_BINUNICODE
                    n = buf[pos + 1]
                    if pos + 2 + n <= end:
                        push(buf[pos + 2 : pos + 2 + n].decode("utf-8", "surrogateescape"))
                        pos += 2 + n
                        continue
                elif op == 0x4D:  # BININT2
                    push(buf[pos + 1] | buf[pos + 2] << 8)
                    pos += 3
                    continue
                elif op == 0x4A and pos + 5 <= end:  # BININT
                    push(int.from_bytes(buf[pos + 1 : pos + 5], "little", signed=True))
                    pos += 5
                    continue
                elif op == 0x47 and pos + 9 <= end:  # BINFLOAT: the value is never needed
                    push(ANY)
                    pos += 9
                    continue
                elif op == 0x86 and len(stack) >= self.fence + 2:  # TUPLE2
                    second = stack.pop()
                    stack[-1] = (stack[-1], second)
                    pos += 1
                    continue
                elif op == 0x28:  # MARK
                    self.fence = len(stack)
                    self.marks.append(self.fence)
                    pos += 1
                    continue
                elif op in _SIMPLE_PUSH:
                    push(_SIMPLE_PUSH[op]())
                    pos += 1
                    continue
            elif pos >= end:
                if 0 <= self.frame_end <= bs.base + pos:
                    self.frame_end = -1  # the frame ended on an opcode boundary
                    end = len(buf)
                    continue
                bs.pos = pos
                self.op_at = bs.base + pos
                if not bs.fill(1):
                    raise Malformed("stream ends before STOP (truncated pickle)")
                buf, pos = bs.buf, bs.pos
                end = self._buffer_end()
                continue
            # General path: the table handler reads operands through ``bs``.
            op = buf[pos]
            self.last_op = op
            self.op_at = bs.base + pos
            bs.pos = pos + 1
            handler = dispatch[op]
            if handler is None:
                raise Malformed(f"unknown opcode 0x{op:02x}")
            if handler():
                return (stack.pop() if len(stack) > self.fence else ANY), True
            buf, pos = bs.buf, bs.pos
            if 0 <= self.frame_end <= bs.base + pos:
                if self.op_at < self.frame_end < bs.base + pos:
                    self.report_framing(f"{OPCODE_NAMES.get(op, hex(op))} straddles the "
                                        "end of its FRAME")
                self.frame_end = -1
            end = self._buffer_end()
            bits = self.memo_bits

    def report_break(self, error: str, *, limit: bool = False) -> None:
        """Report where the stream broke: HIGH once something was imported or called.

        A scanner bound (``limit``) is HIGH whatever came before: the loader goes on
        reading where the analyser stopped.
        """
        ran = bool(self.calls or self.globals_seen)
        if limit:
            message = (f"{self.label} not analysed past a scanner limit: {error}; "
                       "a loader reads on, so what follows is unchecked (fail closed)")
        else:
            message = f"malformed {self.label}: {error}" + (
                "; the payload before the break runs when it is loaded" if ran else "")
        self.report(
            rules.PICKLE_MALFORMED,
            Severity.HIGH if ran or limit else Severity.MEDIUM,
            message,
            key=error,
            offset=self.op_at,
            limit=limit,
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
        bits = self.memo_bits
        if key < len(bits):
            if not bits[key]:
                bits[key] = 1
                self.memo_len += 1
        elif key < _MEMO_BITMAP_MAX:
            bits.extend(bytes(max(key + 1 - len(bits), len(bits), 4096)))
            bits[key] = 1
            self.memo_len += 1
        elif key not in self.memo_sparse:
            if len(self.memo_sparse) >= _MEMO_SPARSE_MAX:
                raise LimitReached(f"memo has more than {_MEMO_SPARSE_MAX} sparse keys")
            self.memo_sparse.add(key)
            self.memo_len += 1
        if value.__class__ in _KEPT and (
            len(self.memo) < _MEMO_KEEP_MAX or isinstance(value, GlobalRef | str)
        ):
            self.memo[key] = value
        elif self.memo:
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
            if self.bs.size - self.bs.tell() > self.max_line:
                raise LimitReached(f"text operand longer than {self.max_line} bytes")
            raise Malformed("unterminated text operand")
        return data

    def uint(self, n: int) -> int:
        """Read a little-endian unsigned operand of ``n`` bytes."""
        return int.from_bytes(self.read(n), "little")

    def int4(self) -> int:
        """Read a signed 4-byte operand."""
        return int(struct.unpack("<i", self.read(4))[0])
