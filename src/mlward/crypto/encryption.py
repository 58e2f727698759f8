"""Symmetric encryption: per-purpose subkeys, value-level AEAD, and envelope files.

Three layers, all on ``cryptography``:

* ``derive_subkey`` / ``DataKeys``: HKDF-SHA256 subkeys of the workspace data key, one
  per purpose (keyed hashing, AES-SIV tokens, FF3-1, AES-GCM values, key wrapping), so
  no key is ever used by two algorithms.
* ``seal_value`` / ``open_value`` (randomized AES-256-GCM) and ``siv_token`` /
  ``siv_open`` (deterministic AES-SIV, RFC 5297) for single cell values.
* ``encrypt_stream`` / ``decrypt_stream`` and the file variants: envelope encryption.
  Each file gets a fresh random 256-bit data key wrapped (RFC 3394 AES key wrap) by a
  subkey of the workspace key. The body is a sequence of AES-256-GCM chunks (the STREAM
  construction): chunk ``i``'s nonce is ``prefix(7) || i (4, big-endian) || last(1)`` and
  every chunk authenticates the whole header, so flipping a bit anywhere, reordering,
  dropping, truncating or appending chunks fails with ``IntegrityError``. Memory stays
  bounded by the chunk size whatever the file size.

File layout (all integers big-endian)::

    magic "MLWENC" | version u8 (1) | algorithm u8 (1) | chunk_size u32 |
    nonce_prefix 7B | key_id 8B | wrapped_key_len u16 | wrapped_key |
    chunk_0 ... chunk_n   (each: ciphertext || 16-byte tag; chunk_n has last=1)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from mlward.core.errors import ConfigError, InputError, IntegrityError

MAGIC = b"MLWENC"
FORMAT_VERSION = 1
ALG_AES256GCM_KW = 1
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20
_TAG = 16
_PREFIX = 7
_FIXED = struct.Struct(">6sBBI7s8sH")
_GCM_NONCE = 12
_KEY_ID_LABEL = b"mlward envelope key id v1"

PURPOSE_HASH = "mlward/pii/hmac-sha256/v1"
PURPOSE_SIV = "mlward/pii/aes-siv/v1"
PURPOSE_FPE = "mlward/pii/ff3-1/v1"
PURPOSE_GCM = "mlward/pii/aes-gcm/v1"
PURPOSE_WRAP = "mlward/envelope/aes-kw/v1"


def derive_subkey(master: bytes, purpose: str, length: int = 32) -> bytes:
    """Derive a ``length``-byte subkey of ``master`` for one ``purpose`` (HKDF-SHA256)."""
    if len(master) < 16:
        raise ConfigError("a master key must have at least 16 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
    return hkdf.derive(master)


@dataclass(frozen=True, repr=False)
class DataKeys:
    """Per-purpose subkeys of one workspace data key (never printed: no repr)."""

    hash_key: bytes
    """HMAC-SHA256 key for deterministic keyed hashes (32 bytes)."""
    siv_key: bytes
    """AES-SIV key for deterministic reversible tokens (64 bytes: AES-256-SIV)."""
    fpe_key: bytes
    """FF3-1 AES key (32 bytes)."""
    gcm_key: bytes
    """AES-256-GCM key for randomized value encryption (32 bytes)."""

    @classmethod
    def derive(cls, data_key: bytes) -> DataKeys:
        """Derive every subkey from the 32-byte workspace data key."""
        return cls(
            hash_key=derive_subkey(data_key, PURPOSE_HASH, 32),
            siv_key=derive_subkey(data_key, PURPOSE_SIV, 64),
            fpe_key=derive_subkey(data_key, PURPOSE_FPE, 32),
            gcm_key=derive_subkey(data_key, PURPOSE_GCM, 32),
        )

    def __repr__(self) -> str:
        return "DataKeys(<redacted>)"


def keyed_hash(key: bytes, value: bytes) -> bytes:
    """HMAC-SHA256 of ``value`` under ``key``."""
    return hmac.new(key, value, hashlib.sha256).digest()


def seal_value(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt one value with AES-256-GCM and a random nonce: ``nonce || ciphertext || tag``."""
    nonce = os.urandom(_GCM_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_value(key: bytes, sealed: bytes, associated_data: bytes = b"") -> bytes:
    """Decrypt a value made by :func:`seal_value`; ``IntegrityError`` if it does not verify."""
    if len(sealed) < _GCM_NONCE + _TAG:
        raise IntegrityError("encrypted value is too short")
    try:
        return AESGCM(key).decrypt(sealed[:_GCM_NONCE], sealed[_GCM_NONCE:], associated_data)
    except InvalidTag:
        raise IntegrityError("encrypted value does not verify (wrong key or modified)") from None


def siv_token(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """Deterministic AES-SIV encryption: equal inputs give equal tokens (joins still work)."""
    return AESSIV(key).encrypt(plaintext, [associated_data])


def siv_open(key: bytes, token: bytes, associated_data: bytes = b"") -> bytes:
    """Invert :func:`siv_token`; raise ``IntegrityError`` if the token does not verify."""
    try:
        return AESSIV(key).decrypt(token, [associated_data])
    except (InvalidTag, ValueError):
        raise IntegrityError("token does not verify (wrong key or modified)") from None


# --- envelope encryption -------------------------------------------------------------


def envelope_key_id(wrapping_key: bytes) -> bytes:
    """An 8-byte id of a wrapping key that reveals nothing about it."""
    return hmac.new(wrapping_key, _KEY_ID_LABEL, hashlib.sha256).digest()[:8]


@dataclass(frozen=True)
class EnvelopeHeader:
    """The parsed, not yet verified, header of an encrypted file."""

    version: int
    """File format version."""
    chunk_size: int
    """Plaintext bytes per chunk."""
    nonce_prefix: bytes
    """Random 7-byte prefix of every chunk nonce."""
    key_id: bytes
    """Id of the wrapping key (see ``envelope_key_id``)."""
    wrapped_key: bytes
    """The file's data key, wrapped with RFC 3394 AES key wrap."""
    raw: bytes
    """The header bytes, authenticated as associated data of every chunk."""


def _pack_header(chunk_size: int, prefix: bytes, key_id: bytes, wrapped: bytes) -> bytes:
    fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, ALG_AES256GCM_KW, chunk_size, prefix, key_id, len(wrapped))
    return fixed + wrapped


def read_header(source: BinaryIO) -> EnvelopeHeader:
    """Read and parse the header of an encrypted stream."""
    fixed = source.read(_FIXED.size)
    if len(fixed) < _FIXED.size or not fixed.startswith(MAGIC):
        raise IntegrityError("not an mlward encrypted file (bad magic or truncated header)")
    _, version, alg, chunk_size, prefix, key_id, wrapped_len = _FIXED.unpack(fixed)
    if version != FORMAT_VERSION or alg != ALG_AES256GCM_KW:
        raise IntegrityError(f"unsupported encrypted file version {version} / algorithm {alg}")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE or wrapped_len != 40:
        raise IntegrityError("corrupt encrypted file header")
    wrapped = source.read(wrapped_len)
    if len(wrapped) != wrapped_len:
        raise IntegrityError("truncated encrypted file header")
    return EnvelopeHeader(version, chunk_size, prefix, key_id, wrapped, fixed + wrapped)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise InputError("file too large for one envelope (2**32 chunks)")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def encrypt_stream(
    source: BinaryIO, sink: BinaryIO, wrapping_key: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Envelope-encrypt ``source`` into ``sink``; return the number of plaintext bytes."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ConfigError(f"chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes")
    data_key = AESGCM.generate_key(bit_length=256)
    kek = derive_subkey(wrapping_key, PURPOSE_WRAP)
    prefix = secrets.token_bytes(_PREFIX)
    header = _pack_header(chunk_size, prefix, envelope_key_id(wrapping_key), aes_key_wrap(kek, data_key))
    sink.write(header)
    aead = AESGCM(data_key)
    total = 0
    index = 0
    chunk = _read_full(source, chunk_size)
    while True:
        # One chunk of look-ahead tells whether this chunk is the last one.
        following = _read_full(source, chunk_size) if len(chunk) == chunk_size else b""
        last = not following
        sink.write(aead.encrypt(_nonce(prefix, index, last), chunk, header))
        total += len(chunk)
        if last:
            return total
        chunk = following
        index += 1


def _select_key(header: EnvelopeHeader, wrapping_keys: bytes | Iterable[bytes]) -> bytes:
    candidates = [wrapping_keys] if isinstance(wrapping_keys, bytes) else list(wrapping_keys)
    for candidate in candidates:
        if hmac.compare_digest(envelope_key_id(candidate), header.key_id):
            return candidate
    raise IntegrityError(
        f"file was encrypted with another key (key id {header.key_id.hex()})",
        hint="use the workspace that encrypted it, or restore the retired data key",
    )


def decrypt_stream(source: BinaryIO, sink: BinaryIO, wrapping_key: bytes | Iterable[bytes]) -> int:
    """Decrypt an envelope stream into ``sink``; return the number of plaintext bytes.

    Chunks are verified before they are written, but a failure in a later chunk leaves
    the earlier plaintext in ``sink``: callers writing files should use
    :func:`decrypt_file`, which discards partial output. ``wrapping_key`` may be several
    keys (active and retired); the header's key id selects one.
    """
    header = read_header(source)
    kek = derive_subkey(_select_key(header, wrapping_key), PURPOSE_WRAP)
    try:
        data_key = aes_key_unwrap(kek, header.wrapped_key)
    except InvalidUnwrap:
        raise IntegrityError("encrypted file header does not verify (wrapped key modified)") from None
    aead = AESGCM(data_key)
    sealed_size = header.chunk_size + _TAG
    total = 0
    index = 0
    chunk = _read_full(source, sealed_size)
    while True:
        following = _read_full(source, sealed_size) if len(chunk) == sealed_size else b""
        last = not following
        if len(chunk) < _TAG:
            raise IntegrityError(f"encrypted file truncated at chunk {index}")
        try:
            plain = aead.decrypt(_nonce(header.nonce_prefix, index, last), chunk, header.raw)
        except InvalidTag:
            raise IntegrityError(
                f"encrypted file does not verify at chunk {index}: it was modified, "
                "truncated, reordered or extended"
            ) from None
        sink.write(plain)
        total += len(plain)
        if last:
            return total
        chunk = following
        index += 1


def _atomic_transform(src: Path, dst: Path, action: str, wrapping_key: bytes | Iterable[bytes]) -> int:
    try:
        source = src.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {src}: {exc.strerror or exc}") from exc
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    tmp = Path(tmp_name)
    try:
        with source, os.fdopen(handle, "wb") as sink:
            if action == "encrypt":
                if not isinstance(wrapping_key, bytes):
                    raise TypeError("encryption takes exactly one wrapping key")
                total = encrypt_stream(source, sink, wrapping_key)
            else:
                total = decrypt_stream(source, sink, wrapping_key)
            sink.flush()
            os.fsync(sink.fileno())
        tmp.replace(dst)
    except BaseException:
        # Never leave partial (possibly unverified) plaintext behind.
        tmp.unlink(missing_ok=True)
        raise
    return total


def encrypt_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], wrapping_key: bytes) -> int:
    """Envelope-encrypt file ``src`` to ``dst`` atomically; return the plaintext size."""
    return _atomic_transform(Path(src), Path(dst), "encrypt", wrapping_key)


def decrypt_file(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], wrapping_key: bytes | Iterable[bytes]
) -> int:
    """Decrypt ``src`` to ``dst``; ``dst`` appears only if every chunk verified."""
    return _atomic_transform(Path(src), Path(dst), "decrypt", wrapping_key)
