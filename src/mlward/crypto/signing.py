"""DSSE envelopes, in-toto Statement v1 and Sigstore bundle v0.3 (public-key flavour).

This is the generic signing layer: model signatures (``mlward.model.signing``) and SLSA
provenance both sign an in-toto statement into a DSSE envelope and store it in a
Sigstore bundle, exactly as ``model_signing sign key`` writes it::

    {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
     "verificationMaterial": {"publicKey": {"hint": "<sha256 of the PEM public key>"},
                              "tlogEntries": []},
     "dsseEnvelope": {"payload": "<base64 statement>",
                      "payloadType": "application/vnd.in-toto+json",
                      "signatures": [{"sig": "<base64 DER ECDSA>", "keyid": ""}]}}

Keys are ``cryptography`` objects: ECDSA on P-256 / P-384 / P-521 (hashed with
SHA-256 / 384 / 512, as Sigstore pairs them) or Ed25519. Every verification failure
raises ``IntegrityError`` with a message that says which check failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mlward.core.errors import IntegrityError, KeyFileError

SigningKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
VerifyingKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# The bundle spec also names v0.3 this way; readers must accept both spellings.
_BUNDLE_MEDIA_TYPES = (BUNDLE_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3")


class SignatureMismatch(IntegrityError):
    """No signature in the envelope verifies with the given key."""


class KeyMismatch(IntegrityError):
    """The bundle says it was signed by another key than the one given."""


_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


# --- DSSE -------------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the exact bytes that get signed."""
    type_bytes = payload_type.encode("utf-8")
    header = b"DSSEv1 %d %s %d " % (len(type_bytes), type_bytes, len(payload))
    return header + payload


@dataclass(frozen=True)
class DsseSignature:
    """One signature inside a DSSE envelope."""

    sig: bytes
    """Raw signature bytes (DER for ECDSA)."""
    keyid: str = ""
    """Optional, unauthenticated key hint (model_signing writes an empty string)."""


@dataclass(frozen=True)
class DsseEnvelope:
    """A DSSE envelope: a typed payload and signatures over its PAE."""

    payload: bytes
    """The signed bytes (an in-toto statement for us)."""
    payload_type: str
    """Media type of ``payload``; it is covered by the signature."""
    signatures: tuple[DsseSignature, ...]
    """At least one signature."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (base64 fields, camelCase names as in the DSSE / Sigstore specs)."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"sig": base64.b64encode(s.sig).decode("ascii"), "keyid": s.keyid} for s in self.signatures
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> DsseEnvelope:
        """Parse the JSON form; raise ``IntegrityError`` naming the field that is wrong."""
        obj = _require_mapping(data, "dsseEnvelope")
        payload_type = obj.get("payloadType")
        if not isinstance(payload_type, str):
            raise IntegrityError("DSSE envelope has no string 'payloadType'")
        raw_sigs = obj.get("signatures")
        if not isinstance(raw_sigs, list) or not raw_sigs:
            raise IntegrityError("DSSE envelope has no signatures")
        signatures = []
        for index, raw in enumerate(raw_sigs):
            entry = _require_mapping(raw, f"signatures[{index}]")
            keyid = entry.get("keyid", "")
            signatures.append(
                DsseSignature(
                    sig=_b64decode(entry.get("sig"), f"signatures[{index}].sig"),
                    keyid=keyid if isinstance(keyid, str) else "",
                )
            )
        return cls(
            payload=_b64decode(obj.get("payload"), "payload"),
            payload_type=payload_type,
            signatures=tuple(signatures),
        )


def sign_dsse(payload: bytes, payload_type: str, private_key: SigningKey, *, keyid: str = "") -> DsseEnvelope:
    """Sign ``payload`` into a one-signature DSSE envelope."""
    signature = _sign_bytes(private_key, pae(payload_type, payload))
    return DsseEnvelope(payload, payload_type, (DsseSignature(signature, keyid),))


def verify_dsse(envelope: DsseEnvelope, public_key: VerifyingKey) -> bytes:
    """Return the payload if any signature verifies with ``public_key``; else raise.

    DSSE signatures cover the payload type too, so a relabelled payload fails here.
    """
    message = pae(envelope.payload_type, envelope.payload)
    for signature in envelope.signatures:
        if _verify_bytes(public_key, signature.sig, message):
            return envelope.payload
    raise SignatureMismatch(
        "DSSE signature does not verify: the payload, its type or the signature was "
        "altered, or it was signed by another key"
    )


# --- in-toto Statement v1 ---------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """An in-toto ResourceDescriptor naming what a statement is about."""

    name: str
    """Identifier of the artifact (a model name, a file name)."""
    digest: Mapping[str, str]
    """Algorithm name to lower-case hex digest."""


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1."""

    subjects: tuple[Subject, ...]
    """What the statement is about (at least one)."""
    predicate_type: str
    """URI saying how to read ``predicate``."""
    predicate: Mapping[str, Any] = field(default_factory=dict)
    """The claim itself."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in the order in-toto (and model_signing) write them."""
        return {
            "_type": IN_TOTO_STATEMENT_TYPE,
            "subject": [{"name": s.name, "digest": dict(s.digest)} for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }

    def to_payload(self) -> bytes:
        """The bytes to sign: indented JSON, as model_signing's protobuf writer emits."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode("utf-8")


def parse_statement(payload: bytes) -> Statement:
    """Parse and check an in-toto Statement v1; raise ``IntegrityError`` when malformed."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"signed payload is not JSON: {exc}") from exc
    obj = _require_mapping(data, "statement")
    if obj.get("_type") != IN_TOTO_STATEMENT_TYPE:
        raise IntegrityError(f"payload is not an in-toto Statement v1 (_type {obj.get('_type')!r})")
    raw_subjects = obj.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise IntegrityError("in-toto statement has no subject")
    subjects = []
    for index, raw in enumerate(raw_subjects):
        entry = _require_mapping(raw, f"subject[{index}]")
        name, digest = entry.get("name", ""), entry.get("digest")
        if (
            not isinstance(name, str)
            or not isinstance(digest, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in digest.items())
        ):
            raise IntegrityError(f"in-toto subject[{index}] needs a name and a digest map")
        subjects.append(Subject(name=name, digest=dict(digest)))
    predicate_type = obj.get("predicateType")
    if not isinstance(predicate_type, str):
        raise IntegrityError("in-toto statement has no predicateType")
    predicate = obj.get("predicate", {})
    return Statement(tuple(subjects), predicate_type, _require_mapping(predicate, "predicate"))


# --- Sigstore bundle v0.3 with a public-key hint ----------------------------------------


@dataclass(frozen=True)
class SigstoreBundle:
    """A Sigstore bundle holding a DSSE envelope verified by a known public key."""

    envelope: DsseEnvelope
    """The signed statement."""
    public_key_hint: str | None
    """SHA-256 hex of the signer's PEM public key (model_signing's hint); may be absent."""
    media_type: str = BUNDLE_MEDIA_TYPE
    """Bundle format version."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form, byte-compatible in layout with ``model_signing sign key``."""
        public_key = {} if self.public_key_hint is None else {"hint": self.public_key_hint}
        return {
            "mediaType": self.media_type,
            "verificationMaterial": {"publicKey": public_key, "tlogEntries": []},
            "dsseEnvelope": self.envelope.to_dict(),
        }

    def to_json(self) -> str:
        """Compact JSON text, as model_signing writes it."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def parse_bundle(text: str | bytes) -> SigstoreBundle:
    """Parse a bundle file's content; raise ``IntegrityError`` when it is malformed."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"signature bundle is not JSON: {exc}") from exc
    obj = _require_mapping(data, "bundle")
    media_type = obj.get("mediaType")
    if media_type not in _BUNDLE_MEDIA_TYPES:
        raise IntegrityError(f"unsupported bundle mediaType {media_type!r}; expected {BUNDLE_MEDIA_TYPE}")
    material = _require_mapping(obj.get("verificationMaterial"), "verificationMaterial")
    if "publicKey" not in material:
        raise IntegrityError(
            "bundle is not a public-key bundle (no verificationMaterial.publicKey); "
            "certificate and keyless Sigstore bundles are not supported"
        )
    hint = _require_mapping(material["publicKey"], "publicKey").get("hint")
    if "dsseEnvelope" not in obj:
        raise IntegrityError("bundle has no dsseEnvelope")
    return SigstoreBundle(
        envelope=DsseEnvelope.from_dict(obj["dsseEnvelope"]),
        public_key_hint=hint if isinstance(hint, str) and hint else None,
        media_type=str(media_type),
    )


def public_key_hint(public_key: VerifyingKey) -> str:
    """SHA-256 hex of the PEM SubjectPublicKeyInfo: the hint model_signing records."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def sign_statement(statement: Statement, private_key: SigningKey) -> SigstoreBundle:
    """Sign an in-toto statement into a Sigstore bundle with a public-key hint."""
    envelope = sign_dsse(statement.to_payload(), IN_TOTO_PAYLOAD_TYPE, private_key)
    return SigstoreBundle(envelope, public_key_hint(private_key.public_key()))


def verify_bundle(bundle: SigstoreBundle, public_keys: VerifyingKey | Sequence[VerifyingKey]) -> Statement:
    """Verify a bundle with a trusted key (or any of several) and return its statement.

    Several keys serve key rotation: the bundle's hint picks the candidate. A hint that
    names none of them is a ``KeyMismatch``; the hint itself is not trusted (a matching
    hint proves nothing until the signature verifies).
    """
    keys = [public_keys] if not isinstance(public_keys, Sequence) else list(public_keys)
    if not keys:
        raise KeyMismatch("no public key to verify with")
    hints = [public_key_hint(k) for k in keys]
    candidates = keys
    if bundle.public_key_hint is not None:
        candidates = [k for k, h in zip(keys, hints, strict=True) if h == bundle.public_key_hint]
        if not candidates:
            given = ", ".join(h[:16] + "…" for h in hints)
            raise KeyMismatch(
                f"signed by a different key: the bundle names public key "
                f"{bundle.public_key_hint[:16]}…, the key(s) given: {given}"
            )
    for key in candidates[:-1]:
        try:
            payload = verify_dsse(bundle.envelope, key)
            break
        except SignatureMismatch:
            continue
    else:
        payload = verify_dsse(bundle.envelope, candidates[-1])  # its error is the one to report
    if bundle.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise IntegrityError(
            f"envelope payloadType is {bundle.envelope.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE}"
        )
    return parse_statement(payload)


# --- keys -------------------------------------------------------------------------------


def load_private_key(path: Path, password: bytes | None = None) -> SigningKey:
    """Load a PEM private key (EC P-256/384/521 or Ed25519); raise ``KeyFileError``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password)
    except OSError as exc:
        raise KeyFileError(f"cannot read private key {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            f"{path} is not a usable PEM private key", hint="wrong password or format"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{path}: only ECDSA and Ed25519 keys can sign")
    _check_curve(key.public_key(), path)
    return key


def load_public_key(path: Path) -> VerifyingKey:
    """Load a PEM public key (EC P-256/384/521 or Ed25519); raise ``KeyFileError``."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{path}: only ECDSA and Ed25519 public keys are supported")
    _check_curve(key, path)
    return key


def _check_curve(key: VerifyingKey, source: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _CURVE_HASHES:
        raise KeyFileError(f"{source}: unsupported curve {key.curve.name}; use P-256, P-384 or P-521")


def _sign_bytes(private_key: SigningKey, message: bytes) -> bytes:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(message)
    _check_curve(private_key.public_key(), "signing key")
    return private_key.sign(message, ec.ECDSA(_CURVE_HASHES[private_key.curve.name]()))


def _verify_bytes(public_key: VerifyingKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            _check_curve(public_key, "verification key")
            public_key.verify(signature, message, ec.ECDSA(_CURVE_HASHES[public_key.curve.name]()))
    except InvalidSignature:
        return False
    return True


def _require_mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntegrityError(f"malformed {what}: expected a JSON object")
    return value


def _b64decode(value: Any, what: str) -> bytes:
    """Decode standard or URL-safe base64 (DSSE allows both); raise on anything else."""
    if not isinstance(value, str):
        raise IntegrityError(f"malformed {what}: expected a base64 string")
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IntegrityError(f"malformed {what}: not valid base64") from exc
