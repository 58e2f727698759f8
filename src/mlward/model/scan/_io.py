"""Byte sources for scanners: a window over part of a file, and a forward reader.

``Window`` exposes ``[start, start+size)`` of a seekable stream as its own seekable stream,
so a stored zip member or a tar member is scanned in place without copying it.
``ByteStream`` reads forward through a bounded buffer and skips large payloads by seeking,
so a 1 GB pickle of arrays costs a few MiB of memory.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

CHUNK = 1 << 20


class Window(io.RawIOBase):
    """A read-only seekable view of ``size`` bytes of ``raw`` starting at ``start``."""

    def __init__(self, raw: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._start = start
        self._size = max(0, size)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        remaining = self._size - self._pos
        if remaining <= 0:
            return b""
        if n is None or n < 0 or n > remaining:
            n = remaining
        self._raw.seek(self._start + self._pos)
        data = self._raw.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def stream_size(stream: BinaryIO) -> int:
    """Length of a seekable stream (its position is restored)."""
    here = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(here)
    return end


class ByteStream:
    """Forward reader with a bounded buffer; ``skip`` seeks over payloads it need not read."""

    __slots__ = ("base", "buf", "bytes_read", "chunk", "f", "pos", "size")

    def __init__(self, f: BinaryIO, start: int, size: int, chunk: int = CHUNK) -> None:
        f.seek(start)
        self.chunk = chunk
        self.f = f
        self.size = size
        self.buf = b""
        self.pos = 0
        self.base = start
        self.bytes_read = 0

    def tell(self) -> int:
        """Offset of the next byte."""
        return self.base + self.pos

    def at_eof(self) -> bool:
        """True when no byte is left."""
        return self.base + self.pos >= self.size

    def fill(self, n: int) -> bool:
        """Make ``n`` bytes available at ``pos``; False when the stream ends first."""
        avail = len(self.buf) - self.pos
        if avail >= n:
            return True
        self.base += self.pos
        want = max(n - avail, self.chunk)
        # Seek every refill: nested readers (joblib sub-streams) share the file object.
        self.f.seek(self.base + avail)
        data = self.f.read(want)
        self.bytes_read += len(data)
        self.buf = self.buf[self.pos :] + data if avail else data
        self.pos = 0
        return len(self.buf) >= n

    def read(self, n: int) -> bytes | None:
        """Read exactly ``n`` bytes, or None at end of stream."""
        if not self.fill(n):
            return None
        p = self.pos
        self.pos = p + n
        return self.buf[p : p + n]

    def skip(self, n: int) -> bool:
        """Advance ``n`` bytes without reading them when they are not buffered."""
        target = self.base + self.pos + n
        if target > self.size:
            return False
        if self.pos + n <= len(self.buf):
            self.pos += n
        else:
            self.f.seek(target)
            self.buf = b""
            self.pos = 0
            self.base = target
        return True

    def readline(self, limit: int) -> bytes | None:
        """Read through the next ``\\n`` (excluded from the result); None if absent."""
        start = self.pos
        while True:
            idx = self.buf.find(b"\n", start)
            if idx >= 0:
                line = self.buf[self.pos : idx]
                self.pos = idx + 1
                return line
            start = len(self.buf)
            if len(self.buf) - self.pos > limit:
                return None
            before = len(self.buf) - self.pos
            if not self.fill(before + 1):
                return None
            start = self.pos + before
