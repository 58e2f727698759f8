"""The memo of the pickle analyser (mixed into ``PickleAnalyser``), in bounded memory.

Which keys are set is tracked exactly (a byte per key up to ``_MEMO_BITMAP_MAX``, then a
bounded set), so a GET of an unset key is always caught. Values are kept by need, not
for every key: an opcode-dense pickle memoizes tens of millions of objects that no later
opcode reads back.

- Allowlisted globals (and joblib array wrappers, see ``must_keep``) are always kept: a
  benign pickle memoizes each class once and refers to it for every instance. More than
  ``_MEMO_GLOBALS_MAX`` of them is a scanner limit (HIGH).
- Strings, tuples, other globals and call results are kept for good while they weigh
  less than ``_MEMO_EARLY_BYTES`` in all (so a pickle of ordinary size is modelled
  exactly). Past that they enter a window of the latest ``2 * _MEMO_RECENT`` memoized
  values; a GET that finds one there, or a STACK_GLOBAL that takes its operands from
  there, keeps it for good (up to ``_MEMO_PROMOTED_BYTES`` more): pickle writes a module
  name, a dict key or a dtype once and GETs it later. A value that left the window reads
  back as ``ANY``, which every check treats as unknown (HIGH at a call or an import).
"""

from __future__ import annotations

from typing import Any

from mlward.model.scan.allowlist import GlobalStatus
from mlward.model.scan.pickle_calls import JOBLIB_WRAPPERS
from mlward.model.scan.pickle_values import ANY, GlobalRef, Instance

_MEMO_BITMAP_MAX = 1 << 24
_MEMO_SPARSE_MAX = 1 << 16
_MEMO_GLOBALS_MAX = 1 << 18
_MEMO_EARLY_BYTES = 8 << 20
_MEMO_PROMOTED_BYTES = 16 << 20
_MEMO_RECENT = 1 << 14

# Stack values worth keeping in the memo; anything else is only marked as set.
KEPT = frozenset({str, GlobalRef, Instance, tuple})


def must_keep(value: Any) -> bool:
    """Values whose loss would weaken a check, not only make it fail closed: allowlisted
    globals, which BUILD/SETITEM may mutate and a call may receive, and joblib array
    wrappers, whose BUILD skips the array bytes. (Other globals were reported HIGH when
    imported; as ANY they stay HIGH wherever they are used.)"""
    cls = value.__class__
    if cls is GlobalRef:
        return value.status is GlobalStatus.SAFE
    return cls is Instance and value.func_name() in JOBLIB_WRAPPERS


class MemoTable:
    """Memo primitives; expects ``__init__`` to have called ``_init_memo``."""

    def _init_memo(self) -> None:
        self.memo: dict[int, Any] = {}
        """Values kept for good: globals and values a GET asked for."""
        self.memo_recent: dict[int, Any] = {}
        self.memo_older: dict[int, Any] = {}
        """The window: the latest memoized strings, tuples and call results."""
        self.memo_bits = bytearray()
        self.memo_sparse: set[int] = set()
        self.memo_len = 0
        self.memo_globals = 0
        self.memo_budget = _MEMO_EARLY_BYTES
        """Weight the memo may still keep for good; promotions go on down to
        ``-_MEMO_PROMOTED_BYTES``."""

    def memo_put(self, key: int, value: Any) -> None:
        """Store ``value`` under ``key`` (keeping only values later opcodes may need)."""
        bits = self.memo_bits
        if key < len(bits):
            fresh = not bits[key]
            bits[key] = 1
        elif key < _MEMO_BITMAP_MAX:
            bits.extend(bytes(max(key + 1 - len(bits), len(bits), 4096)))
            bits[key] = 1
            fresh = True
        else:
            fresh = key not in self.memo_sparse
            if fresh:
                if len(self.memo_sparse) >= _MEMO_SPARSE_MAX:
                    from mlward.model.scan.pickle_analyser import LimitReached

                    raise LimitReached(f"memo has more than {_MEMO_SPARSE_MAX} sparse keys")
                self.memo_sparse.add(key)
        if fresh:
            self.memo_len += 1
        else:  # PUT over a set key: forget what it held
            self.memo.pop(key, None)
            self.memo_recent.pop(key, None)
            self.memo_older.pop(key, None)
        if value.__class__ not in KEPT:
            return
        if must_keep(value):
            self.memo_globals += 1
            if self.memo_globals > _MEMO_GLOBALS_MAX:
                from mlward.model.scan.pickle_analyser import LimitReached

                raise LimitReached(f"memo holds more than {_MEMO_GLOBALS_MAX} globals")
            self.memo[key] = value
            return
        if self.memo_budget > 0:
            self.memo_budget -= _weight(value)
            self.memo[key] = value
            return
        recent = self.memo_recent
        recent[key] = value
        if len(recent) >= _MEMO_RECENT:
            self.memo_older = recent
            self.memo_recent = {}

    def memo_has(self, key: int) -> bool:
        """True when ``key`` was set."""
        if key < _MEMO_BITMAP_MAX:
            return key < len(self.memo_bits) and self.memo_bits[key] == 1
        return key in self.memo_sparse

    def memo_get(self, key: int) -> Any:
        """The value stored under ``key`` (ANY when it was not kept)."""
        got = self.memo.get(key)
        return self.memo_recall(key) if got is None else got

    def memo_recall(self, key: int) -> Any:
        """GET of a key not kept for good: from the window (kept from now on), else ANY."""
        if not self.memo_has(key):
            from mlward.model.scan.pickle_analyser import Malformed

            raise Malformed(f"memo key {key} was never set")
        got = self.memo_recent.pop(key, None)
        if got is None:
            got = self.memo_older.pop(key, None)
            if got is None:
                return ANY
        if not self._keep(key, got):
            self.memo_recent[key] = got
        return got

    def memo_pin(self, *values: Any) -> None:
        """Keep for good the window entries among the latest four that are ``values``
        (STACK_GLOBAL operands: pickle GETs a module name again for the next class)."""
        for key in range(self.memo_len - 1, self.memo_len - 5, -1):
            for window in (self.memo_recent, self.memo_older):
                got = window.get(key)
                if got is not None and any(got is v for v in values):
                    del window[key]
                    if not self._keep(key, got):
                        window[key] = got

    def _keep(self, key: int, value: Any) -> bool:
        """Move a window value into the memo for good, if the promoted budget allows."""
        if self.memo_budget <= -_MEMO_PROMOTED_BYTES:
            return False
        self.memo_budget -= _weight(value)
        self.memo[key] = value
        return True


def _weight(value: Any) -> int:
    """Rough bytes a kept value holds."""
    cls = value.__class__
    if cls is str:
        return 64 + len(value)
    if cls is tuple:
        return 64 + 8 * len(value)
    return 128
