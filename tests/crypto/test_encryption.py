"""Envelope file encryption, value AEAD and subkey derivation: round trips and attacks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.core.errors import IntegrityError
from mlward.crypto import encryption as enc

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CHUNK = 64
TAG = 16


def _encrypt(data: bytes, chunk_size: int = CHUNK, key: bytes = KEY) -> bytes:
    sink = io.BytesIO()
    enc.encrypt_stream(io.BytesIO(data), sink, key, chunk_size=chunk_size)
    return sink.getvalue()


def _decrypt(blob: bytes, key: bytes | list[bytes] = KEY) -> bytes:
    sink = io.BytesIO()
    enc.decrypt_stream(io.BytesIO(blob), sink, key)
    return sink.getvalue()


def _split(blob: bytes) -> tuple[bytes, list[bytes]]:
    header = enc.read_header(io.BytesIO(blob)).raw
    body = blob[len(header) :]
    sealed = CHUNK + TAG
    return header, [body[i : i + sealed] for i in range(0, len(body), sealed)]


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=700), chunk_size=st.sampled_from([1, 16, 64, 100]))
def test_stream_round_trip(data: bytes, chunk_size: int) -> None:
    blob = _encrypt(data, chunk_size)
    assert _decrypt(blob) == data
    assert len(data) < 16 or data not in blob


def test_exact_multiple_of_chunk_size_round_trips() -> None:
    data = os.urandom(CHUNK * 3)
    assert _decrypt(_encrypt(data)) == data
    assert len(_split(_encrypt(data))[1]) == 3


def test_each_file_gets_a_fresh_data_key() -> None:
    assert _encrypt(b"same") != _encrypt(b"same")


def test_flipped_bit_in_any_chunk_fails() -> None:
    blob = bytearray(_encrypt(os.urandom(CHUNK * 3 + 5)))
    header, _chunks = _split(bytes(blob))
    for position in (len(header) + 3, len(header) + CHUNK + TAG + 7, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(IntegrityError, match="does not verify at chunk"):
            _decrypt(bytes(tampered))


def test_header_tampering_fails() -> None:
    blob = bytearray(_encrypt(b"payload" * 30))
    tampered = bytearray(blob)
    tampered[16] ^= 0x01  # inside the nonce prefix: authenticated as associated data
    with pytest.raises(IntegrityError):
        _decrypt(bytes(tampered))
    wrapped = bytearray(blob)
    wrapped[len(enc.read_header(io.BytesIO(bytes(blob))).raw) - 1] ^= 0x01
    with pytest.raises(IntegrityError, match="wrapped key"):
        _decrypt(bytes(wrapped))


def test_reordered_chunks_fail() -> None:
    header, chunks = _split(_encrypt(os.urandom(CHUNK * 3 + 5)))
    swapped = header + chunks[1] + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(IntegrityError, match="chunk 0"):
        _decrypt(swapped)


def test_dropping_the_last_chunk_fails() -> None:
    header, chunks = _split(_encrypt(os.urandom(CHUNK * 3 + 5)))
    with pytest.raises(IntegrityError):
        _decrypt(header + b"".join(chunks[:-1]))


def test_truncation_fails() -> None:
    blob = _encrypt(os.urandom(CHUNK * 2 + 9))
    for cut in (1, TAG, TAG + 3):
        with pytest.raises(IntegrityError):
            _decrypt(blob[:-cut])
    with pytest.raises(IntegrityError, match="truncated"):
        _decrypt(blob[:20])


def test_appending_fails() -> None:
    data = os.urandom(CHUNK * 2)  # last chunk is full: appended bytes form a new chunk
    blob = _encrypt(data)
    _header, chunks = _split(blob)
    with pytest.raises(IntegrityError):
        _decrypt(blob + chunks[0])
    with pytest.raises(IntegrityError):
        _decrypt(_encrypt(b"short") + b"extra")


def test_wrong_key_is_named_and_retired_keys_are_tried() -> None:
    blob = _encrypt(b"secret rows")
    with pytest.raises(IntegrityError, match="another key"):
        _decrypt(blob, OTHER_KEY)
    assert _decrypt(blob, [OTHER_KEY, KEY]) == b"secret rows"


def test_not_an_envelope() -> None:
    with pytest.raises(IntegrityError, match="bad magic"):
        _decrypt(b"PAR1 not encrypted")


def test_file_round_trip_and_no_partial_plaintext(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_bytes(b"name,ssn\nAda,123-45-6789\n" * 100_000)
    sealed = tmp_path / "data.csv.mlwenc"
    assert enc.encrypt_file(src, sealed, KEY) == src.stat().st_size
    assert b"123-45-6789" not in sealed.read_bytes()
    out = tmp_path / "out" / "data.csv"
    enc.decrypt_file(sealed, out, KEY)
    assert out.read_bytes() == src.read_bytes()

    # Corrupt the last chunk: the first chunks decrypt fine, yet nothing may remain.
    tampered = bytearray(sealed.read_bytes())
    tampered[-1] ^= 0xFF
    sealed.write_bytes(bytes(tampered))
    target = tmp_path / "restored.csv"
    with pytest.raises(IntegrityError):
        enc.decrypt_file(sealed, target, KEY)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_value_aead_and_siv_tokens() -> None:
    keys = enc.DataKeys.derive(KEY)
    assert len({keys.hash_key, keys.siv_key[:32], keys.fpe_key, keys.gcm_key}) == 4
    assert "redacted" in repr(keys)
    sealed = enc.seal_value(keys.gcm_key, b"4111111111111111")
    assert sealed != enc.seal_value(keys.gcm_key, b"4111111111111111")  # randomized
    assert enc.open_value(keys.gcm_key, sealed) == b"4111111111111111"
    with pytest.raises(IntegrityError):
        enc.open_value(keys.gcm_key, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    token = enc.siv_token(keys.siv_key, b"ada@example.com", b"email")
    assert token == enc.siv_token(keys.siv_key, b"ada@example.com", b"email")  # deterministic
    assert token != enc.siv_token(keys.siv_key, b"ada@example.com", b"other-domain")
    assert enc.siv_open(keys.siv_key, token, b"email") == b"ada@example.com"
    with pytest.raises(IntegrityError):
        enc.siv_open(keys.siv_key, token, b"other-domain")
