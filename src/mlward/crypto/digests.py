"""Parallel SHA-256 hashing of files, byte ranges (shards) and directory trees.

Two ways to cut a tree into hashable units, named as in OpenSSF model signing:

- ``files``: one SHA-256 per whole file. The digest is what ``sha256sum`` prints, but a
  single file can only use one core because SHA-256 is sequential.
- ``shards``: every file is cut into ``shard_size`` byte ranges (the last one shorter,
  empty files yield no range), each hashed on its own, so one large file keeps every
  core busy.

Both run on one thread pool: ``hashlib`` releases the GIL while it hashes a large
buffer, so threads scale with cores without pickling data to worker processes. Each
thread reads with ``readinto`` into its own reusable buffer (no per-chunk allocation)
and the largest units are started first, which keeps the cores balanced until the end.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from mlward.core.errors import InputError

HashMethod = Literal["files", "shards"]
HASH_METHODS: tuple[HashMethod, ...] = ("files", "shards")

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes read per system call; large enough that hashing, not syscalls, dominates."""
DEFAULT_SHARD_SIZE = 1_000_000_000
"""model_signing's default shard size (decimal GB, not GiB)."""
ROOT_NAME = "."
"""Name of the one file when the tree root is itself a file (as model_signing names it)."""


@dataclass(frozen=True)
class TreeFile:
    """One regular file found under a tree root."""

    path: Path
    """Where the file is on disk."""
    name: str
    """POSIX path relative to the root (``.`` when the root is the file)."""
    size: int
    """Size in bytes when the tree was walked."""


@dataclass(frozen=True)
class ByteRange:
    """A span of one file to hash."""

    path: Path
    """Where the file is on disk."""
    start: int
    """First byte offset (included)."""
    end: int | None
    """Offset after the last byte; None reads to end of file (whole-file hashing)."""
    size_hint: int
    """Expected bytes, used only to start the largest ranges first."""


@dataclass(frozen=True)
class RangeDigest:
    """The SHA-256 of one file or one shard of a file."""

    name: str
    """POSIX path of the file relative to the tree root."""
    start: int
    """First byte offset (0 for a whole file)."""
    end: int
    """Offset after the last byte hashed (the file size for a whole file)."""
    sha256: str
    """Lower-case hex digest."""


@dataclass(frozen=True)
class TreeDigest:
    """Digests of every unit of a tree, sorted as model_signing sorts its manifest."""

    root: Path
    """The tree that was hashed."""
    method: HashMethod
    """``files`` or ``shards``."""
    shard_size: int | None
    """Shard size in bytes for ``shards``; None for ``files``."""
    files: tuple[TreeFile, ...]
    """Every file included, sorted by path components."""
    digests: tuple[RangeDigest, ...]
    """One entry per file (``files``) or per shard (``shards``), sorted."""

    @property
    def total_bytes(self) -> int:
        """Bytes hashed."""
        return sum(d.end - d.start for d in self.digests)


def default_workers() -> int:
    """Threads to use: the cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def path_sort_key(name: str) -> tuple[str, ...]:
    """Sort key for relative POSIX names: by path components, as ``PurePosixPath`` sorts."""
    return PurePosixPath(name).parts


def normalize_ignore_path(value: str | PurePosixPath) -> PurePosixPath:
    """Validate a root-relative ignore path; raise ``InputError`` if it could escape or match all.

    Absolute paths, ``..`` components and the root itself (``""``, ``.``) are refused:
    the first two can never name a file inside the tree, the last would ignore everything.
    """
    text = str(value).replace("\\", "/")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ".." in path.parts or not path.parts:
        raise InputError(
            f"ignore path {str(value)!r} must name a file or folder inside the model",
            hint="use a relative path such as 'README.md' or 'checkpoints/'",
        )
    return path


def walk_tree(
    root: Path,
    *,
    ignore: Iterable[str | PurePosixPath] = (),
    allow_symlinks: bool = False,
) -> list[TreeFile]:
    """List the regular files under ``root`` (or ``root`` itself), sorted by path components.

    ``ignore`` holds root-relative paths; a file is skipped when its relative path starts
    with one of them (so ``.git`` skips ``.git/HEAD``). Symlinks raise ``InputError``
    unless ``allow_symlinks`` (then links to files are hashed through, links to folders
    are not followed). Sockets, pipes and devices always raise: we fail closed on things
    we cannot hash.
    """
    ignored = [normalize_ignore_path(p).parts for p in ignore]
    root_mode = _lstat(root).st_mode
    if stat.S_ISLNK(root_mode) and not allow_symlinks:
        raise InputError(f"{root} is a symlink", hint="pass the real path or allow symlinks")
    if not root.exists():
        raise InputError(f"{root} does not exist")
    if root.is_file():
        return [TreeFile(root, ROOT_NAME, _stat(root).st_size)]
    if not root.is_dir():
        raise InputError(f"{root} is neither a regular file nor a directory")

    found: list[TreeFile] = []
    pending: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise InputError(f"cannot list {folder}: {exc.strerror}") from exc
        for entry in entries:
            parts = (*prefix, entry.name)
            if any(parts[: len(ign)] == ign for ign in ignored):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                if not allow_symlinks:
                    raise InputError(f"{path} is a symlink", hint="symlinks are refused unless allowed")
                if path.is_file():
                    found.append(TreeFile(path, "/".join(parts), _stat(path).st_size))
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append((path, parts))
            elif entry.is_file(follow_symlinks=False):
                found.append(TreeFile(path, "/".join(parts), entry.stat().st_size))
            else:
                raise InputError(f"{path} is not a regular file (socket, pipe or device)")
    found.sort(key=lambda f: path_sort_key(f.name))
    return found


def shard_bounds(size: int, shard_size: int) -> list[tuple[int, int]]:
    """Cut ``size`` bytes into ``[start, end)`` ranges of ``shard_size`` (none when empty)."""
    if shard_size <= 0:
        raise ValueError(f"shard size must be positive, got {shard_size}")
    return [(start, min(start + shard_size, size)) for start in range(0, size, shard_size)]


_buffers = threading.local()


def _thread_buffer(chunk_size: int) -> memoryview:
    buf: bytearray | None = getattr(_buffers, "buf", None)
    if buf is None or len(buf) != chunk_size:
        buf = bytearray(chunk_size)
        _buffers.buf = buf
    return memoryview(buf)


def hash_range(
    path: Path, start: int = 0, end: int | None = None, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[str, int]:
    """Return ``(sha256 hex, bytes read)`` of ``path[start:end]`` (``end`` None: to EOF)."""
    view = _thread_buffer(chunk_size)
    hasher = hashlib.sha256()
    read = 0
    remaining = None if end is None else end - start
    try:
        with open(path, "rb", buffering=0) as handle:
            if hasattr(os, "posix_fadvise"):
                # A hint only: lets the kernel read ahead aggressively for this range.
                os.posix_fadvise(handle.fileno(), start, remaining or 0, os.POSIX_FADV_SEQUENTIAL)
            handle.seek(start)
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                got = handle.readinto(view[:want])
                if not got:
                    break
                hasher.update(view[:got])
                read += got
                if remaining is not None:
                    remaining -= got
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return hasher.hexdigest(), read


def hash_file(path: Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """SHA-256 hex of a whole file (the same value ``sha256sum`` prints)."""
    return hash_range(path, chunk_size=chunk_size)[0]


def hash_ranges(
    ranges: Sequence[ByteRange],
    *,
    max_workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list[tuple[str, int]]:
    """Hash every range on a thread pool; return ``(hex, bytes read)`` in input order.

    Ranges are started largest first (longest-processing-time scheduling), so a big
    file does not start last and leave the other cores idle at the end.
    """
    workers = max_workers or default_workers()
    order = sorted(range(len(ranges)), key=lambda i: ranges[i].size_hint, reverse=True)
    results: list[tuple[str, int]] = [("", 0)] * len(ranges)
    if workers == 1 or len(ranges) <= 1:
        for i in order:
            r = ranges[i]
            results[i] = hash_range(r.path, r.start, r.end, chunk_size=chunk_size)
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlward-hash") as pool:
        futures = {
            i: pool.submit(hash_range, ranges[i].path, ranges[i].start, ranges[i].end, chunk_size=chunk_size)
            for i in order
        }
        for i, future in futures.items():
            results[i] = future.result()
    return results


def hash_tree(
    root: Path,
    *,
    method: HashMethod = "files",
    shard_size: int = DEFAULT_SHARD_SIZE,
    ignore: Iterable[str | PurePosixPath] = (),
    allow_symlinks: bool = False,
    max_workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> TreeDigest:
    """Hash every file under ``root`` by whole file (``files``) or by shard (``shards``).

    Raises ``InputError`` for unreadable paths, refused symlinks and special files.
    """
    if method not in HASH_METHODS:
        raise ValueError(f"unknown hashing method {method!r}; expected one of {HASH_METHODS}")
    files = walk_tree(root, ignore=ignore, allow_symlinks=allow_symlinks)
    units: list[tuple[TreeFile, ByteRange]] = []
    for tree_file in files:
        if method == "files":
            units.append((tree_file, ByteRange(tree_file.path, 0, None, tree_file.size)))
            continue
        for start, end in shard_bounds(tree_file.size, shard_size):
            units.append((tree_file, ByteRange(tree_file.path, start, end, end - start)))
    hashed = hash_ranges([u[1] for u in units], max_workers=max_workers, chunk_size=chunk_size)
    digests = [
        # A file can change size after the walk; record what was actually hashed.
        RangeDigest(tf.name, br.start, br.start + read, hex_digest)
        for (tf, br), (hex_digest, read) in zip(units, hashed, strict=True)
    ]
    return TreeDigest(
        root=root,
        method=method,
        shard_size=shard_size if method == "shards" else None,
        files=tuple(files),
        digests=tuple(digests),
    )


def _lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except FileNotFoundError as exc:
        raise InputError(f"{path} does not exist") from exc
    except OSError as exc:
        raise InputError(f"cannot access {path}: {exc.strerror}") from exc


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as exc:
        raise InputError(f"cannot access {path}: {exc.strerror}") from exc
