"""Authenticated journal lines: an HMAC-SHA256 on every line, bound to its journal.

Every line the writer (or its shipper) puts in a journal ends with ``"m":"<hex mac>"``, an
HMAC-SHA256 over the line's bytes without that field, under a key derived from the audit
seal key (``AuditLog.derive_key(JOURNAL_KEY_PURPOSE)``): whoever can write the journal
directory but lacks the workspace keys cannot add a line the shipper accepts. Lines also
carry the journal's random writer id (``w``, from the header) and entries a sequence
number (``n``, from 1 without gaps), so a line copied from another journal, a line
repeated, moved or removed is caught too (``JournalReader`` in ``mlward.audit.recovery``
does that bookkeeping). Sealing a line costs one HMAC of a few hundred bytes (~1 µs).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from mlward.core.fastjson import dumps, loads

JOURNAL_KEY_PURPOSE = "mlward serve journal lines v1"
_MAC_OPEN = b',"m":"'
_MAC_HEX = 64
_SUFFIX = len(_MAC_OPEN) + _MAC_HEX + 2  # ,"m":"<64 hex>"}


class LineSeal:
    """Seals journal records into lines and opens sealed lines back into records."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> bytes:
        return hmac.digest(self._key, body, hashlib.sha256).hex().encode()

    def seal(self, record: dict[str, Any]) -> bytes:
        """One journal line: ``record`` as JSON with its MAC as the last field."""
        body = dumps(record)
        return body[:-1] + _MAC_OPEN + self._mac(body) + b'"}\n'

    def open(self, line: bytes) -> dict[str, Any] | str:
        """The record of a sealed ``line`` (without its newline), or why it is refused.

        ``garbled``: not a JSON object; ``forged``: a JSON object without a valid MAC.
        """
        if (
            len(line) > _SUFFIX
            and line.endswith(b'"}')
            and line[-_SUFFIX : -_SUFFIX + len(_MAC_OPEN)] == _MAC_OPEN
        ):
            body = line[:-_SUFFIX] + b"}"
            if hmac.compare_digest(self._mac(body), line[-_MAC_HEX - 2 : -2]):
                try:
                    record = loads(body)
                except ValueError:
                    return "garbled"
                return record if isinstance(record, dict) else "garbled"
        try:
            parsed = loads(line)
        except ValueError:
            return "garbled"
        return "forged" if isinstance(parsed, dict) else "garbled"
