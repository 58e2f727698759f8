"""GGUF (llama.cpp) files: header bounds, key/value section, and chat templates.

The chat template is a Jinja2 program rendered by the serving stack; it is parsed and
checked by ``jinja_template`` like every other chat template.
"""

from __future__ import annotations

import struct

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan._io import ByteStream
from mlward.model.scan.chat_templates import check_template_bytes
from mlward.model.scan.interface import Artifact, ScanContext, Scanner

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_MAX_KV = 1_000_000
_MAX_STR = 64 << 20


class _Bad(Exception):
    pass


class _Limit(_Bad):
    """A scanner bound, not an error of the file: what follows is unchecked (HIGH)."""


class GgufScanner(Scanner):
    """``GGUF`` files (versions 1 to 3)."""

    format_name = "gguf"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(b"GGUF")

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        bs = ByteStream(artifact.stream, 0, artifact.size)
        try:
            self._walk(bs, artifact, ctx)
        except (_Bad, struct.error, UnicodeDecodeError) as exc:
            limit = isinstance(exc, _Limit)
            ctx.add(
                rules.GGUF_INVALID,
                Severity.HIGH if limit else Severity.MEDIUM,
                f"GGUF header {'not checked past a scanner limit' if limit else 'is malformed'} ({exc})",
                member=artifact.member,
                offset=bs.tell(),
                limit=limit,
            )
        finally:
            ctx.bytes_scanned += bs.bytes_read

    def _walk(self, bs: ByteStream, artifact: Artifact, ctx: ScanContext) -> None:
        def take(n: int) -> bytes:
            data = bs.read(n)
            if data is None:
                raise _Bad("truncated")
            return data

        def u(n: int) -> int:
            return int.from_bytes(take(n), "little")

        take(4)
        version = u(4)
        if version not in (1, 2, 3):
            raise _Bad(f"unsupported version {version}")
        width = 4 if version == 1 else 8
        n_tensors, n_kv = u(width), u(width)
        if n_kv > _MAX_KV or n_tensors > 10_000_000:
            raise _Limit(f"more than the scanner follows ({n_tensors} tensors, {n_kv} keys)")

        def raw_string() -> bytes:
            n = u(width)
            if n > bs.size - bs.tell():
                raise _Bad("string length exceeds the file")
            if n > _MAX_STR:
                raise _Limit(f"string of {n} bytes, more than the scanner reads")
            return take(n)

        def string() -> str:
            return raw_string().decode("utf-8")

        def skip_value(vtype: int) -> None:
            if vtype in _FIXED:
                take(_FIXED[vtype])
            elif vtype == _STRING:
                n = u(width)
                if not bs.skip(n):
                    raise _Bad("string length exceeds the file")
            elif vtype == _ARRAY:
                itype, count = u(4), u(width)
                if itype in _FIXED:
                    if not bs.skip(count * _FIXED[itype]):
                        raise _Bad("array exceeds the file")
                elif itype in (_STRING, _ARRAY) and count <= bs.size - bs.tell():
                    for _ in range(count):
                        skip_value(itype)
                else:
                    raise _Bad(f"bad array type {itype} or count {count}")
            else:
                raise _Bad(f"unknown value type {vtype}")

        for _ in range(n_kv):
            key = string()
            vtype = u(4)
            if key.startswith("tokenizer.chat_template") and vtype == _STRING:
                offset = bs.tell()
                check_template_bytes(
                    raw_string(), ctx, where=f"GGUF {key}", member=artifact.member, offset=offset
                )
            else:
                skip_value(vtype)
        for _ in range(n_tensors):
            string()
            n_dims = u(4)
            if n_dims > 8:
                raise _Bad(f"tensor with {n_dims} dimensions")
            take(width * n_dims + 4 + 8)
