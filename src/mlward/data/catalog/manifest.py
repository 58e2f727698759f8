"""Dataset manifests: which files a dataset is made of, their digests, and its digest.

A dataset on disk is one file or a directory tree. Its manifest lists every regular
file (relative POSIX path, SHA-256, size); symlinks, sockets and devices are refused so
nothing outside the tree is captured. The dataset digest is the SHA-256 of the canonical
JSON of the sorted ``[path, digest]`` pairs, so it names the content and the layout and
is independent of timestamps, permissions and the order the file system lists files in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlward.core.errors import ConfigError, InputError, IntegrityError
from mlward.crypto.digests import ROOT_NAME, hash_tree, path_sort_key
from mlward.data.io import SUFFIX_FORMATS, detect_format

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a dataset on disk."""

    path: str
    """POSIX path relative to the dataset root (the file name for a single file)."""
    digest: str
    """SHA-256 hex of its bytes."""
    size: int
    """Bytes hashed."""
    source: Path
    """Where it is on disk."""


@dataclass(frozen=True)
class Manifest:
    """Every file of a dataset, sorted, with the dataset digest."""

    root: Path
    """The file or directory the user named."""
    layout: str
    """``file`` or ``directory``."""
    entries: tuple[ManifestEntry, ...]
    """Files sorted by path components."""
    digest: str
    """SHA-256 of the canonical manifest."""
    format: str
    """``csv``, ``parquet``, ``jsonl`` or ``mixed`` (of the data files)."""

    @property
    def size(self) -> int:
        """Total bytes."""
        return sum(e.size for e in self.entries)


def check_dataset_name(name: str) -> str:
    """Validate a dataset name (lowercase letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME_RE.match(name or ""):
        raise ConfigError(
            f"invalid dataset name {name!r}",
            hint="use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def check_tag(tag: str) -> str:
    """Validate a tag: letters, digits, ``. _ : / -``; not a number and not ``latest``."""
    if not _TAG_RE.match(tag or "") or tag.isdigit() or tag == "latest":
        raise ConfigError(
            f"invalid tag {tag!r}",
            hint="use up to 64 letters, digits, '.', '_', ':', '/' or '-'; "
            "not a plain number and not 'latest' (those select versions)",
        )
    return tag


def parse_dataset_ref(text: str) -> tuple[str, str | None]:
    """Split ``name@selector`` (a version number, ``latest`` or a tag) into its parts."""
    name, _, selector = text.partition("@")
    return check_dataset_name(name), (selector or None)


def dataset_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """SHA-256 hex of ``[[path, digest], ...]`` sorted by path, as compact UTF-8 JSON."""
    ordered = sorted(pairs, key=lambda p: path_sort_key(p[0]))
    canonical = json.dumps([list(p) for p in ordered], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def safe_relative_path(text: str) -> PurePosixPath:
    """Return ``text`` as a relative path that stays inside its root, or raise.

    Paths come from the metadata store; one that is absolute or climbs out with ``..``
    means the store was tampered with, and checkout must not write outside its target.
    """
    path = PurePosixPath(text)
    if not text or "\\" in text or "\x00" in text or path.is_absolute() or ".." in path.parts:
        raise IntegrityError(f"manifest path {text!r} escapes the dataset root; the catalogue was modified")
    if path.parts in ((), (".",)):
        raise IntegrityError(f"manifest path {text!r} names no file; the catalogue was modified")
    return path


def verify_manifest(expected_digest: str, pairs: Sequence[tuple[str, str]]) -> None:
    """Raise ``IntegrityError`` unless ``pairs`` hash to ``expected_digest``."""
    for path, _ in pairs:
        safe_relative_path(path)
    actual = dataset_digest(pairs)
    if actual != expected_digest:
        raise IntegrityError(
            f"the file list no longer matches the version digest "
            f"({actual[:12]}… != {expected_digest[:12]}…): the catalogue was modified"
        )


def _data_format(root: Path, entries: Sequence[ManifestEntry]) -> str:
    formats = {detect_format(e.source) for e in entries if Path(e.path).suffix.lower() in SUFFIX_FORMATS}
    if not formats:
        raise InputError(f"{root}: no CSV, Parquet or JSON Lines files found")
    return formats.pop() if len(formats) == 1 else "mixed"


def build_manifest(path: str | os.PathLike[str], *, max_workers: int | None = None) -> Manifest:
    """Walk and hash the dataset at ``path`` (file or directory; files hashed in parallel)."""
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise InputError(f"{root}: no such file or directory")
    tree = hash_tree(root, method="files", max_workers=max_workers)
    layout = "file" if root.is_file() else "directory"
    by_name = {f.name: f for f in tree.files}
    entries = tuple(
        ManifestEntry(
            path=root.name if d.name == ROOT_NAME else d.name,
            digest=d.sha256,
            size=d.end - d.start,
            source=by_name[d.name].path,
        )
        for d in tree.digests
    )
    if not entries:
        raise InputError(f"{root}: the directory holds no files")
    return Manifest(
        root=root,
        layout=layout,
        entries=entries,
        digest=dataset_digest((e.path, e.digest) for e in entries),
        format=_data_format(root, entries),
    )
