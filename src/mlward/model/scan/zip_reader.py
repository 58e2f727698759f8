"""A tolerant zip reader: central directory and local headers, never trusting either alone.

``zipfile`` raises on the first inconsistency, but loaders differ: PyTorch's reader
(miniz) and ``zipfile`` follow the central directory, other tools walk local headers, and
both accept prepended data. Attackers exploit exactly these differences, so the scanner
reads both views, reports where they disagree, and scans the union of members.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CEN = b"PK\x01\x02"
_LOC = b"PK\x03\x04"
_MAX_COMMENT = 65535 + 22


@dataclass
class ZipEntry:
    """One member as the directories describe it."""

    name: str
    """Member name (from the central directory, else the local header)."""
    method: int
    """Compression method (0 stored, 8 deflate, 12 bzip2, 14 lzma)."""
    flags: int
    """General purpose flags (bit 0: encrypted, bit 3: data descriptor)."""
    csize: int
    """Compressed size."""
    usize: int
    """Declared uncompressed size."""
    crc: int
    """Declared CRC-32."""
    header_offset: int
    """Absolute offset of the local header."""
    data_offset: int = -1
    """Absolute offset of the member data (-1 when the local header is unusable)."""
    source: str = "central"
    """Which view found it: ``central`` or ``local``."""


@dataclass
class ZipListing:
    """Members and the problems met while listing them."""

    entries: list[ZipEntry] = field(default_factory=list)
    """Union of central-directory and local-header members."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(kind, message): kind is ``unreadable``, ``inconsistent`` or ``bomb``."""
    central_ok: bool = False
    """True when a central directory was found and parsed."""


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            vals = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            it = iter(vals)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return usize, csize, offset


def _central(f: BinaryIO, size: int, listing: ZipListing, max_members: int) -> None:
    tail_start = max(0, size - _MAX_COMMENT)
    tail = _read_at(f, tail_start, size - tail_start)
    idx = tail.rfind(_EOCD)
    if idx < 0 or len(tail) - idx < 22:
        listing.problems.append(("unreadable", "no end-of-central-directory record"))
        return
    eocd_pos = tail_start + idx
    (_, _, _, _, total, cd_size, cd_off, _) = struct.unpack_from("<4sHHHHIIH", tail, idx)
    loc = tail[idx - 20 : idx] if idx >= 20 else b""
    if loc.startswith(_EOCD64_LOC):
        z64_off = struct.unpack_from("<Q", loc, 8)[0]
        rec = _read_at(f, z64_off, 56)
        if rec.startswith(_EOCD64) and len(rec) == 56:
            total, cd_size, cd_off = struct.unpack_from("<QQQ", rec, 32)
            eocd_pos = z64_off
    # Prepended data (self-extracting archives, polyglots): offsets are relative to the
    # zip start, which ``zipfile`` recovers the same way.
    concat = max(0, eocd_pos - cd_size - cd_off)
    if concat:
        listing.problems.append(("inconsistent", f"{concat} bytes precede the zip data"))
    data = _read_at(f, cd_off + concat, min(cd_size, size))
    pos = 0
    while pos + 46 <= len(data) and len(listing.entries) < max_members:
        if data[pos : pos + 4] != _CEN:
            listing.problems.append(("unreadable", f"bad central directory entry at {pos}"))
            break
        (_, _, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, _, off) = (
            struct.unpack_from("<4sHHHHHHIIIHHHHHII", data, pos)
        )
        name_raw = data[pos + 46 : pos + 46 + nlen]
        extra = data[pos + 46 + nlen : pos + 46 + nlen + xlen]
        usize, csize, off = _zip64_extra(extra, usize, csize, off)
        name = name_raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        listing.entries.append(ZipEntry(name, method, flags, csize, usize, crc, off + concat))
        pos += 46 + nlen + xlen + clen
    if len(listing.entries) < total and len(listing.entries) < max_members:
        listing.problems.append(
            ("unreadable", f"central directory lists {total} members, {len(listing.entries)} read")
        )
    listing.central_ok = bool(listing.entries) or total == 0


def _local_header(f: BinaryIO, offset: int) -> tuple[str, int, int, int, int, int, int] | None:
    head = _read_at(f, offset, 30)
    if len(head) < 30 or not head.startswith(_LOC):
        return None
    (_, _, flags, method, _, _, crc, csize, usize, nlen, xlen) = struct.unpack("<4sHHHHHIIIHH", head)
    rest = f.read(nlen + xlen)
    name = rest[:nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace")
    usize, csize, _ = _zip64_extra(rest[nlen:], usize, csize, 0)
    return name, flags, method, csize, usize, crc, offset + 30 + nlen + xlen


def _find(f: BinaryIO, start: int, size: int, needle: bytes) -> int:
    pos = start
    while pos < size:
        block = _read_at(f, pos, 1 << 20)
        idx = block.find(needle)
        if idx >= 0:
            return pos + idx
        if len(block) < 1 << 20:
            return -1
        pos += len(block) - len(needle) + 1
    return -1


def ends_like_a_zip(f: BinaryIO, size: int) -> bool:
    """True when the end of ``f`` is a zip end record whose comment reaches EOF and whose
    central directory (after any prepended bytes) starts with a directory entry.

    ``zipfile`` (and so Keras and ``numpy.load`` of ``.npz``) opens such a file whatever
    its first bytes are.
    """
    if size < 22:
        return False
    tail_start = max(0, size - _MAX_COMMENT)
    tail = _read_at(f, tail_start, size - tail_start)
    idx = tail.rfind(_EOCD)
    if idx < 0 or len(tail) - idx < 22:
        return False
    (_, _, _, _, total, cd_size, cd_off, clen) = struct.unpack_from("<4sHHHHIIH", tail, idx)
    if idx + 22 + clen != len(tail) or total == 0:
        return False
    concat = max(0, tail_start + idx - cd_size - cd_off)
    return _read_at(f, cd_off + concat, 4) == _CEN


def list_zip(f: BinaryIO, size: int, max_members: int) -> ZipListing:
    """List members from the central directory and from a walk over local headers."""
    listing = ZipListing()
    _central(f, size, listing, max_members)
    by_offset = {e.header_offset: e for e in listing.entries}
    for entry in listing.entries:
        local = _local_header(f, entry.header_offset)
        if local is None:
            listing.problems.append(("unreadable", f"{entry.name}: local header missing"))
            continue
        if local[0] != entry.name:
            listing.problems.append(("inconsistent", f"{entry.name}: local header names it {local[0]!r}"))
        entry.data_offset = local[6]
    # Walk local headers from the first one: members absent from the central directory
    # are invisible to zipfile/torch but not to every extractor.
    pos = _find(f, 0, size, _LOC)
    walked = 0
    while 0 <= pos < size and walked < max_members:
        local = _local_header(f, pos)
        if local is None:
            break
        walked += 1
        name, flags, method, csize, usize, crc, data_off = local
        known = by_offset.get(pos)
        if known is not None:
            csize = known.csize
        elif flags & 0x08 and csize == 0:
            nxt = _find(f, data_off, size, _LOC)
            csize = (nxt if nxt >= 0 else size) - data_off
        if known is None:
            listing.entries.append(
                ZipEntry(name, method, flags, csize, usize, crc, pos, data_off, source="local")
            )
            if listing.central_ok:
                listing.problems.append(
                    ("inconsistent", f"{name}: local header not in the central directory")
                )
        nxt = data_off + csize
        if flags & 0x08:
            desc = _read_at(f, nxt, 4)
            nxt += 16 if desc == b"PK\x07\x08" else 12
        pos = nxt
    if walked >= max_members or len(listing.entries) >= max_members:
        listing.problems.append(("bomb", f"more than {max_members} members"))
    return listing
