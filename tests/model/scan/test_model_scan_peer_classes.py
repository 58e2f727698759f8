"""Classes of files the peers' corpora exposed: pickles embedded in a pickle (raw bytes,
base64, hex, multi-stage, decode chains into pickle.loads), GLOBAL operands no unpickler
can decode, and zips whose pickle reading starts with a persistent id (stored npz)."""

from __future__ import annotations

import base64
import io
import pickle
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlward.core.findings import Severity
from mlward.model.scan import scan_paths
from mlward.model.scan.rules import (
    FORMAT_POLYGLOT,
    PICKLE_EMBEDDED,
    PICKLE_GLOBAL_CRITICAL,
    PICKLE_HIGHER_ORDER,
    PICKLE_MALFORMED,
)


class _Marker:
    """Reduces to ``open(path, "w")``: loading it writes the marker file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


class _DecodeChain:
    """Reduces to ``pickle.loads(base64.b64decode(text))``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __reduce__(self) -> tuple[object, tuple[object]]:
        return (pickle.loads, (_B64(self.text),))


class _B64:
    def __init__(self, text: str) -> None:
        self.text = text

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (base64.b64decode, (self.text,))


def _scan(path: Path) -> list[tuple[str, Severity]]:
    return [(f.rule_id, f.severity) for f in scan_paths([path]).findings]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(pickletools.optimize(data) if data[:1] == b"\x80" else data)
    return path


def _inner(tmp_path: Path) -> tuple[bytes, Path]:
    marker = tmp_path / "marker"
    return pickle.dumps(_Marker(marker), protocol=4), marker


@pytest.mark.parametrize("encoding", ["bytes", "base64", "hex"])
def test_dormant_embedded_pickle_is_high(tmp_path: Path, encoding: str) -> None:
    inner, marker = _inner(tmp_path)
    value = {"bytes": inner, "base64": base64.b64encode(inner).decode(), "hex": inner.hex()}[encoding]
    path = _write(tmp_path, f"{encoding}.pkl", pickle.dumps({"w": [1, 2], "x": value}))
    loaded = pickle.loads(path.read_bytes())
    assert not marker.exists()  # the outer load runs nothing ...
    payload = loaded["x"]
    pickle.loads(
        payload
        if isinstance(payload, bytes)
        else base64.b64decode(payload)
        if encoding == "base64"
        else bytes.fromhex(payload)
    )
    assert marker.exists()  # ... the caller unpickling the value runs the second stage
    assert (PICKLE_EMBEDDED, Severity.HIGH) in _scan(path)


def test_multistage_embedded_pickle_is_high(tmp_path: Path) -> None:
    inner, marker = _inner(tmp_path)
    stage1 = pickle.dumps({"stage2": inner}, protocol=4)
    path = _write(tmp_path, "multi.pkl", pickle.dumps({"s1": base64.b64encode(stage1).decode()}, protocol=4))
    pickle.loads(pickle.loads(base64.b64decode(pickle.loads(path.read_bytes())["s1"]))["stage2"])
    assert marker.exists()
    assert (PICKLE_EMBEDDED, Severity.HIGH) in _scan(path)


def test_embedded_plain_data_pickle_is_low(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "plain.pkl", pickle.dumps({"inner": pickle.dumps({"a": "b"}, protocol=4)}, protocol=4)
    )
    found = _scan(path)
    assert found == [(PICKLE_EMBEDDED, Severity.LOW)]


def test_decode_chain_into_pickle_loads_is_critical(tmp_path: Path) -> None:
    inner, marker = _inner(tmp_path)
    path = _write(
        tmp_path, "chain.pkl", pickle.dumps(_DecodeChain(base64.b64encode(inner).decode()), protocol=4)
    )
    pickle.loads(path.read_bytes())
    assert marker.exists()
    found = _scan(path)
    assert (PICKLE_GLOBAL_CRITICAL, Severity.CRITICAL) in found  # builtins.open, decoded
    assert PICKLE_EMBEDDED not in {rule for rule, _ in found}  # reported once, as loaded
    assert (PICKLE_HIGHER_ORDER, Severity.HIGH) not in found


def test_global_operand_that_is_not_utf8_fails_closed(tmp_path: Path) -> None:
    # pickle raises on it, but a reading that differs from the unpickler's (framing) must
    # not turn into a clean scan: flagged HIGH and followed, never silently broken off.
    path = _write(tmp_path, "odd.bin", b"cmod\n\xf8\n")
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(path.read_bytes())
    found = _scan(path)
    assert (PICKLE_MALFORMED, Severity.HIGH) in found


def test_stored_npz_of_object_arrays_is_not_a_high_polyglot(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, a=np.array([{"k": 1}, "s"], dtype=object))
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    with pytest.raises(pickle.UnpicklingError):
        pickle.load(io.BytesIO(path.read_bytes()))  # the leading "PK" is a persistent id
    found = _scan(path)
    assert (FORMAT_POLYGLOT, Severity.MEDIUM) in found
    assert max(sev for _, sev in found) < Severity.HIGH


def test_zip_polyglot_behind_persistent_id_still_reports_its_payload(tmp_path: Path) -> None:
    inner, _ = _inner(tmp_path)
    path = tmp_path / "evil.npz"
    # The persistent id runs to the first newline: it must be the one the member data starts
    # with, not a 0x0a byte of the header's CRC or sizes (those depend on the temp path in
    # the payload), or every reader, the real unpickler included, parses garbage after it.
    for n in range(50):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"a{n}.npy", b"\n" + inner)
        raw = path.read_bytes()
        if raw.index(b"\n") == raw.index(b"\n" + inner):
            break
    else:
        pytest.fail("no member name gives a header without a newline byte")
    assert (PICKLE_GLOBAL_CRITICAL, Severity.CRITICAL) in _scan(path)
