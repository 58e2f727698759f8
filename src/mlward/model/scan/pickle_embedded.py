"""Pickles hidden inside a pickle: bytes, base64 or hex constants that hold another pickle.

A stream may carry a second-stage pickle as data (``{"weights": b"\\x80\\x04..."}``) or feed
it to a loader through a decode chain (``pickle.loads(base64.b64decode("gASV..."))``). The
first runs only when the caller unpickles the loaded value, so it is reported on its own
rule, at the severity of what the inner pickle does (capped at HIGH); the second runs on
load and is analysed at full severity by the nested-loader check (MW-PICKLE-010).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import TYPE_CHECKING, Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.pickle_values import BytesRef, Instance

if TYPE_CHECKING:
    from mlward.model.scan.pickle_analyser import PickleAnalyser

# Callables that turn text into the bytes a loader then deserializes.
DECODERS: dict[str, str] = {
    "base64.b64decode": "base64",
    "base64.standard_b64decode": "base64",
    "base64.urlsafe_b64decode": "base64",
    "base64.decodebytes": "base64",
    "base64.decodestring": "base64",
    "binascii.a2b_base64": "base64",
    "binascii.a2b_hex": "hex",
    "binascii.unhexlify": "hex",
}
_HEX = re.compile(r"[0-9a-fA-F]+")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# Text shorter than this cannot hold a pickle that imports anything.
MIN_TEXT = 8
# Encoded payloads larger than this are not decoded in memory.
MAX_DECODE = 64 << 20


def looks_like_pickle(head: bytes) -> bool:
    """True when ``head`` starts with the PROTO opcode of protocol 2-5."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def decode_text(text: str, encoding: str | None = None) -> bytes | None:
    """Decode base64 or hex ``text`` (``encoding`` forces one); None when it is neither."""
    s = "".join(text.split())
    if encoding in (None, "hex") and len(s) % 2 == 0 and _HEX.fullmatch(s):
        return bytes.fromhex(s)
    if encoding in (None, "base64") and _B64.fullmatch(s):
        padded = s + "=" * (-len(s) % 4)
        try:
            return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            return None
    return None


def pickle_in_text(text: str) -> tuple[str, bytes] | None:
    """``(encoding, pickle bytes)`` when ``text`` is a pickle written as hex or base64."""
    if len(text) < MIN_TEXT or text[:2] not in ("80", "gA"):
        return None
    data = decode_text(text)
    if data is None or not looks_like_pickle(data):
        return None
    return ("hex" if text[:2] == "80" and _HEX.fullmatch(text) else "base64"), data


def decoded_argument(value: Any) -> tuple[str, Any] | None:
    """For ``decoder(text)`` passed to a loader: ``(decoder, text)``, else None."""
    if isinstance(value, Instance) and value.func_name() in DECODERS:
        args = value.args
        if isinstance(args, tuple) and args and isinstance(args[0], str | BytesRef):
            return str(value.func_name()), args[0]
    return None


def decode_operand(a: PickleAnalyser, decoder: str, operand: Any) -> bytes | None:
    """The bytes ``decoder(operand)`` returns, for a text or bytes constant of the stream."""
    if isinstance(operand, BytesRef):
        if operand.length > MAX_DECODE:
            return None
        operand = window(a, operand).read().decode("latin-1")
    return decode_text(operand, DECODERS[decoder])


def window(a: PickleAnalyser, ref: BytesRef) -> io.RawIOBase:
    """A read-only view of a bytes constant, in place in the analysed stream."""
    from mlward.model.scan._io import Window

    return Window(a.bs.f, ref.offset, ref.length)


def scan_dormant(a: PickleAnalyser) -> None:
    """Analyse each embedded pickle no in-stream loader consumed, and report it."""
    from mlward.model.scan.interface import ScanContext

    for offset, value in a.embedded:
        if isinstance(value, BytesRef):
            if value.offset in a.consumed or value.length < 2:
                continue
            stream: Any = window(a, value)
            if not looks_like_pickle(stream.read(2)):
                continue
            encoding, size = "bytes", value.length
        else:
            found = pickle_in_text(value)
            if found is None or value in a.consumed:
                continue
            encoding, data = found
            stream, size = io.BytesIO(data), len(data)
        scratch = ScanContext(path=a.ctx.path, allowlist=a.ctx.allowlist, limits=a.ctx.limits)
        imports = scan_bytes(a, stream, size, f"{encoding}@{offset}", "embedded pickle", scratch)
        a.ctx.bytes_scanned += scratch.bytes_scanned
        worst = max((f.severity for f in scratch.findings), default=None)
        severity = Severity.LOW if worst is None or worst < Severity.MEDIUM else min(worst, Severity.HIGH)
        deeper = any(f.rule_id == rules.PICKLE_EMBEDDED for f in scratch.findings)
        what = (
            f"imports {', '.join(imports[:5])}"
            if imports
            else "holds a further embedded pickle"
            if deeper
            else "holds plain data"
        )
        a.ctx.add(
            rules.PICKLE_EMBEDDED,
            severity,
            f"{a.label} holds a pickle as a {encoding} constant ({size} bytes) that {what}; "
            "it runs if the loaded value is unpickled",
            member=a.member,
            offset=offset,
            detail=encoding,
            inner=[f.message for f in scratch.findings[:5]],
        )


def scan_bytes(
    a: PickleAnalyser, stream: Any, size: int, where: str, label: str, ctx: Any = None
) -> list[str]:
    """Analyse ``stream`` as a pickle nested in ``a``'s stream; returns the globals seen."""
    from mlward.model.scan.interface import Artifact
    from mlward.model.scan.pickle_file import scan_pickle_sequence

    ctx = ctx if ctx is not None else a.ctx
    prefix = f"{a.member}!" if a.member else ""
    nested = Artifact(
        stream=stream, size=size, name=f"{where}.pkl", member=f"{prefix}{where}", depth=a.depth + 1
    )
    if nested.depth > ctx.limits.max_depth:
        ctx.add(
            rules.ARCHIVE_BOMB,
            Severity.HIGH,
            f"nested pickles deeper than {ctx.limits.max_depth} levels; not scanned",
            member=nested.member,
        )
        return []
    ctx.formats.append("pickle")
    outcomes = scan_pickle_sequence(nested, ctx, label=label)
    return [g for o in outcomes for g in o.globals_seen]
