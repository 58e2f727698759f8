"""Parallel sharded hashing: exact digests, tree walking rules, parity with model_signing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_signing import hashing as ref_hashing
from model_signing._serialization.file_shard import _endpoints as ref_endpoints

from mlward.core.errors import InputError
from mlward.crypto.digests import (
    ByteRange,
    hash_file,
    hash_range,
    hash_ranges,
    hash_tree,
    normalize_ignore_path,
    shard_bounds,
    walk_tree,
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model-like tree: nested folders, an empty file, a .git folder."""
    root = tmp_path_factory.mktemp("tree") / "model"
    (root / "a").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "a" / "b.bin").write_bytes(os.urandom(70_001))
    (root / "a-c.txt").write_text("sorted after a/b.bin by path components\n")
    (root / "weights.bin").write_bytes(os.urandom(250_000))
    (root / "empty.txt").write_bytes(b"")
    return root


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 17])
def test_hash_file_matches_hashlib_around_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(path, chunk_size=4096) == hashlib.sha256(data).hexdigest()


def test_hash_range_reads_only_the_range(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    digest, read = hash_range(path, 1234, 7777, chunk_size=1000)
    assert (digest, read) == (hashlib.sha256(data[1234:7777]).hexdigest(), 7777 - 1234)


def test_parallel_hash_ranges_equal_sequential_and_keep_input_order(tmp_path: Path) -> None:
    blobs = [os.urandom(n) for n in (5, 300_000, 0, 120_000, 77)]
    ranges = []
    for index, blob in enumerate(blobs):
        path = tmp_path / f"f{index}"
        path.write_bytes(blob)
        ranges.append(ByteRange(path, 0, None, len(blob)))
    parallel = hash_ranges(ranges, max_workers=4, chunk_size=65536)
    sequential = hash_ranges(ranges, max_workers=1, chunk_size=65536)
    assert parallel == sequential == [(hashlib.sha256(b).hexdigest(), len(b)) for b in blobs]


@given(size=st.integers(0, 10_000), shard_size=st.integers(1, 3_000))
def test_shard_bounds_cover_the_file_like_model_signing(size: int, shard_size: int) -> None:
    bounds = shard_bounds(size, shard_size)
    assert all(0 < end - start <= shard_size for start, end in bounds)
    assert [s for s, _ in bounds[1:]] == [e for _, e in bounds[:-1]]  # contiguous
    if size == 0:
        assert bounds == []  # model_signing records no shard for an empty file
    else:
        assert bounds[0][0] == 0 and bounds[-1][1] == size
        assert [e for _, e in bounds] == list(ref_endpoints(shard_size, size))


def test_walk_sorts_by_path_components_and_ignores_prefixes(tree: Path) -> None:
    names = [f.name for f in walk_tree(tree, ignore=[".git"])]
    # PurePosixPath order: "a/b.bin" < "a-c.txt" (component "a" < "a-c"), unlike str order.
    assert names == ["a/b.bin", "a-c.txt", "empty.txt", "weights.bin"]
    assert [f.name for f in walk_tree(tree, ignore=[".git", "a"])] == [
        "a-c.txt",
        "empty.txt",
        "weights.bin",
    ]
    assert ".git/HEAD" in [f.name for f in walk_tree(tree)]


def test_single_file_root_is_named_dot(tree: Path) -> None:
    (only,) = walk_tree(tree / "weights.bin")
    assert (only.name, only.size) == (".", 250_000)


def test_symlinks_are_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"weights")
    (tmp_path / "link.bin").symlink_to(tmp_path / "real.bin")
    with pytest.raises(InputError, match="symlink"):
        walk_tree(tmp_path)
    names = {f.name: f.size for f in walk_tree(tmp_path, allow_symlinks=True)}
    assert names == {"link.bin": 7, "real.bin": 7}


def test_special_files_fail_closed(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"1")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="not a regular file"):
        walk_tree(tmp_path)


@pytest.mark.parametrize("bad", ["", ".", "/etc", "../outside", "a/../../b"])
def test_ignore_paths_that_escape_or_match_everything_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        normalize_ignore_path(bad)


def test_missing_root_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        hash_tree(tmp_path / "nope")


def _reference_manifest(root: Path, **shards: int) -> dict[str, tuple[str, str]]:
    config = ref_hashing.Config().set_ignored_paths(paths=[], ignore_git_paths=True)
    if shards:
        config.use_shard_serialization(shard_size=shards["shard_size"])
    manifest = config.hash(root)
    return {r.identifier: (r.digest.algorithm, r.digest.digest_hex) for r in manifest.resource_descriptors()}


def test_files_method_matches_model_signing_manifest(tree: Path) -> None:
    ours = hash_tree(tree, method="files", ignore=[".git", ".github"], max_workers=2)
    reference = _reference_manifest(tree)
    assert [d.name for d in ours.digests] == list(reference)  # same order too
    assert {d.name: ("sha256", d.sha256) for d in ours.digests} == reference
    assert ours.total_bytes == 70_001 + 250_000 + (tree / "a-c.txt").stat().st_size


def test_shards_method_matches_model_signing_manifest(tree: Path) -> None:
    ours = hash_tree(tree, method="shards", shard_size=65_536, ignore=[".git"], max_workers=2)
    reference = _reference_manifest(tree, shard_size=65_536)
    named = {f"{d.name}:{d.start}:{d.end}": d.sha256 for d in ours.digests}
    assert named == {name: digest for name, (_, digest) in reference.items()}
    assert "empty.txt:0:0" not in named  # empty files have no shard, as in model_signing


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=50_000), shard_size=st.integers(1, 20_000))
def test_sharded_digests_reassemble_to_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, shard_size: int
) -> None:
    path = tmp_path_factory.mktemp("h") / "f.bin"
    path.write_bytes(data)
    tree_digest = hash_tree(path, method="shards", shard_size=shard_size, max_workers=3)
    expected = [hashlib.sha256(data[s:e]).hexdigest() for s, e in shard_bounds(len(data), shard_size)]
    assert [d.sha256 for d in tree_digest.digests] == expected
    assert tree_digest.total_bytes == len(data)
