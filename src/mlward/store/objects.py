"""Content-addressed blob store.

Blobs are named by the SHA-256 of their bytes and laid out as ``ab/cdef...``. Writes
stream through a hash into a temporary file that is fsynced and renamed into place,
so a writer killed mid-write never leaves a partial blob under a real name, and the
same content is stored once. Reads verify the digest before bytes reach the caller's
destination: a corrupted blob raises ``IntegrityError``.

The local filesystem is the default; any fsspec URL (``s3://bucket/prefix``) works
through the generic path, which uploads to a temporary key and then moves it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import fsspec

from mlward.core.errors import ConfigError, IntegrityError, NotFound, StoreError
from mlward.core.optional import require

CHUNK = 8 << 20
# URL schemes whose fsspec implementation comes with an mlward extra: scheme -> module.
_EXTRA_PROTOCOLS = {"s3": "s3fs", "s3a": "s3fs"}
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlobInfo:
    """What the store knows about one blob."""

    digest: str
    """Lowercase hex SHA-256 of the content."""
    size: int
    """Size in bytes."""
    created: bool
    """False when identical content was already stored (deduplicated)."""


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and root path of ``url``; a missing backend names its extra."""
    protocol = fsspec.utils.get_protocol(url)
    if protocol in _EXTRA_PROTOCOLS:
        require(_EXTRA_PROTOCOLS[protocol], feature=f"{protocol}:// object stores")
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        # Another fsspec backend (gcsfs, adlfs, ...) or an unknown scheme: fsspec says which.
        raise ConfigError(f"object_store {url}: {exc}") from exc
    return fs, str(root)


def check_digest(digest: str) -> str:
    """Validate a hex SHA-256 (optionally ``sha256:``-prefixed) and return the bare hex."""
    bare = digest.removeprefix("sha256:").lower()
    if not _DIGEST_RE.match(bare):
        raise NotFound(f"not a sha256 digest: {digest!r}")
    return bare


class ObjectStore:
    """Content-addressed blobs under ``url`` (a directory path or an fsspec URL)."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        url = os.fspath(url)
        self.fs: Any
        self.fs, root = _filesystem(url)
        self.root = root.rstrip("/")
        self.is_local = "file" in self.fs.protocol or "local" in self.fs.protocol
        self.url = url
        if self.is_local:
            try:
                Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the object store at {self.root}: {exc.strerror}") from exc

    def path_of(self, digest: str) -> str:
        """Return the storage path of a blob."""
        bare = check_digest(digest)
        return f"{self.root}/{bare[:2]}/{bare[2:]}"

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        return bool(self.fs.exists(self.path_of(digest)))

    def size(self, digest: str) -> int:
        """Size of a stored blob in bytes."""
        try:
            return int(self.fs.size(self.path_of(digest)))
        except FileNotFoundError:
            raise NotFound(f"no blob {digest}") from None

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store the file at ``path`` (streamed; constant memory)."""
        try:
            with open(path, "rb", buffering=0) as source:
                return self.put_stream(source)
        except FileNotFoundError:
            raise NotFound(f"{path}: no such file") from None
        except IsADirectoryError:
            raise StoreError(f"{path}: is a directory, expected a file") from None

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data``."""
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return BlobInfo(digest, len(data), created=False)
        with io.BytesIO(data) as stream:
            return self.put_stream(stream)

    def put_stream(self, stream: BinaryIO | IO[bytes]) -> BlobInfo:
        """Store everything read from ``stream``; returns its digest."""
        if self.is_local:
            return self._put_local(stream)
        return self._put_remote(stream)

    def _put_local(self, stream: BinaryIO | IO[bytes]) -> BlobInfo:
        hasher = hashlib.sha256()
        size = 0
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        fd, tmp = tempfile.mkstemp(dir=f"{self.root}/tmp", prefix="put-")
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                while True:
                    count = _readinto(stream, buffer)
                    if not count:
                        break
                    chunk = view[:count]
                    hasher.update(chunk)
                    out.write(chunk)
                    size += count
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = Path(self.path_of(digest))
            if final.exists():
                os.unlink(tmp)
                return BlobInfo(digest, size, created=False)
            final.parent.mkdir(exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return BlobInfo(digest, size, created=True)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _put_remote(self, stream: BinaryIO | IO[bytes]) -> BlobInfo:
        hasher = hashlib.sha256()
        size = 0
        tmp = f"{self.root}/tmp/put-{uuid.uuid4().hex}"  # noqa: S108 - inside the store root
        try:
            with self.fs.open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            final = self.path_of(digest)
            if self.fs.exists(final):
                self.fs.rm(tmp)
                return BlobInfo(digest, size, created=False)
            self.fs.mv(tmp, final)
            return BlobInfo(digest, size, created=True)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
            raise

    @contextlib.contextmanager
    def _open_raw(self, digest: str) -> Iterator[BinaryIO]:
        path = self.path_of(digest)
        try:
            handle = self.fs.open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"no blob {digest} in the object store") from None
        with handle:
            yield handle

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob; raise ``IntegrityError`` if its bytes changed."""
        bare = check_digest(digest)
        hasher = hashlib.sha256()
        with self._open_raw(bare) as handle:
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
        _compare(bare, hasher.hexdigest())

    def get_bytes(self, digest: str) -> bytes:
        """Return a blob's content, verified."""
        bare = check_digest(digest)
        with self._open_raw(bare) as handle:
            data = handle.read()
        _compare(bare, hashlib.sha256(data).hexdigest())
        return bytes(data)

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> Path:
        """Copy a blob to ``destination``; the file appears only if the digest verifies."""
        bare = check_digest(digest)
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out, self._open_raw(bare) as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            _compare(bare, hasher.hexdigest())
            os.replace(tmp, target)
            return target
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def quarantine(self, digest: str) -> str:
        """Move a blob found corrupted aside (``quarantine/<digest>-<ns>``, kept for forensics); its new path.

        Nothing reads it from there: loads then fail with ``NotFound`` until the blob is
        restored (``put_file`` of the good bytes).
        """
        bare = check_digest(digest)
        target = f"{self.root}/quarantine/{bare}-{time.time_ns()}"
        if self.is_local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.fs.mv(self.path_of(bare), target)
        return target

    def delete(self, digest: str) -> None:
        """Remove a blob (used by garbage collection)."""
        path = self.path_of(digest)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path)

    def digests(self) -> Iterator[str]:
        """Every stored digest."""
        for path in self.fs.find(self.root):
            parts = path.rstrip("/").split("/")
            candidate = parts[-2] + parts[-1]
            if len(parts[-2]) == 2 and _DIGEST_RE.match(candidate):
                yield candidate

    def clean_temporary(self) -> int:
        """Delete leftover temporary files of killed writers; return how many."""
        count = 0
        tmp_dir = f"{self.root}/tmp"  # noqa: S108 - inside the store root
        if self.is_local:
            for entry in Path(tmp_dir).glob("put-*"):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    count += 1
        return count


def _compare(expected: str, actual: str) -> None:
    if actual != expected:
        raise IntegrityError(
            f"blob {expected[:16]}… is corrupted: its content hashes to {actual[:16]}…",
            hint="restore it from a backup or re-add the artifact",
        )


def _readinto(stream: Any, buffer: bytearray) -> int:
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer) or 0)
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["BlobInfo", "ObjectStore", "check_digest"]
