"""Opcode handlers of the pickle analyser, one closure per opcode (indexed by byte).

Each handler mirrors the ``load_*`` function of CPython's ``_pickle.c`` with the same name,
but pushes compact stand-ins (``pickle_values``) instead of real objects, and skips big
string/bytes payloads by seeking. A handler returns True only for STOP.
"""

from __future__ import annotations

import codecs
import pickle
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlward.model.scan.pickle_embedded import MIN_TEXT
from mlward.model.scan.pickle_values import (
    ANY,
    LIST,
    LONG_STR,
    MAX_STR,
    BytesRef,
    DictValue,
    ListValue,
    make_tuple,
)

if TYPE_CHECKING:
    from mlward.model.scan.pickle_analyser import PickleAnalyser

Handler = Callable[[], bool | None]

OPCODE_NAMES: dict[int, str] = {
    op.code.encode("latin-1")[0]: op.name for op in __import__("pickletools").opcodes
}


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def build_dispatch(a: PickleAnalyser) -> list[Handler | None]:
    """Return the 256-entry handler table bound to analyser ``a``."""
    from mlward.model.scan.pickle_analyser import Malformed
    from mlward.model.scan.pickle_calls import register_call_ops

    bs = a.bs
    stack = a.stack
    table: list[Handler | None] = [None] * 256

    def on(code: bytes) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            table[code[0]] = fn
            return fn

        return register

    def operand(n: int) -> bytes:
        p = bs.pos
        if p + n > len(bs.buf) and not bs.fill(n):
            raise Malformed("truncated operand")
        p = bs.pos
        bs.pos = p + n
        return bs.buf[p : p + n]

    def push_text(n: int, as_bytes: bool = False) -> None:
        if n < 0:
            raise Malformed("negative length")
        if as_bytes:
            # Kept by position: torch.storage._load_from_bytes payloads are scanned later.
            where = bs.tell()
            a.skip(n)
            ref = BytesRef(where, n)
            a.embedded.append((a.op_at, ref))
            stack.append(ref)
            return
        if n > MAX_STR:
            a.skip(n)
            stack.append(LONG_STR)
            return
        push_str(_decode_text(operand(n)))

    def push_str(text: str) -> None:
        if len(text) >= MIN_TEXT and text[:2] in ("80", "gA"):
            a.embedded.append((a.op_at, text))  # maybe a hex or base64 pickle
        stack.append(text)

    # -- markers, stack, protocol -------------------------------------------------------
    @on(pickle.MARK)
    def _mark() -> None:
        a.push_mark()

    @on(pickle.STOP)
    def _stop() -> bool:
        return True

    @on(pickle.POP)
    def _pop() -> None:
        if a.marks and a.marks[-1] == len(stack):
            a.pop_mark()
        else:
            a.pop()

    @on(pickle.POP_MARK)
    def _pop_mark() -> None:
        a.pop_mark()

    @on(pickle.DUP)
    def _dup() -> None:
        stack.append(a.top())

    @on(pickle.PROTO)
    def _proto() -> None:
        proto = operand(1)[0]
        if proto > pickle.HIGHEST_PROTOCOL:
            raise Malformed(f"unsupported pickle protocol {proto}")
        a.proto = proto

    @on(pickle.FRAME)
    def _frame() -> None:
        a.start_frame(int.from_bytes(operand(8), "little"))

    # -- scalars --------------------------------------------------------------------------
    @on(pickle.NONE)
    def _none() -> None:
        stack.append(None)

    @on(pickle.NEWTRUE)
    def _true() -> None:
        stack.append(True)

    @on(pickle.NEWFALSE)
    def _false() -> None:
        stack.append(False)

    @on(pickle.BININT1)
    def _binint1() -> None:
        if bs.pos >= len(bs.buf) and not bs.fill(1):
            raise Malformed("truncated operand")
        stack.append(bs.buf[bs.pos])
        bs.pos += 1

    @on(pickle.BININT2)
    def _binint2() -> None:
        stack.append(int.from_bytes(operand(2), "little"))

    @on(pickle.BININT)
    def _binint() -> None:
        stack.append(int.from_bytes(operand(4), "little", signed=True))

    @on(pickle.INT)
    def _int() -> None:
        line = a.line()
        if line in (b"00", b"01"):
            stack.append(line == b"01")
            return
        try:
            stack.append(int(line))
        except ValueError:
            raise Malformed("invalid INT literal") from None

    @on(pickle.LONG)
    def _long() -> None:
        line = a.line().rstrip(b"L")
        try:
            stack.append(int(line) if len(line) < 64 else ANY)
        except ValueError:
            raise Malformed("invalid LONG literal") from None

    @on(pickle.LONG1)
    def _long1() -> None:
        n = operand(1)[0]
        stack.append(int.from_bytes(operand(n), "little", signed=True))

    @on(pickle.LONG4)
    def _long4() -> None:
        n = int.from_bytes(operand(4), "little", signed=True)
        if n < 0:
            raise Malformed("LONG pickle has negative byte count")
        if n > 64:
            a.skip(n)
            stack.append(ANY)
        else:
            stack.append(int.from_bytes(operand(n), "little", signed=True))

    @on(pickle.FLOAT)
    def _float() -> None:
        a.line()
        stack.append(ANY)

    @on(pickle.BINFLOAT)
    def _binfloat() -> None:
        stack.append(struct.unpack(">d", operand(8))[0])

    # -- strings and bytes ----------------------------------------------------------------
    @on(pickle.STRING)
    def _string() -> None:
        line = a.line()
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise Malformed("the STRING opcode argument must be quoted")
        try:
            stack.append(codecs.escape_decode(line[1:-1])[0].decode("latin-1"))
        except ValueError:
            raise Malformed("invalid STRING escape") from None

    @on(pickle.BINSTRING)
    def _binstring() -> None:
        push_text(int.from_bytes(operand(4), "little", signed=True))

    @on(pickle.SHORT_BINSTRING)
    def _short_binstring() -> None:
        push_text(operand(1)[0])

    @on(pickle.UNICODE)
    def _unicode() -> None:
        line = a.line()
        stack.append(line.decode("raw-unicode-escape") if len(line) <= MAX_STR else LONG_STR)

    @on(pickle.BINUNICODE)
    def _binunicode() -> None:
        push_text(int.from_bytes(operand(4), "little"))

    @on(pickle.SHORT_BINUNICODE)
    def _short_binunicode() -> None:
        if bs.pos >= len(bs.buf) and not bs.fill(1):
            raise Malformed("truncated operand")
        n = bs.buf[bs.pos]
        bs.pos += 1
        push_str(_decode_text(operand(n)))

    @on(pickle.BINUNICODE8)
    def _binunicode8() -> None:
        push_text(int.from_bytes(operand(8), "little"))

    @on(pickle.BINBYTES)
    def _binbytes() -> None:
        push_text(int.from_bytes(operand(4), "little"), as_bytes=True)

    @on(pickle.SHORT_BINBYTES)
    def _short_binbytes() -> None:
        push_text(operand(1)[0], as_bytes=True)

    @on(pickle.BINBYTES8)
    def _binbytes8() -> None:
        push_text(int.from_bytes(operand(8), "little"), as_bytes=True)

    @on(pickle.BYTEARRAY8)
    def _bytearray8() -> None:
        push_text(int.from_bytes(operand(8), "little"), as_bytes=True)

    @on(pickle.NEXT_BUFFER)
    def _next_buffer() -> None:
        raise Malformed("out-of-band buffer requested but none can be supplied")

    @on(pickle.READONLY_BUFFER)
    def _readonly_buffer() -> None:
        a.top()

    # -- containers -------------------------------------------------------------------------
    @on(pickle.EMPTY_LIST)
    def _empty_list() -> None:
        stack.append(LIST)

    @on(pickle.EMPTY_DICT)
    def _empty_dict() -> None:
        stack.append(DictValue())

    @on(pickle.EMPTY_SET)
    def _empty_set() -> None:
        stack.append(LIST)

    @on(pickle.EMPTY_TUPLE)
    def _empty_tuple() -> None:
        stack.append(())

    @on(pickle.TUPLE)
    def _tuple() -> None:
        stack.append(make_tuple(a.pop_mark()))

    @on(pickle.TUPLE1)
    def _tuple1() -> None:
        stack.append((a.pop(),))

    @on(pickle.TUPLE2)
    def _tuple2() -> None:
        second = a.pop()
        stack.append((a.pop(), second))

    @on(pickle.TUPLE3)
    def _tuple3() -> None:
        third = a.pop()
        second = a.pop()
        stack.append((a.pop(), second, third))

    @on(pickle.LIST)
    def _list() -> None:
        a.pop_mark()
        stack.append(LIST)

    @on(pickle.FROZENSET)
    def _frozenset() -> None:
        a.pop_mark()
        stack.append(ANY)

    @on(pickle.DICT)
    def _dict() -> None:
        items = a.pop_mark()
        if len(items) % 2:
            raise Malformed("odd number of items for DICT")
        d = DictValue()
        d.update(items)
        stack.append(d)

    @on(pickle.APPEND)
    def _append() -> None:
        value = a.pop()
        target = a.top()
        if isinstance(target, ListValue):
            target.extend([value])
        else:
            a.mutate_target(target, "APPEND")

    @on(pickle.APPENDS)
    def _appends() -> None:
        items = a.pop_mark()
        target = a.top()
        if isinstance(target, ListValue):
            target.extend(items)
        else:
            a.mutate_target(target, "APPENDS")

    @on(pickle.ADDITEMS)
    def _additems() -> None:
        items = a.pop_mark()
        target = a.top()
        if isinstance(target, ListValue):
            target.extend(items)
        else:
            a.mutate_target(target, "ADDITEMS")

    @on(pickle.SETITEM)
    def _setitem() -> None:
        value = a.pop()
        key = a.pop()
        target = a.top()
        if isinstance(target, DictValue):
            target.update([key, value])
        else:
            a.mutate_target(target, "SETITEM")

    @on(pickle.SETITEMS)
    def _setitems() -> None:
        items = a.pop_mark()
        if len(items) % 2:
            raise Malformed("odd number of items for SETITEMS")
        target = a.top()
        if isinstance(target, DictValue):
            target.update(items)
        else:
            a.mutate_target(target, "SETITEMS")

    # -- memo ---------------------------------------------------------------------------------
    @on(pickle.MEMOIZE)
    def _memoize() -> None:
        a.memo_put(a.memo_len, a.top())

    @on(pickle.BINPUT)
    def _binput() -> None:
        a.memo_put(operand(1)[0], a.top())

    @on(pickle.LONG_BINPUT)
    def _long_binput() -> None:
        a.memo_put(int.from_bytes(operand(4), "little"), a.top())

    @on(pickle.PUT)
    def _put() -> None:
        try:
            key = int(a.line())
        except ValueError:
            raise Malformed("invalid PUT key") from None
        if key < 0:
            raise Malformed("negative PUT argument")
        a.memo_put(key, a.top())

    @on(pickle.BINGET)
    def _binget() -> None:
        stack.append(a.memo_get(operand(1)[0]))

    @on(pickle.LONG_BINGET)
    def _long_binget() -> None:
        stack.append(a.memo_get(int.from_bytes(operand(4), "little")))

    @on(pickle.GET)
    def _get() -> None:
        try:
            key = int(a.line())
        except ValueError:
            raise Malformed("invalid GET key") from None
        stack.append(a.memo_get(key))

    register_call_ops(a, table, on, operand)
    return table
