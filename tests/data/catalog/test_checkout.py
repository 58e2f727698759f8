"""checkout: byte-identical, verified, all-or-nothing; tampering and access control."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from mlward.core.errors import AccessDenied, ConfigError, IntegrityError
from mlward.data.catalog import add_dataset, checkout_dataset, get_dataset
from mlward.data.catalog.models import DatasetFileRow


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _corrupt(path: str) -> None:
    """Flip one byte of a stored (read-only) blob, as an attacker with disk access would."""
    os.chmod(path, 0o644)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(path).write_bytes(bytes(data))


def test_file_checkout_is_byte_identical(any_workspace, credit, tmp_path: Path) -> None:
    ws = any_workspace
    add_dataset(ws, credit.csv, "apps")
    result = checkout_dataset(ws, "apps@1", tmp_path / "out.csv")
    assert result.path.read_bytes() == credit.csv.read_bytes()
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert (result.files, result.bytes) == (1, credit.csv.stat().st_size)

    # Into an existing directory: the original file name is kept.
    target = tmp_path / "dir"
    target.mkdir()
    assert checkout_dataset(ws, "apps", target).path == target / "applications.csv"
    with pytest.raises(ConfigError, match="already exists"):
        checkout_dataset(ws, "apps", target)
    assert checkout_dataset(ws, "apps", target, force=True).path.read_bytes() == credit.csv.read_bytes()
    assert [e.outcome for e in ws.audit.query(action="data.checkout")] == ["ok", "ok", "ok"]


def test_partitioned_parquet_directory(any_workspace, partitioned: Path, tmp_path: Path) -> None:
    ws = any_workspace
    version = add_dataset(ws, partitioned, "apps-by-state")
    files = sorted(p.relative_to(partitioned).as_posix() for p in partitioned.rglob("*") if p.is_file())
    assert [f.path for f in version.files] == files
    assert "_SUCCESS" in files and any(f.startswith("state=CA/") for f in files)
    assert (version.layout, version.format) == ("directory", "parquet")
    assert version.rows == pq.read_table(partitioned).num_rows
    assert version.schema["partition_keys"] == ["state"]
    assert [c.name for c in version.columns] == ["age", "income", "loan_amount", "purpose", "default"]

    out = tmp_path / "restored"
    checkout_dataset(ws, "apps-by-state@1", out)
    assert _tree(out) == _tree(partitioned)
    with pytest.raises(ConfigError, match="not an empty directory"):
        checkout_dataset(ws, "apps-by-state@1", out)


def test_tampered_blob_raises_and_writes_nothing(workspace, partitioned: Path, tmp_path: Path) -> None:
    version = add_dataset(workspace, partitioned, "apps-by-state")
    victim = next(f for f in version.files if f.path.endswith(".parquet"))
    _corrupt(workspace.objects.path_of(victim.blob))
    out = tmp_path / "checkouts" / "restored"
    with pytest.raises(IntegrityError, match="corrupted"):
        checkout_dataset(workspace, "apps-by-state", out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no staging directory left behind either
    failed = workspace.audit.query(action="data.checkout", outcome="failed")
    assert len(failed) == 1 and "corrupted" in failed[0].details["reason"]


def test_tampered_catalogue_rows_are_refused(workspace, credit, tmp_path: Path) -> None:
    version = add_dataset(workspace, credit.public_csv, "features")
    outside = tmp_path / "escape.csv"
    with workspace.metadata.session() as session:
        session.execute(update(DatasetFileRow).values(path="../escape.csv"))
    with pytest.raises(IntegrityError, match="escapes the dataset root"):
        checkout_dataset(workspace, "features", tmp_path / "out" / "f.csv")
    assert not outside.exists() and not (tmp_path / "out" / "f.csv").exists()

    # Pointing the row at another stored blob (here: the profile) is caught too.
    with workspace.metadata.session() as session:
        session.execute(update(DatasetFileRow).values(path="features.csv", blob=version.profile_blob))
    with pytest.raises(IntegrityError, match="points at blob"):
        checkout_dataset(workspace, "features", tmp_path / "f.csv")
    # And swapping in the digest of other content breaks the manifest digest.
    other = workspace.objects.put_bytes(b"age,income\n1,2\n").digest
    with workspace.metadata.session() as session:
        session.execute(update(DatasetFileRow).values(blob=other, digest=other))
    with pytest.raises(IntegrityError, match="no longer matches the version digest"):
        checkout_dataset(workspace, "features", tmp_path / "f.csv")
    assert not (tmp_path / "f.csv").exists()


def test_sensitive_checkout_needs_data_read(workspace, credit, tmp_path: Path, monkeypatch) -> None:
    add_dataset(workspace, credit.csv, "apps")
    add_dataset(workspace, credit.public_csv, "features")
    monkeypatch.setenv("MLWARD_PRINCIPAL", "mallory")
    with pytest.raises(AccessDenied, match="data:read"):
        checkout_dataset(workspace, "apps", tmp_path / "apps.csv")
    assert not (tmp_path / "apps.csv").exists()
    assert workspace.audit.query(action="access.denied", actor="mallory")[0].target == "apps@1"
    # Public data needs no permission.
    assert checkout_dataset(workspace, "features", tmp_path / "f.csv").path.exists()


@pytest.fixture
def encrypting_workspace(any_workspace, monkeypatch):
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_DATA__ENCRYPT_SENSITIVE", "true")
    ws = Workspace.open(any_workspace.root)
    assert ws.config.data.encrypt_sensitive
    yield ws
    ws.close()


def test_encrypted_storage_round_trip(encrypting_workspace, credit, tmp_path: Path) -> None:
    ws = encrypting_workspace
    secret = credit.table["ssn"][0].as_py().encode()
    email = credit.table["email"][0].as_py().encode()
    version = add_dataset(ws, credit.csv, "apps")
    stored = version.files[0]
    assert version.encrypted and stored.encrypted and version.key_id == ws.keys.data_kid()
    assert stored.blob != stored.digest and stored.digest == get_dataset(ws, "apps").files[0].digest
    for blob in (stored.blob, version.profile_blob):
        raw = ws.objects.get_bytes(blob)
        assert raw.startswith(b"MLWENC") and secret not in raw and email not in raw

    (tmp_path / "restored").mkdir()
    out = checkout_dataset(ws, "apps", tmp_path / "restored").path
    assert out.read_bytes() == credit.csv.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600

    # Re-adding the same file (name and bytes) elsewhere reuses the envelope and the
    # profile: nothing new is stored.
    before = set(ws.objects.digests())
    again = add_dataset(ws, out, "apps-copy")
    assert again.files[0].blob == stored.blob and again.new_blobs == 0
    assert set(ws.objects.digests()) == before

    # Public data stays in the clear even with encryption on.
    public = add_dataset(ws, credit.public_csv, "features")
    assert not public.encrypted and public.files[0].blob == public.files[0].digest

    # A catalogue row pointed at another valid envelope decrypts, but to the wrong bytes.
    other = add_dataset(ws, credit.drifted_csv, "october").files[0]
    assert other.encrypted
    with ws.metadata.session() as session:
        session.execute(
            update(DatasetFileRow).where(DatasetFileRow.blob == stored.blob).values(blob=other.blob)
        )
    with pytest.raises(IntegrityError, match="does not match the manifest digest"):
        checkout_dataset(ws, "apps", tmp_path / "swapped.csv")
    assert not (tmp_path / "swapped.csv").exists()
    with ws.metadata.session() as session:
        session.execute(
            update(DatasetFileRow).where(DatasetFileRow.digest == stored.digest).values(blob=stored.blob)
        )

    # A flipped bit in the envelope: refused, nothing written.
    _corrupt(ws.objects.path_of(stored.blob))
    with pytest.raises(IntegrityError):
        checkout_dataset(ws, "apps", tmp_path / "again.csv")
    assert not (tmp_path / "again.csv").exists()


def test_an_encrypted_row_pointed_at_another_valid_envelope_is_refused(
    encrypting_workspace, credit, tmp_path: Path
) -> None:
    # The other envelope decrypts and authenticates: only the plaintext digest, checked
    # against the manifest after decryption, tells it is not this version's content.
    ws = encrypting_workspace
    first = add_dataset(ws, credit.csv, "apps").files[0]
    shorter = tmp_path / "shorter.csv"
    shorter.write_bytes(b"".join(credit.csv.read_bytes().splitlines(keepends=True)[:-1]))
    second = add_dataset(ws, shorter, "apps-shorter").files[0]
    assert first.encrypted and second.encrypted and first.blob != second.blob
    with ws.metadata.session() as session:
        swap = update(DatasetFileRow).where(DatasetFileRow.blob == first.blob).values(blob=second.blob)
        session.execute(swap)
    with pytest.raises(IntegrityError, match="does not match the manifest digest"):
        checkout_dataset(ws, "apps@1", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
