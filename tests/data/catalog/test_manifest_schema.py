"""Manifest digests, refused inputs, and the migration matching the ORM tables."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.core.errors import InputError, IntegrityError
from mlward.data.catalog import dataset_digest
from mlward.data.catalog.manifest import build_manifest, safe_relative_path, verify_manifest
from mlward.data.catalog.models import DatasetRow
from mlward.store.models import Base

_DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64)
_PATH = st.lists(st.text("abcXYZ_=-0123", min_size=1, max_size=8), min_size=1, max_size=3).map(
    lambda parts: "/".join(parts) + ".parquet"
)


def test_dataset_digest_is_canonical_json_of_sorted_pairs() -> None:
    pairs = [("b.csv", "1" * 64), ("a/z.parquet", "2" * 64)]
    expected = hashlib.sha256(
        json.dumps([["a/z.parquet", "2" * 64], ["b.csv", "1" * 64]], separators=(",", ":")).encode()
    ).hexdigest()
    assert dataset_digest(pairs) == dataset_digest(reversed(pairs)) == expected


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_PATH, _DIGEST, min_size=1, max_size=6), st.randoms())
def test_digest_ignores_order_and_detects_any_change(files: dict[str, str], rnd) -> None:
    pairs = list(files.items())
    shuffled = pairs[:]
    rnd.shuffle(shuffled)
    assert dataset_digest(pairs) == dataset_digest(shuffled)
    path, digest = pairs[0]
    flipped = ("0" if digest[0] != "0" else "1") + digest[1:]
    assert dataset_digest([(path, flipped), *pairs[1:]]) != dataset_digest(pairs)
    assert dataset_digest([(path + "x", digest), *pairs[1:]]) != dataset_digest(pairs)
    verify_manifest(dataset_digest(pairs), shuffled)


def test_directory_manifest_and_timestamps(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "year=2026").mkdir(parents=True)
    (root / "year=2026" / "part-0.csv").write_text("a,b\n1,2\n")
    (root / "top.csv").write_text("a,b\n3,4\n")
    first = build_manifest(root)
    assert [e.path for e in first.entries] == ["top.csv", "year=2026/part-0.csv"]
    assert (first.layout, first.format, first.size) == ("directory", "csv", 16)
    os.utime(root / "top.csv", (1, 1))
    assert build_manifest(root).digest == first.digest
    single = build_manifest(root / "top.csv")
    assert single.layout == "file" and single.entries[0].path == "top.csv"


def test_symlinks_and_escaping_paths_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.csv").write_text("a\n1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    (root / "b.csv").symlink_to(secret)
    with pytest.raises(InputError, match="symlink"):
        build_manifest(root)
    for bad in ("../x.csv", "/etc/passwd", "a/../../x", "", ".", "a\\..\\x", "a\x00b"):
        with pytest.raises(IntegrityError):
            safe_relative_path(bad)
    assert safe_relative_path("state=CA/part-0.parquet").parts == ("state=CA", "part-0.parquet")


def test_migration_matches_models(any_workspace) -> None:
    ours = {t.name for t in Base.metadata.sorted_tables if t.name.startswith("dataset")}
    assert DatasetRow.__tablename__ in ours and len(ours) == 5
    with any_workspace.metadata.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    def table_of(diff) -> str:
        item = diff[0] if isinstance(diff, list) else diff  # modify_* diffs come in lists
        if item[0] in ("add_table", "remove_table"):
            return item[1].name
        if item[0].startswith(("add_", "remove_")) and hasattr(item[1], "table"):
            return item[1].table.name  # indexes, constraints, foreign keys
        return item[2]  # (kind, schema, table, ...) for columns and modifications

    assert [d for d in diffs if table_of(d) in ours] == []
