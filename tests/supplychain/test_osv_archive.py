"""The offline OSV all.zip service: indexing, the digest-keyed cache, bad archives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlward.supplychain import osv_archive
from mlward.supplychain.interface import PackageVersion, ServiceError
from mlward.supplychain.osv_archive import OsvArchiveService, sha256_file


def _ids(service: OsvArchiveService, name: str, version: str) -> list[str]:
    package = PackageVersion(name, version)
    return [v.id for v in service.query([package]).vulnerabilities[package]]


def test_archive_matches_and_skips_withdrawn(osv_zip: Path, cache_dir: Path) -> None:
    service = OsvArchiveService(osv_zip, cache_dir=cache_dir)
    assert _ids(service, "jinja2", "2.10") == [
        "GHSA-g3rq-g295-4j3m",
        "GHSA-h5c8-rqwp-cp95",
        "PYSEC-2021-66",
    ]
    assert _ids(service, "requests", "2.30.0") == ["GHSA-j8r2-6x86-q33q"]  # not MLWARD-TEST-2
    assert _ids(service, "requests", "2.31.0") == []
    assert _ids(service, "pyyaml", "5.3.1") == ["GHSA-8q59-q68h-6hv4"]
    assert _ids(service, "not-in-the-db", "1.0") == []
    assert service.stats is not None
    assert service.stats.advisories == 10 and service.stats.withdrawn == 1
    assert service.stats.rejected == (
        "BROKEN-1.json: not JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))",
    )
    service.close()


def test_unusable_members_are_reported_as_warnings(osv_zip: Path) -> None:
    service = OsvArchiveService(osv_zip)  # no cache dir: index in memory
    result = service.query([PackageVersion("requests", "2.30.0")])
    assert result.warnings == (
        "1 member(s) of PyPI-all.zip could not be used, first: BROKEN-1.json: not JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    )
    assert service.index_path is None


def test_index_is_cached_by_digest_and_reused(
    osv_zip: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = OsvArchiveService(osv_zip, cache_dir=cache_dir)
    _ids(first, "requests", "2.30.0")
    first.close()
    assert first.index_path == cache_dir / f"osv-{sha256_file(osv_zip)}.sqlite"
    assert [p.name for p in cache_dir.iterdir()] == [first.index_path.name]  # no temp left

    def no_rebuild(*args: object) -> None:
        raise AssertionError("the cached index should have been used")

    monkeypatch.setattr(osv_archive, "build_index", no_rebuild)
    second = OsvArchiveService(osv_zip, cache_dir=cache_dir)
    assert _ids(second, "urllib3", "2.0.5") == ["GHSA-v845-jxx5-vc9f"]
    assert second.stats is not None and second.stats.advisories == 10
    second.close()


def test_a_changed_archive_gets_a_new_index(tmp_path: Path, cache_dir: Path, make_osv_zip, advisory) -> None:
    import json

    archive = make_osv_zip(tmp_path / "all.zip")
    before = OsvArchiveService(archive, cache_dir=cache_dir)
    assert _ids(before, "mlward-fixture-unrated", "3.0") == []
    before.close()
    record = advisory("MLWARD-TEST-5")
    record["id"] = "MLWARD-TEST-6"
    record["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}]
    make_osv_zip(archive, {"MLWARD-TEST-6.json": json.dumps(record).encode()})
    after = OsvArchiveService(archive, cache_dir=cache_dir)
    assert _ids(after, "mlward-fixture-unrated", "3.0") == ["MLWARD-TEST-6"]
    after.close()
    assert len(list(cache_dir.glob("osv-*.sqlite"))) == 2


def test_a_stale_index_format_is_rebuilt(osv_zip: Path, cache_dir: Path) -> None:
    service = OsvArchiveService(osv_zip, cache_dir=cache_dir)
    _ids(service, "requests", "2.30.0")
    service.close()
    assert service.index_path is not None
    with sqlite3.connect(service.index_path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'format'")
    again = OsvArchiveService(osv_zip, cache_dir=cache_dir)
    assert _ids(again, "requests", "2.30.0") == ["GHSA-j8r2-6x86-q33q"]
    again.close()
    with sqlite3.connect(service.index_path) as db:
        fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0]
    assert fmt == osv_archive.INDEX_FORMAT


def test_oversized_member_is_rejected_without_inflating(
    tmp_path: Path, make_osv_zip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(osv_archive, "MAX_RECORD_BYTES", 4096)
    archive = make_osv_zip(tmp_path / "all.zip", {"HUGE-1.json": b" " * 100_000 + b"{}"})
    service = OsvArchiveService(archive)
    service.query([PackageVersion("requests", "2.30.0")])
    assert service.stats is not None
    assert service.stats.rejected == ("HUGE-1.json: larger than 4096 bytes",)


def test_not_a_zip_is_a_service_error(tmp_path: Path) -> None:
    fake = tmp_path / "all.zip"
    fake.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(ServiceError, match="cannot read OSV archive"):
        OsvArchiveService(fake).query([PackageVersion("requests", "2.30.0")])


def test_missing_archive_is_a_service_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="does not exist") as caught:
        OsvArchiveService(tmp_path / "nope.zip").query([])
    assert caught.value.exit_code == 3


def test_unwritable_cache_falls_back_to_memory(osv_zip: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    service = OsvArchiveService(osv_zip, cache_dir=blocker / "cache")
    assert _ids(service, "requests", "2.30.0") == ["GHSA-j8r2-6x86-q33q"]
    assert service.index_path is None
