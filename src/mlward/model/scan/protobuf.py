"""Minimal protobuf wire-format reader (no generated code, no TensorFlow, no onnx import).

Messages are walked field by field. Small messages are parsed from memory; the top-level
message of big files (ONNX with inline weights) is walked on the stream, and big
length-delimited payloads (raw tensors) are skipped by seeking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class ProtoError(ValueError):
    """The bytes are not a valid protobuf message."""


def _varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ProtoError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) of an in-memory message.

    Varint and fixed values are ints; length-delimited values are memoryview slices.
    """
    view = memoryview(buf)
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _varint(view, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == VARINT:
            value, pos = _varint(view, pos, end)
            yield number, wire, value
        elif wire == LEN:
            length, pos = _varint(view, pos, end)
            if pos + length > end:
                raise ProtoError("length-delimited field runs past the message")
            yield number, wire, view[pos : pos + length]
            pos += length
        elif wire == FIXED64:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64")
            yield number, wire, int.from_bytes(view[pos : pos + 8], "little")
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32")
            yield number, wire, int.from_bytes(view[pos : pos + 4], "little")
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def stream_fields(f: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (field number, wire type, value or offset, length) walking a stream.

    For length-delimited fields the third item is the payload offset; for others it is
    the value and the length is 0. Payloads are never read here.
    """
    pos = start
    while pos < end:
        f.seek(pos)
        head = f.read(20)
        key, used = _varint(head, 0, len(head))
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == VARINT:
            value, used = _varint(head, used, len(head))
            yield number, wire, value, 0
            pos += used
        elif wire == LEN:
            length, used = _varint(head, used, len(head))
            if pos + used + length > end:
                raise ProtoError("length-delimited field runs past the message")
            yield number, wire, pos + used, length
            pos += used + length
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            yield number, wire, int.from_bytes(head[used : used + size], "little"), 0
            pos += used + size
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def text(value: int | memoryview) -> str:
    """Decode a string field."""
    if isinstance(value, int):
        raise ProtoError("expected a string field")
    return bytes(value).decode("utf-8", "replace")
