"""Single-stream compression (gzip, bz2, xz, lzma, zlib, lz4): joblib's compressed dumps and
compressed checkpoints. The stream is inflated into a spooled temporary file under the
bomb limits, then scanned by content like any other file."""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from mlward.core.findings import Severity
from mlward.core.optional import optional
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner

_IN_CHUNK = 1 << 16
_OUT_CHUNK = 1 << 22
_SPOOL_MEMORY = 32 << 20
_RATIO_FLOOR = 1 << 30  # ratios are only judged past 1 GiB of output


class BombError(Exception):
    """Decompression exceeded the limits."""


class _Inflater:
    """Bounded-output adapter over zlib/bz2/lzma/lz4 decompressors."""

    def __init__(self, make: Callable[[], Any], multi: bool = False) -> None:
        self._make = make
        self._d = make()
        self._multi = multi

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield output pieces of at most a few MiB each for one input chunk."""
        while True:
            d = self._d
            if isinstance(d, type(zlib.decompressobj())):
                yield d.decompress(data, _OUT_CHUNK)
                while d.unconsumed_tail and not d.eof:
                    yield d.decompress(d.unconsumed_tail, _OUT_CHUNK)
            else:
                yield d.decompress(data, max_length=_OUT_CHUNK)
                while not d.eof and not d.needs_input:
                    yield d.decompress(b"", max_length=_OUT_CHUNK)
            rest = d.unused_data if d.eof else b""
            if not (self._multi and rest):
                return
            self._d = self._make()
            data = rest

    @property
    def eof(self) -> bool:
        return bool(getattr(self._d, "eof", False))


def inflater_for(kind: str) -> _Inflater | None:
    """A bounded inflater for ``kind`` (gzip, zlib, raw-deflate, bz2, xz, lzma, lz4)."""
    if kind == "gzip":
        return _Inflater(lambda: zlib.decompressobj(31), multi=True)
    if kind == "zlib":
        return _Inflater(lambda: zlib.decompressobj(15))
    if kind == "deflate":
        return _Inflater(lambda: zlib.decompressobj(-15))
    if kind == "bz2":
        return _Inflater(bz2.BZ2Decompressor, multi=True)
    if kind in ("xz", "lzma"):
        return _Inflater(lzma.LZMADecompressor)
    if kind == "lz4":
        lz4_frame = optional("lz4.frame")
        if lz4_frame is None:
            return None
        return _Inflater(lz4_frame.LZ4FrameDecompressor)
    return None


def spool(
    read: Callable[[int], bytes], inflater: _Inflater, ctx: ScanContext, limit_in: int
) -> tuple[IO[bytes], int, int, bool]:
    """Inflate ``limit_in`` input bytes into a temp file: (file, size, crc32, complete)."""
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
    size = consumed = crc = 0
    while consumed < limit_in:
        chunk = read(min(_IN_CHUNK, limit_in - consumed))
        if not chunk:
            break
        consumed += len(chunk)
        for piece in inflater.feed(chunk):
            size += len(piece)
            ctx.expanded_bytes += len(piece)
            crc = zlib.crc32(piece, crc)
            out.write(piece)
            if ctx.expanded_bytes > ctx.limits.max_expanded_bytes or (
                size > _RATIO_FLOOR and size > consumed * ctx.limits.max_ratio
            ):
                out.close()
                raise BombError(f"expands past {size} bytes from {consumed}")
        if inflater.eof:
            break
    ctx.bytes_scanned += consumed
    out.seek(0)
    return out, size, crc, inflater.eof


def _kind(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head[:3] == b"\x5d\x00\x00" and len(head) >= 13:
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    if head.startswith(b"ZF0x"):  # joblib < 0.10 zlib container: "ZF0x<hex size> " + zlib
        return "joblib-zf"
    return None


class CompressedScanner(Scanner):
    """A compressed stream holding one file (joblib ``compress=...`` dumps, ``.gz`` ...)."""

    format_name = "compressed"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return _kind(head) is not None

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        from mlward.model.scan.dispatch import child, scan_artifact

        artifact.stream.seek(0)
        head = artifact.stream.read(32)
        kind = _kind(head) or "zlib"
        start = 0
        if kind == "joblib-zf":
            start = head.find(b" ") + 1 if b" " in head else 4
            kind = "zlib"
        inflater = inflater_for(kind)
        if inflater is None:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"{kind} stream not scanned: its decompressor is not installed",
                member=artifact.member,
            )
            return
        artifact.stream.seek(start)
        try:
            data, size, _, complete = spool(artifact.stream.read, inflater, ctx, artifact.size - start)
        except BombError as exc:
            ctx.add(
                rules.ARCHIVE_BOMB, Severity.HIGH, f"{kind} stream {exc}; not scanned", member=artifact.member
            )
            return
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"{kind} stream cannot be decompressed ({exc})",
                member=artifact.member,
            )
            return
        with data:
            if not complete:
                ctx.add(
                    rules.ARCHIVE_UNREADABLE,
                    Severity.MEDIUM,
                    f"{kind} stream is truncated; scanning what decompressed",
                    member=artifact.member,
                )
            name = artifact.name
            for suffix in (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".z", ".lz4", ".zlib"):
                if name.lower().endswith(suffix):
                    name = name[: -len(suffix)]
            scan_artifact(child(artifact, data, size, name, label=f"[{kind}]"), ctx)
