"""Dataset bytes in the object store: plain or envelope-encrypted, always verified.

Plain files are stored under their own SHA-256, so identical content is stored once.
Encrypted files are stored as envelopes (``crypto/encryption.py``: a fresh AES-256-GCM
key per file, wrapped by the workspace data key); the manifest keeps the plaintext
digest, so the dataset digest does not depend on encryption, and an envelope already
stored for the same plaintext is reused instead of encrypting again. Plaintext of an
encrypted dataset never touches the store or a temporary file.

Reads check everything: the blob digest (object store), the AEAD tags (envelopes) and
the plaintext digest against the manifest, so a modified blob or a metadata row pointing
at another blob raises ``IntegrityError``.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from mlward.core.errors import IntegrityError
from mlward.crypto.encryption import decrypt_stream, encrypt_stream
from mlward.data.catalog.manifest import ManifestEntry
from mlward.data.catalog.results import DatasetFile
from mlward.data.profile import DatasetProfile
from mlward.store.objects import BlobInfo
from mlward.workspace import Workspace


class _HashingReader:
    """Hashes what is read through it (the encrypted bytes must be the hashed bytes)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hasher.update(data)
        return data


class _HashingWriter:
    """Hashes what is written through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self.raw.write(data)


def _changed(path: str) -> IntegrityError:
    return IntegrityError(f"{path} changed while it was being added; try again")


def store_file(
    workspace: Workspace, entry: ManifestEntry, *, encrypt: bool, reusable: dict[str, str]
) -> tuple[DatasetFile, bool]:
    """Store one manifest file; return its record and whether a new blob was written.

    ``reusable`` maps plaintext digests to envelopes already stored (encrypted mode).
    """
    objects = workspace.objects
    if not encrypt:
        info = objects.put_file(entry.source)
        if info.digest != entry.digest:
            raise _changed(entry.path)
        return DatasetFile(entry.path, entry.digest, entry.size, info.digest), info.created
    existing = reusable.get(entry.digest)
    if existing and objects.exists(existing):
        return DatasetFile(entry.path, entry.digest, entry.size, existing, encrypted=True), False
    with tempfile.TemporaryDirectory(dir=workspace.state_dir, prefix="catalog-") as tmp:
        sealed = Path(tmp) / "envelope"
        with entry.source.open("rb") as source, sealed.open("wb") as sink:
            reader = _HashingReader(source)
            encrypt_stream(reader, sink, workspace.keys.data_key())  # type: ignore[arg-type]
        if reader.hasher.hexdigest() != entry.digest:
            raise _changed(entry.path)
        info = objects.put_file(sealed)
    reusable[entry.digest] = info.digest
    return DatasetFile(entry.path, entry.digest, entry.size, info.digest, encrypted=True), info.created


def fetch_file(workspace: Workspace, file: DatasetFile, destination: Path) -> int:
    """Write ``file``'s plaintext to ``destination``; raise ``IntegrityError`` on any mismatch.

    ``destination`` may be left partly written on error: callers write into a staging
    directory and remove it when anything fails.
    """
    if not file.encrypted:
        if file.blob != file.digest:
            raise IntegrityError(
                f"{file.path}: the catalogue points at blob {file.blob[:12]}… "
                f"but the manifest digest is {file.digest[:12]}…"
            )
        workspace.objects.get_file(file.blob, destination)
        return file.size
    sealed = destination.with_name(f".{destination.name}.envelope")
    try:
        workspace.objects.get_file(file.blob, sealed)
        # 0600 like the object store's own copies: checked-out data is private to the user.
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with sealed.open("rb") as source, os.fdopen(descriptor, "wb") as raw:
            sink = _HashingWriter(raw)
            decrypt_stream(source, sink, list(workspace.keys.data_keys().values()))  # type: ignore[arg-type]
    finally:
        sealed.unlink(missing_ok=True)
    if sink.hasher.hexdigest() != file.digest:
        raise IntegrityError(f"{file.path}: decrypted content does not match the manifest digest")
    return sink.size


def store_profile(workspace: Workspace, profile: DatasetProfile, *, encrypt: bool) -> BlobInfo:
    """Store the profile JSON (an envelope when ``encrypt``).

    A profile holds a sample of values (sketch items, category names), so it is as
    sensitive as the data and is encrypted with it.
    """
    data = profile.to_json().encode("utf-8")
    if encrypt:
        sink = io.BytesIO()
        encrypt_stream(io.BytesIO(data), sink, workspace.keys.data_key())
        data = sink.getvalue()
    return workspace.objects.put_bytes(data)


def load_profile_blob(workspace: Workspace, blob: str, *, encrypted: bool) -> DatasetProfile:
    """Read (and decrypt) a stored profile."""
    data = workspace.objects.get_bytes(blob)
    if encrypted:
        sink = io.BytesIO()
        decrypt_stream(io.BytesIO(data), sink, list(workspace.keys.data_keys().values()))
        data = sink.getvalue()
    return DatasetProfile.from_json(data)


def make_private_dir(parent: Path, name: str) -> Path:
    """A fresh 0700 staging directory next to the checkout target (same file system)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.mlward-"))


__all__ = ["fetch_file", "load_profile_blob", "make_private_dir", "store_file", "store_profile"]
