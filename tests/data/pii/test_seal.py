"""Seals: the column digest does not depend on chunking, and any change breaks the seal."""

from __future__ import annotations

import os

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.crypto.encryption import DataKeys
from mlward.data.pii.seal import ColumnDigest, column_seal, vouched_entities

VALUES = st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=40)
KEYS = DataKeys.derive(os.urandom(32))


def _digest(*chunks: list[str | None]) -> bytes:
    digest = ColumnDigest()
    for chunk in chunks:
        digest.update(pa.array(chunk, pa.string()))
    return digest.digest()


@settings(deadline=None)
@given(VALUES, st.integers(min_value=0, max_value=40))
def test_digest_ignores_chunking_and_slicing(values: list[str | None], cut: int) -> None:
    cut = min(cut, len(values))
    whole = _digest(values)
    assert _digest(values[:cut], values[cut:]) == whole
    array = pa.array(["padding", *values], pa.string()).slice(1)  # non-zero offset
    sliced = ColumnDigest()
    sliced.update(pa.chunked_array([array], pa.string()))
    assert sliced.digest() == whole


@settings(deadline=None)
@given(VALUES, st.text(min_size=1, max_size=12))
def test_any_change_breaks_the_seal(values: list[str | None], extra: str) -> None:
    seal = column_seal(KEYS, "notes", b"{}", _digest(values))
    assert column_seal(KEYS, "notes", b"{}", _digest([*values, extra])) != seal
    assert column_seal(KEYS, "notes", b"{}", _digest([*values, None])) != seal
    if values:
        changed = [extra if v is None else None for v in values[:1]] + values[1:]
        assert column_seal(KEYS, "notes", b"{}", _digest(changed)) != seal
    assert column_seal(KEYS, "other", b"{}", _digest(values)) != seal
    assert column_seal(KEYS, "notes", b'{"action": "fpe"}', _digest(values)) != seal
    assert column_seal(DataKeys.derive(os.urandom(32)), "notes", b"{}", _digest(values)) != seal


def test_only_shape_keeping_actions_vouch() -> None:
    assert vouched_entities({"mode": "column", "action": "hash", "entity": "EMAIL"}) == frozenset()
    fpe_ssn = vouched_entities({"mode": "column", "action": "fpe", "entity": "US_SSN", "params": {}})
    assert {"US_SSN", "US_ITIN"} <= fpe_ssn and "EMAIL" not in fpe_ssn
    text = vouched_entities(
        {"mode": "text", "rules": {"PERSON": {"action": "fake"}, "PHONE": {"action": "mask"}}}
    )
    assert text == frozenset({"PERSON"})
