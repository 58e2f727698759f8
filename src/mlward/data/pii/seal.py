"""Seals: proof, checkable with the data key, that a protected column is mlward's own output.

A scan never trusts the ``mlward.pii`` field metadata on its own: anyone can write it.
Some protected outputs still *look like* PII by design (an FF3-1 encrypted SSN is
SSN-shaped, ``fake`` names are names), and a content scan cannot tell them from raw
values. ``protect`` therefore seals every column it protects: an HMAC, under a subkey of
the workspace data key, over the column name, its recorded protection metadata and a
digest of its content. A scan that holds the key recomputes the seal; only a column whose
seal verifies may have the entities its recorded action produces (``vouched_entities``)
counted as protected. Without the key, with a missing or broken seal, or after any
change to the values, content wins and every finding keeps its full severity.

Seals live in the Parquet footer (``mlward.pii.seal``, JSON ``{column: tag}``), or in the
schema metadata of an in-memory table. CSV and JSON Lines carry none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlward.crypto.encryption import DataKeys
from mlward.data.pii.entities import EntityType

SEAL_METADATA_KEY = b"mlward.pii.seal"
"""Parquet footer / schema metadata key holding the seals (JSON ``{column: tag}``)."""
VOUCHING_ACTIONS = frozenset({"fpe", "fake"})
"""Actions whose output is shaped like the entity it replaced."""
DIGIT_SHAPED = frozenset(
    e.value
    for e in (
        EntityType.US_SSN, EntityType.US_ITIN, EntityType.PHONE, EntityType.CREDIT_CARD,
        EntityType.IN_AADHAAR, EntityType.DE_TAX_ID, EntityType.POSTAL_CODE,
        EntityType.DATE_OF_BIRTH, EntityType.IP_ADDRESS,
    )
)  # fmt: skip
"""Entities written with digits and separators only: FF3-1 ciphertexts of one read as others."""
_PURPOSE = b"mlward pii seal key v1"
_DOMAIN = b"mlward pii seal v1\x00"


class ColumnDigest:
    """SHA-256 digest of a string column's values, independent of how it is chunked."""

    def __init__(self) -> None:
        self.rows = 0
        self._validity = hashlib.sha256()
        self._lengths = hashlib.sha256()
        self._data = hashlib.sha256()

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Add the next values (in row order)."""
        chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
        for chunk in chunks:
            text = chunk.cast(pa.large_string())
            size = len(text)
            if not size:
                continue
            valid = np.asarray(text.is_valid(), dtype=np.uint8)
            buffers = text.buffers()
            offsets = np.frombuffer(buffers[1], dtype=np.int64)[text.offset : text.offset + size + 1]
            lengths = np.where(valid.astype(bool), np.diff(offsets), 0).astype("<i8")
            data = buffers[2]
            self._validity.update(valid.tobytes())
            self._lengths.update(lengths.tobytes())
            if data is not None:
                view = memoryview(data)[int(offsets[0]) : int(offsets[-1])]
                if bool((lengths != np.diff(offsets)).any()):  # bytes under nulls: skip them
                    for start, length in zip(offsets[:-1].tolist(), lengths.tolist(), strict=True):
                        if length:
                            self._data.update(memoryview(data)[start : start + length])
                else:
                    self._data.update(view)
            self.rows += size

    def digest(self) -> bytes:
        """The digest of every value added so far."""
        parts = (self._validity.digest(), self._lengths.digest(), self._data.digest())
        return hashlib.sha256(b"".join(parts) + self.rows.to_bytes(8, "big")).digest()


def _seal_key(keys: DataKeys) -> bytes:
    return hmac.new(keys.hash_key, _PURPOSE, hashlib.sha256).digest()


def column_seal(keys: DataKeys, column: str, protection: bytes, digest: bytes) -> str:
    """The seal of one protected column (hex HMAC-SHA256)."""
    message = _DOMAIN + column.encode() + b"\x00" + protection + b"\x00" + digest
    return hmac.new(_seal_key(keys), message, hashlib.sha256).hexdigest()


def seals_of(data: pa.Table | str | os.PathLike[str]) -> dict[str, str]:
    """The seals a table (schema metadata) or a single Parquet file (footer) carries."""
    raw: bytes | None = None
    if isinstance(data, pa.Table):
        raw = (data.schema.metadata or {}).get(SEAL_METADATA_KEY)
    else:
        path = Path(os.fspath(data))
        if path.is_file() and path.suffix.lower() == ".parquet":
            try:
                footer = pq.read_metadata(path).metadata or {}
                raw = footer.get(SEAL_METADATA_KEY) or (pq.read_schema(path).metadata or {}).get(
                    SEAL_METADATA_KEY
                )
            except (OSError, pa.ArrowInvalid):
                raw = None
    if not raw:
        return {}
    try:
        seals = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(seals, dict):
        return {}
    return {str(k): str(v) for k, v in seals.items()}


def verify_columns(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    seals: dict[str, str],
    keys: Sequence[DataKeys],
    protection_key: bytes,
) -> set[str]:
    """Names of the sealed columns whose seal verifies under one of ``keys``."""
    names = [name for name in seals if name in schema.names]
    if not names or not keys:
        return set()
    digests = {name: ColumnDigest() for name in names}
    for batch in batches:
        for name in names:
            digests[name].update(batch.column(name))
    verified = set()
    for name in names:
        protection = (schema.field(name).metadata or {}).get(protection_key, b"")
        digest = digests[name].digest()
        if any(hmac.compare_digest(column_seal(k, name, protection, digest), seals[name]) for k in keys):
            verified.add(name)
    return verified


def vouched_entities(protection: dict[str, Any]) -> frozenset[str]:
    """Entity names a verified column may still show: those its actions make look real.

    ``fpe`` and ``fake`` keep the shape of what they replace. An FF3-1 (digits) or fake
    digit string can read as any digit-shaped identifier (an encrypted SSN in the 9xx
    range is ITIN-shaped), so a digit-shaped entity vouches for the whole digit family;
    ``fpe`` over ``alnum`` encrypts letters too and vouches for everything. Nothing else
    is vouched: an e-mail left whole in an FF3-1 (digits) column is a leak.
    """
    if "rules" in protection and isinstance(protection["rules"], dict):
        rules = [(str(e), r) for e, r in protection["rules"].items() if isinstance(r, dict)]
    else:
        rules = [(str(protection.get("entity")), {"action": protection.get("action"), **_params(protection)})]
    vouched: set[str] = set()
    for entity, rule in rules:
        if rule.get("action") not in VOUCHING_ACTIONS:
            continue
        if rule.get("action") == "fpe" and rule.get("alphabet") == "alnum":
            return frozenset(e.value for e in EntityType)
        vouched.add(entity)
        if entity in DIGIT_SHAPED:
            vouched.update(DIGIT_SHAPED)
    return frozenset(vouched)


def _params(protection: dict[str, Any]) -> dict[str, Any]:
    params = protection.get("params")
    return params if isinstance(params, dict) else {}


class Sealer:
    """Accumulates the digests of protected columns batch by batch, then seals them."""

    def __init__(self, keys: DataKeys | None, columns: Iterable[str], protection_key: bytes) -> None:
        self.keys = keys
        self.protection_key = protection_key
        self._digests = {name: ColumnDigest() for name in columns}
        self._schema: pa.Schema | None = None

    def update(self, table: pa.Table) -> None:
        """Add one protected batch."""
        self._schema = self._schema or table.schema
        for name, digest in self._digests.items():
            if name in table.column_names:
                digest.update(table.column(name))

    def seals(self) -> dict[str, str]:
        """``{column: seal}`` for every sealed column seen (nothing without a key)."""
        if self.keys is None or self._schema is None:
            return {}
        out = {}
        for name, digest in self._digests.items():
            if name not in self._schema.names:
                continue
            protection = (self._schema.field(name).metadata or {}).get(self.protection_key, b"")
            out[name] = column_seal(self.keys, name, protection, digest.digest())
        return out

    def metadata(self) -> dict[bytes, bytes]:
        """The seals as one metadata entry (empty when there is nothing to seal)."""
        seals = self.seals()
        return {SEAL_METADATA_KEY: json.dumps(seals, sort_keys=True).encode()} if seals else {}
