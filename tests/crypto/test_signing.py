"""DSSE / in-toto / Sigstore bundle: spec vectors, round trips, and every tampering."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from model_signing._signing.sign_sigstore_pb import pae as reference_pae

from mlward.core.errors import IntegrityError, KeyFileError
from mlward.crypto.signing import (
    BUNDLE_MEDIA_TYPE,
    IN_TOTO_PAYLOAD_TYPE,
    DsseEnvelope,
    DsseSignature,
    KeyMismatch,
    SignatureMismatch,
    SigstoreBundle,
    Statement,
    Subject,
    load_private_key,
    load_public_key,
    pae,
    parse_bundle,
    public_key_hint,
    sign_dsse,
    sign_statement,
    verify_bundle,
    verify_dsse,
)

P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
OTHER = ec.generate_private_key(ec.SECP256R1())

STATEMENT = Statement(
    subjects=(Subject("model", {"sha256": "ab" * 32}),),
    predicate_type="https://slsa.dev/provenance/v1",
    predicate={"buildDefinition": {"buildType": "https://mlward.dev/train/v1"}},
)


def test_pae_matches_the_dsse_spec_vector() -> None:
    # From secure-systems-lab/dsse protocol.md.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t/é", b"\xff") == b"DSSEv1 4 t/\xc3\xa9 1 \xff"


@given(payload=st.binary(max_size=512))
def test_pae_equals_model_signing_for_in_toto_payloads(payload: bytes) -> None:
    assert pae(IN_TOTO_PAYLOAD_TYPE, payload) == reference_pae(payload)


@settings(max_examples=40, deadline=None)
@given(
    payload=st.binary(max_size=2048),
    payload_type=st.text(min_size=1, max_size=40),
    key=st.sampled_from([P256, P384, ED25519]),
)
def test_dsse_round_trip_and_json_round_trip(payload: bytes, payload_type: str, key) -> None:
    envelope = sign_dsse(payload, payload_type, key)
    assert verify_dsse(envelope, key.public_key()) == payload
    reparsed = DsseEnvelope.from_dict(json.loads(json.dumps(envelope.to_dict())))
    assert reparsed == envelope


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(min_size=1, max_size=1024), data=st.data())
def test_any_flipped_payload_bit_fails(payload: bytes, data: st.DataObject) -> None:
    envelope = sign_dsse(payload, IN_TOTO_PAYLOAD_TYPE, P256)
    index = data.draw(st.integers(0, len(payload) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(payload)
    tampered[index] ^= 1 << bit
    forged = DsseEnvelope(bytes(tampered), envelope.payload_type, envelope.signatures)
    with pytest.raises(SignatureMismatch):
        verify_dsse(forged, P256.public_key())


def test_relabelled_payload_type_fails() -> None:
    envelope = sign_dsse(b"{}", IN_TOTO_PAYLOAD_TYPE, P256)
    forged = DsseEnvelope(envelope.payload, "application/json", envelope.signatures)
    with pytest.raises(SignatureMismatch):
        verify_dsse(forged, P256.public_key())


def test_other_key_fails_and_any_valid_signature_suffices() -> None:
    envelope = sign_dsse(b"payload", "text/plain", P256)
    with pytest.raises(SignatureMismatch):
        verify_dsse(envelope, OTHER.public_key())
    junk_first = DsseEnvelope(
        envelope.payload, envelope.payload_type, (DsseSignature(b"\x00" * 70), *envelope.signatures)
    )
    assert verify_dsse(junk_first, P256.public_key()) == b"payload"


def test_bundle_has_the_model_signing_layout() -> None:
    bundle = sign_statement(STATEMENT, P256)
    data = json.loads(bundle.to_json())
    assert data["mediaType"] == BUNDLE_MEDIA_TYPE == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert data["verificationMaterial"] == {
        "publicKey": {"hint": public_key_hint(P256.public_key())},
        "tlogEntries": [],
    }
    envelope = data["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert [set(s) for s in envelope["signatures"]] == [{"sig", "keyid"}]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert list(statement) == ["_type", "subject", "predicateType", "predicate"]
    assert statement["_type"] == "https://in-toto.io/Statement/v1"


def test_hint_is_sha256_of_the_pem_public_key() -> None:
    import hashlib

    pem = P256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_key_hint(P256.public_key()) == hashlib.sha256(pem).hexdigest()


def test_bundle_round_trip_returns_the_statement() -> None:
    bundle = parse_bundle(sign_statement(STATEMENT, P256).to_json())
    assert verify_bundle(bundle, P256.public_key()) == STATEMENT


def test_bundle_with_another_keys_hint_is_a_key_mismatch() -> None:
    bundle = sign_statement(STATEMENT, OTHER)
    with pytest.raises(KeyMismatch, match="different key"):
        verify_bundle(bundle, P256.public_key())


def test_bundle_whose_hint_was_rewritten_still_fails_on_the_signature() -> None:
    data = json.loads(sign_statement(STATEMENT, OTHER).to_json())
    data["verificationMaterial"]["publicKey"]["hint"] = public_key_hint(P256.public_key())
    with pytest.raises(SignatureMismatch):
        verify_bundle(parse_bundle(json.dumps(data)), P256.public_key())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle.v0.1+json"),
            "mediaType",
        ),
        (lambda d: d["verificationMaterial"].pop("publicKey"), "public-key bundle"),
        (lambda d: d.pop("dsseEnvelope"), "dsseEnvelope"),
        (lambda d: d["dsseEnvelope"].update(payload="not base64!"), "base64"),
        (lambda d: d["dsseEnvelope"].update(signatures=[]), "no signatures"),
        (lambda d: d["dsseEnvelope"]["signatures"][0].update(sig=7), "base64"),
    ],
)
def test_malformed_bundles_are_integrity_errors(mutate, message: str) -> None:
    data = json.loads(sign_statement(STATEMENT, P256).to_json())
    mutate(data)
    with pytest.raises(IntegrityError, match=message):
        parse_bundle(json.dumps(data))


def test_non_json_bundle_and_non_statement_payload_fail() -> None:
    with pytest.raises(IntegrityError, match="not JSON"):
        parse_bundle(b"\x80garbage")
    envelope = sign_dsse(b'{"_type": "something else"}', IN_TOTO_PAYLOAD_TYPE, P256)
    bundle = parse_bundle(
        json.dumps(
            {
                "mediaType": BUNDLE_MEDIA_TYPE,
                "verificationMaterial": {"publicKey": {}},
                "dsseEnvelope": envelope.to_dict(),
            }
        )
    )
    with pytest.raises(IntegrityError, match="not an in-toto Statement"):
        verify_bundle(bundle, P256.public_key())


def test_key_loading(tmp_path: Path) -> None:
    private = tmp_path / "k.pem"
    private.write_bytes(
        P256.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    public = tmp_path / "k.pub"
    public.write_bytes(
        P256.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    loaded = load_private_key(private, b"pw")
    assert public_key_hint(loaded.public_key()) == public_key_hint(load_public_key(public))
    with pytest.raises(KeyFileError, match="not a usable"):
        load_private_key(private, b"wrong")
    with pytest.raises(KeyFileError, match="cannot read"):
        load_public_key(tmp_path / "missing.pub")
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="only ECDSA and Ed25519"):
        load_private_key(rsa_key)
    k1 = tmp_path / "k1.pem"
    k1.write_bytes(
        ec.generate_private_key(ec.SECP256K1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="unsupported curve"):
        load_private_key(k1)


def test_several_trusted_keys_the_hint_picks_the_signer() -> None:
    bundle = sign_statement(STATEMENT, P256)
    assert verify_bundle(bundle, [OTHER.public_key(), P256.public_key()]) == STATEMENT
    with pytest.raises(KeyMismatch, match="different key"):
        verify_bundle(bundle, [OTHER.public_key(), P384.public_key()])
    hintless = SigstoreBundle(bundle.envelope, None)
    assert verify_bundle(hintless, [OTHER.public_key(), P256.public_key()]) == STATEMENT
    with pytest.raises(SignatureMismatch):
        verify_bundle(hintless, [OTHER.public_key()])
