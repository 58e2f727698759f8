"""Compact stand-ins for the values a pickle builds, as the analyser tracks them.

The analyser never builds the real objects. It keeps small scalars and strings (they are
STACK_GLOBAL operands, joblib shapes, dtype codes), references to imported globals, and
the results of calls; tuples and dicts keep at most ``MAX_ITEMS`` items and then forget
them, lists and sets keep none (nothing reads them back), and everything else is ``ANY``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from mlward.model.scan.allowlist import GlobalStatus

MAX_ITEMS = 64
MAX_STR = 1024


class _Opaque:
    """A value the analyser does not model (bytes, big numbers, long strings...)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"


ANY = _Opaque("any")
LONG_STR = _Opaque("long-str")
PERSISTENT = _Opaque("persistent")


class BytesRef:
    """A bytes operand, remembered by where it lies in the stream (never copied)."""

    __slots__ = ("length", "offset")

    def __init__(self, offset: int, length: int) -> None:
        self.offset = offset
        self.length = length


class GlobalRef:
    """An imported global (GLOBAL, STACK_GLOBAL, INST, EXT)."""

    __slots__ = ("full", "module", "name", "status")

    def __init__(self, module: str, name: str, status: GlobalStatus) -> None:
        self.module = module
        self.name = name
        self.full = f"{module}.{name}"
        self.status = status

    def __repr__(self) -> str:
        return f"GlobalRef({self.full}, {self.status.value})"


class Instance:
    """The result of a call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST)."""

    __slots__ = ("args", "func", "state")

    def __init__(self, func: Any, args: Any) -> None:
        self.func = func
        self.args = args
        self.state: Any = None

    def func_name(self) -> str | None:
        """Full name of the global that built this instance, when known."""
        return self.func.full if isinstance(self.func, GlobalRef) else None


class ListValue:
    """A list or set. Its items are never needed again, so none are kept and one shared
    instance (``LIST``) stands for every list: pushing one allocates nothing."""

    __slots__ = ()

    def extend(self, values: list[Any]) -> None:
        """Add items (forgotten at once)."""


LIST = ListValue()
_NO_ITEMS: MappingProxyType[Any, Any] = MappingProxyType({})


class DictValue:
    """A dict: string/int keyed items are kept while there are few of them."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        # Empty dicts are the commonest push of opcode-dense pickles: no dict until needed.
        self.items: dict[Any, Any] | MappingProxyType[Any, Any] | None = _NO_ITEMS

    def update(self, pairs: list[Any]) -> None:
        """Set key/value pairs from a flat [k, v, k, v...] list."""
        if self.items is None:
            return
        if self.items is _NO_ITEMS:
            self.items = {}
        if len(self.items) + len(pairs) // 2 > MAX_ITEMS:
            self.items = None
            return
        for i in range(0, len(pairs) - 1, 2):
            key = pairs[i]
            if isinstance(key, str | int | bool) or key is None:
                self.items[key] = pairs[i + 1]  # type: ignore[index]


def make_tuple(items: list[Any]) -> Any:
    """A tuple value, or ANY when it is too long to keep."""
    return tuple(items) if len(items) <= MAX_ITEMS else ANY


def worth_memoizing(value: Any) -> bool:
    """Values that later opcodes may need back from the memo."""
    return isinstance(value, str | GlobalRef | Instance | tuple)
