"""The workspace keyring: an ECDSA P-256 signing key and a 256-bit data key.

Layout under ``.mlward/keys``::

    keyring.json              active key ids and the retired ones (no secrets)
    signing-<kid>.pem         PKCS#8 private key, 0600
    signing-<kid>.pub.pem     public key
    data-<kid>.key            32 random bytes, 0600

Key ids are the first 16 hex digits of the SHA-256 fingerprint (of the DER public key
for signing keys; of an HMAC of a fixed label for data keys, so the id reveals nothing
about the key). Rotation makes a new active key and keeps the old ones for
verification and decryption. A private key file readable by group or others is
refused: the user is told to ``chmod 600`` it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlward.core.errors import KeyFileError, NotFound

DATA_KEY_BYTES = 32
_RING = "keyring.json"


def public_key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 hex of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def data_key_fingerprint(key: bytes) -> str:
    """An identifier for a data key that reveals nothing about it."""
    return hmac.new(key, b"mlward data key id v1", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """Public facts about one key (safe to print)."""

    kid: str
    """Key id (16 hex digits)."""
    kind: str
    """``signing`` or ``data``."""
    fingerprint: str
    """Full SHA-256 fingerprint."""
    created: str
    """ISO 8601 creation time."""
    active: bool
    """Whether this key signs / encrypts new material."""
    public_pem: str | None = None
    """PEM public key (signing keys only)."""


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read_secret(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {path} is missing", hint="restore it from backup, or 'mlward init' a new workspace"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"refusing to use key file {path}: permissions {stat.S_IMODE(mode):04o} let other users read it",
            hint=f"run: chmod 600 {path}",
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc


class KeyRing:
    """Keys of one workspace (``.mlward/keys``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def _ring_path(self) -> Path:
        return self.directory / _RING

    def exists(self) -> bool:
        """Whether the keyring was created."""
        return self._ring_path.exists()

    def _load_ring(self) -> dict[str, list[dict[str, str]]]:
        try:
            data = json.loads(self._ring_path.read_text())
        except FileNotFoundError:
            raise KeyFileError(
                f"no keyring at {self.directory}", hint="run 'mlward init' to create the workspace keys"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyFileError(f"cannot read {self._ring_path}: {exc}") from exc
        if not isinstance(data, dict) or "signing" not in data or "data" not in data:
            raise KeyFileError(f"{self._ring_path} is not a mlward keyring")
        return data

    def _save_ring(self, ring: dict[str, list[dict[str, str]]]) -> None:
        tmp = self._ring_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ring, indent=2))
        os.replace(tmp, self._ring_path)

    def create(self) -> None:
        """Create the key directory with a first signing key and data key."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if self.exists():
            raise KeyFileError(f"a keyring already exists at {self.directory}")
        self._save_ring({"signing": [], "data": []})
        self.rotate()

    def rotate(self, kinds: tuple[str, ...] = ("signing", "data")) -> list[KeyInfo]:
        """Make new active keys of ``kinds``; older keys stay for verify / decrypt."""
        ring = self._load_ring()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        made = []
        for kind in kinds:
            if kind == "signing":
                private = ec.generate_private_key(ec.SECP256R1())
                fingerprint = public_key_fingerprint(private.public_key())
                kid = fingerprint[:16]
                pem = private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                _write_secret(self.directory / f"signing-{kid}.pem", pem)
                (self.directory / f"signing-{kid}.pub.pem").write_bytes(
                    private.public_key().public_bytes(
                        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                )
            elif kind == "data":
                key = secrets.token_bytes(DATA_KEY_BYTES)
                fingerprint = data_key_fingerprint(key)
                kid = fingerprint[:16]
                _write_secret(self.directory / f"data-{kid}.key", key)
            else:
                raise ValueError(f"unknown key kind {kind!r}")
            ring[kind].append({"kid": kid, "fingerprint": fingerprint, "created": now})
            made.append(kid)
        self._save_ring(ring)
        return [info for info in self.list() if info.kid in made]

    def list(self) -> list[KeyInfo]:
        """Public facts about every key, newest last per kind."""
        ring = self._load_ring()
        infos = []
        for kind in ("signing", "data"):
            entries = ring[kind]
            for index, entry in enumerate(entries):
                public_pem = None
                if kind == "signing":
                    pub = self.directory / f"signing-{entry['kid']}.pub.pem"
                    public_pem = pub.read_text() if pub.exists() else None
                infos.append(
                    KeyInfo(
                        kid=entry["kid"],
                        kind=kind,
                        fingerprint=entry["fingerprint"],
                        created=entry["created"],
                        active=index == len(entries) - 1,
                        public_pem=public_pem,
                    )
                )
        return infos

    def _active(self, kind: str) -> str:
        entries = self._load_ring()[kind]
        if not entries:
            raise KeyFileError(f"the keyring has no {kind} key", hint="run 'mlward keys rotate'")
        return entries[-1]["kid"]

    def signing_key(self, kid: str | None = None) -> ec.EllipticCurvePrivateKey:
        """The active (or named) private signing key."""
        kid = kid or self._active("signing")
        path = self.directory / f"signing-{kid}.pem"
        try:
            key = serialization.load_pem_private_key(_read_secret(path), password=None)
        except ValueError as exc:
            raise KeyFileError(f"{path} is not a valid PEM private key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyFileError(f"{path} is not an ECDSA key")
        return key

    def signing_kid(self) -> str:
        """Id of the active signing key."""
        return self._active("signing")

    def public_key(self, kid: str | None = None) -> ec.EllipticCurvePublicKey:
        """The active (or named) public signing key."""
        kid = kid or self._active("signing")
        path = self.directory / f"signing-{kid}.pub.pem"
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"no signing key with id {kid}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise KeyFileError(f"{path} is not an ECDSA public key")
        return key

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Every public signing key by id, active and retired (for verification)."""
        return {info.kid: self.public_key(info.kid) for info in self.list() if info.kind == "signing"}

    def data_key(self, kid: str | None = None) -> bytes:
        """The active (or named) 32-byte data key."""
        kid = kid or self._active("data")
        key = _read_secret(self.directory / f"data-{kid}.key")
        if len(key) != DATA_KEY_BYTES:
            raise KeyFileError(f"data key {kid} has {len(key)} bytes, expected {DATA_KEY_BYTES}")
        return key

    def data_kid(self) -> str:
        """Id of the active data key."""
        return self._active("data")

    def data_keys(self) -> dict[str, bytes]:
        """Every data key by id (for decrypting material made before a rotation)."""
        return {info.kid: self.data_key(info.kid) for info in self.list() if info.kind == "data"}

    def derive(self, purpose: str, kid: str | None = None, length: int = 32) -> bytes:
        """A subkey of the data key for one purpose (HKDF-SHA256, ``purpose`` as info)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
        return hkdf.derive(self.data_key(kid))
