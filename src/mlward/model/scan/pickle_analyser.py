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
from mlward.model.scan.pickle_embedded import MIN_TEXT
from mlward.model.scan.pickle_framing import FrameChecks
from mlward.model.scan.pickle_memo import KEPT, MemoTable, must_keep
from mlward.model.scan.pickle_ops import OPCODE_NAMES, build_dispatch
from mlward.model.scan.pickle_values import ANY, LIST, DictValue

# Bounds on what one stream may make the analyser hold (each a HIGH limit finding).
_STACK_MAX = 1 << 22
_MARKS_MAX = 1 << 18
_FINDINGS_MAX = 1000
# The top of the stack keeps its values; deeper ones become ANY (see ``check_stack``).
_STACK_KEEP = 256

# Operand-less opcodes that push a fresh container or constant.
_SIMPLE_PUSH: dict[int, Any] = {
    0x7D: DictValue,
    0x5D: lambda: LIST,
    0x8F: lambda: LIST,
    0x29: tuple,
    0x4E: lambda: None,
    0x88: lambda: True,
    0x89: lambda: False,
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


class PickleAnalyser(CallChecks, FrameChecks, MemoTable):
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
        self.compacted = 0
        """Stack positions below this hold only ANY and values ``must_keep`` keeps."""
        self._init_memo()
        self.proto = 0
        self.calls = 0
        self.op_at = 0
        self.op_name = ""
        self.globals_seen: dict[str, None] = {}
        self.global_refs: dict[tuple[str, str, int], Any] = {}
        self._reported: dict[tuple[str, str], dict[str, Any]] = {}
        self._suppressed: dict[str, Any] | None = None
        self.max_line = ctx.limits.max_line
        self.last_op = -1
        self.frame_end = -1
        """Absolute offset where the current FRAME ends; -1 outside frames."""
        self.embedded: list[tuple[int, Any]] = []
        """(opcode offset, BytesRef or text) constants that may hold another pickle."""
        self.consumed: set[Any] = set()
        """Offsets of bytes and texts an in-stream loader deserializes (scanned already)."""

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
        if self.embedded and not self.strict_names:
            from mlward.model.scan.pickle_embedded import scan_dormant

            scan_dormant(self)
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
                    if key < len(bits) and not bits[key] and value.__class__ not in KEPT:
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
                        self.last_op, bs.pos, self.op_at = op, pos + 2, bs.base + pos
                        got = self.memo_recall(key)
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
                        text = buf[pos + 2 : pos + 2 + n].decode("utf-8", "surrogateescape")
                        if n >= MIN_TEXT and text[:2] in ("80", "gA"):
                            self.embedded.append((bs.base + pos, text))  # hex/base64 pickle?
                        push(text)
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
                if len(stack) > self.compacted + 2 * _STACK_KEEP or len(self.marks) > 64:
                    self.last_op, bs.pos, self.op_at = -1, pos, bs.base + pos
                    self.check_stack()
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
            # General path: the table handler reads operands through ``bs``. The stack is
            # bounded here and at frame ends and refills (inline opcodes never cross them).
            op = buf[pos]
            self.last_op = op
            self.op_at = bs.base + pos
            bs.pos = pos + 1
            if len(stack) > self.compacted + 2 * _STACK_KEEP or len(self.marks) > 64:
                self.check_stack()
            handler = dispatch[op]
            if handler is None:
                raise Malformed(f"unknown opcode 0x{op:02x}")
            if handler():
                return (stack.pop() if len(stack) > self.fence else ANY), True
            buf, pos = bs.buf, bs.pos
            if 0 <= self.frame_end <= bs.base + pos:
                if self.op_at < self.frame_end < bs.base + pos:
                    self.report_framing(f"{OPCODE_NAMES.get(op, hex(op))} straddles the end of its FRAME")
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
            message = (
                f"{self.label} not analysed past a scanner limit: {error}; "
                "a loader reads on, so what follows is unchecked (fail closed)"
            )
        else:
            message = f"malformed {self.label}: {error}" + (
                "; the payload before the break runs when it is loaded" if ran else ""
            )
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
        if len(self._reported) >= _FINDINGS_MAX:
            self._count_suppressed()
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

    def _count_suppressed(self) -> None:
        """Past ``_FINDINGS_MAX`` distinct findings, one HIGH marker counts the rest: a
        stream of millions of call sites must not cost a finding each."""
        if self._suppressed is None:
            self.ctx.add(
                rules.PICKLE_MALFORMED,
                Severity.HIGH,
                f"{self.label} has more than {_FINDINGS_MAX} distinct findings; the rest are "
                "counted, not listed (fail closed)",
                member=self.member,
                offset=self.op_at,
                detail=self.op_name,
                limit=True,
                suppressed=0,
            )
            self._suppressed = self.ctx.findings[-1].properties
        self._suppressed["suppressed"] += 1

    # -- stack primitives -------------------------------------------------------

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

    def check_stack(self) -> None:
        """Bound what the stack holds; called at frame ends and buffer refills.

        Depth beyond ``_STACK_MAX`` items or ``_MARKS_MAX`` marks is a scanner limit.
        Values deeper than the top ``_STACK_KEEP`` become ANY (except what ``must_keep``
        keeps): a container of more than ``MAX_ITEMS`` items forgets them anyway, and a
        value popped back from that deep is only ever treated as unknown (fail closed).
        """
        stack = self.stack
        if len(stack) > _STACK_MAX:
            raise LimitReached(f"stack deeper than {_STACK_MAX} items")
        if len(self.marks) > _MARKS_MAX:
            raise LimitReached(f"more than {_MARKS_MAX} nested MARKs")
        done = min(self.compacted, len(stack))
        top = len(stack) - _STACK_KEEP
        if top - done >= _STACK_KEEP:
            stack[done:top] = [v if must_keep(v) else ANY for v in stack[done:top]]
            done = top
        self.compacted = done

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
