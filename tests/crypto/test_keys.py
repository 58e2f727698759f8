from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mlward.core.errors import KeyFileError
from mlward.crypto.keys import KeyRing


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    keys = KeyRing(tmp_path / "keys")
    keys.create()
    return keys


def test_create_makes_private_files_0600(ring: KeyRing):
    for path in ring.directory.iterdir():
        if path.name.endswith((".key",)) or (path.suffix == ".pem" and not path.name.endswith(".pub.pem")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.data_key()) == 32


def test_loose_permissions_are_refused(ring: KeyRing):
    pem = ring.directory / f"signing-{ring.signing_kid()}.pem"
    pem.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        ring.signing_key()
    data = ring.directory / f"data-{ring.data_kid()}.key"
    data.chmod(0o640)
    with pytest.raises(KeyFileError, match="permissions 0640"):
        ring.data_key()


def test_rotation_keeps_old_keys_for_verification(ring: KeyRing):
    old_kid = ring.signing_kid()
    old_key = ring.signing_key()
    signature = old_key.sign(b"model", ec.ECDSA(hashes.SHA256()))
    old_data = ring.data_key()
    ring.rotate()
    assert ring.signing_kid() != old_kid
    publics = ring.public_keys()
    assert set(publics) >= {old_kid, ring.signing_kid()}
    publics[old_kid].verify(signature, b"model", ec.ECDSA(hashes.SHA256()))
    assert ring.data_keys()[next(k for k in ring.data_keys() if k != ring.data_kid())] == old_data
    infos = ring.list()
    assert sum(1 for i in infos if i.active) == 2 and len(infos) == 4


def test_listing_reveals_no_secret(ring: KeyRing):
    text = repr(ring.list())
    assert ring.data_key().hex() not in text
    assert "PRIVATE" not in text


def test_derived_subkeys_differ_by_purpose(ring: KeyRing):
    assert ring.derive("a") != ring.derive("b")
    assert ring.derive("a") == ring.derive("a")


def test_missing_keyring(tmp_path: Path):
    with pytest.raises(KeyFileError, match="mlward init"):
        KeyRing(tmp_path / "none").signing_key()
