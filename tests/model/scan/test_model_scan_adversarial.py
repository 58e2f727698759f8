"""Adversarial round 2 (issue #18): bypass classes, each with crafted files whose payload
really runs under the real loader (it only touches a marker under ``tmp_path``) and that
the scanner must report at HIGH or above."""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from model_corpus_malicious import glob, s0, u

from mlward.core.findings import Severity
from mlward.model.scan import ScanLimits, scan_file
from mlward.model.scan import rules as R
from mlward.model.scan.interface import FileReport


def touch_payload(marker: Path) -> bytes:
    """Protocol 0 ``builtins.exec("...touch marker...")`` without STOP."""
    code = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    return glob("builtins", "exec") + b"(" + s0(code) + b"tR"


def runs(marker: Path, load: Callable[[], object]) -> bool:
    """Run ``load`` (the real loader) and tell whether the payload touched ``marker``."""
    marker.unlink(missing_ok=True)
    # The loader may fail after the payload ran: that is the point.
    with contextlib.suppress(Exception):
        load()
    ran = marker.exists()
    marker.unlink(missing_ok=True)
    return ran


def loads_runs(data: bytes, marker: Path) -> bool:
    return runs(marker, lambda: pickle.loads(data))


def high(report: FileReport, *rule_ids: str) -> list[str]:
    """Rule ids of the HIGH-or-above findings (restricted to ``rule_ids`` when given)."""
    return [
        f.rule_id
        for f in report.findings
        if f.severity >= Severity.HIGH and (not rule_ids or f.rule_id in rule_ids)
    ]


def scan_bytes(tmp_path: Path, name: str, data: bytes, **kw: object) -> FileReport:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_file(path, **kw)  # type: ignore[arg-type]


# -- 1. limits fail closed ----------------------------------------------------------------


def test_payload_after_an_overlong_text_operand_is_high(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    data = b"\x80\x02V" + b"a" * (3 << 20) + b"\n0" + touch_payload(marker) + b"."
    assert loads_runs(data, marker)
    report = scan_bytes(tmp_path, "long.pkl", data)
    assert ScanLimits().max_line < 3 << 20
    assert R.PICKLE_MALFORMED in high(report)
    assert any(f.properties.get("limit") for f in report.findings)


def test_payload_after_the_sparse_memo_bound_is_high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlward.model.scan import pickle_memo

    monkeypatch.setattr(pickle_memo, "_MEMO_BITMAP_MAX", 1024)
    monkeypatch.setattr(pickle_memo, "_MEMO_SPARSE_MAX", 4)
    marker = tmp_path / "m"
    puts = b"".join(b"r" + struct.pack("<I", 5000 + i) for i in range(6))
    data = b"\x80\x02N" + puts + b"0" + touch_payload(marker) + b"."
    assert loads_runs(data, marker)
    report = scan_bytes(tmp_path, "memo.pkl", data)
    assert R.PICKLE_MALFORMED in high(report)
    assert "sparse keys" in next(f.message for f in report.findings if f.rule_id == R.PICKLE_MALFORMED)


def test_payload_in_a_second_pickle_that_then_breaks_is_high(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    data = pickle.dumps({"w": 1}, protocol=2) + touch_payload(marker) + b"\xff"

    def load_twice() -> None:
        f = io.BytesIO(data)
        pickle.load(f)
        pickle.load(f)

    assert runs(marker, load_twice)
    report = scan_bytes(tmp_path, "two.pkl", data)
    assert R.PICKLE_TRAILING in high(report)
    assert R.PICKLE_GLOBAL_CRITICAL in high(report)


def test_payload_below_the_nesting_limit_is_high(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    inner = b"\x80\x02" + touch_payload(marker) + b"."
    assert loads_runs(inner, marker)
    data = inner
    for level in range(8):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"level{level}.zip" if level else "evil.pkl", data)
        data = buf.getvalue()
    report = scan_bytes(tmp_path, "deep.zip", data)
    assert R.ARCHIVE_BOMB in high(report)


def test_encrypted_member_is_not_scanned_and_high(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil.pkl", b"\x80\x02" + touch_payload(tmp_path / "m") + b".")
    enc = bytearray(buf.getvalue())
    enc[6] |= 1
    enc[enc.rfind(b"PK\x01\x02") + 8] |= 1
    report = scan_bytes(tmp_path, "enc.zip", bytes(enc))
    assert R.ARCHIVE_UNREADABLE in high(report)


def test_break_before_anything_ran_stays_medium(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "t.pkl", b"\x80\x04K\x01\xff")
    assert [(f.rule_id, f.severity) for f in report.findings] == [(R.PICKLE_MALFORMED, Severity.MEDIUM)]
    assert not loads_runs(b"\x80\x04K\x01\xff", tmp_path / "m")


_ = u  # used by later sections


# -- 2. format confusion: every reading a real loader applies is analysed -------------------


def _tar_with_pickle_in_header(marker: Path) -> bytes:
    """A ustar file whose name field starts a pickle that skips into the member data."""
    import tarfile

    body = b"0" + touch_payload(marker) + b"."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    data = bytearray(buf.getvalue())
    name = b"\x80\x02B" + struct.pack("<I", 512 - 7)
    data[: len(name)] = name
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\x00 " % sum(data[:512])
    return bytes(data)


def _polyglots(marker: Path) -> dict[str, bytes]:
    payload = touch_payload(marker) + b"."
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("weights.npy", b"\x93NUMPY")
    # 'G' (BINFLOAT) eats the 8-byte safetensors length and the '{' of its header.
    st_len = int.from_bytes(b"G\x10" + bytes(6), "little")
    safetensors = b"G\x10" + bytes(6) + b"{0" + payload
    return {
        "model.gguf": b"GGUF" + struct.pack("<I", 3) + b"\x000" + payload,  # 'G' eats 8
        "model.safetensors": safetensors + b" " * (8 + st_len - len(safetensors)),
        "model.zip": b"\x80\x02" + payload + zipped.getvalue(),
        "model.tar": _tar_with_pickle_in_header(marker),
        "config.json": b"I1\n0" + payload,
        "notes.txt": b"J\x00\x00\x00\x000" + payload,
        "tokenizer.model": b"N0" + payload,
        "flax_model.msgpack": b"K\x010" + payload,
    }


@pytest.mark.parametrize("name", sorted(_polyglots(Path("m"))))
def test_polyglot_is_also_analysed_as_a_pickle(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    data = _polyglots(marker)[name]
    assert loads_runs(data, marker), f"{name} is not a working pickle"
    assert runs(marker, lambda: pickle.load(io.BytesIO(data)))
    report = scan_bytes(tmp_path, name, data)
    import joblib
    import torch

    assert runs(marker, lambda: joblib.load(tmp_path / name))
    # From a buffer: from a path, torch 2.13 reads the safetensors sample with safetensors
    # and the tar sample as its legacy tar layout, and both fail before any pickle.
    assert runs(marker, lambda: torch.load(io.BytesIO(data), weights_only=False))
    assert R.PICKLE_GLOBAL_CRITICAL in high(report), report.findings
    if name.endswith((".gguf", ".safetensors", ".zip", ".tar")):
        assert R.FORMAT_POLYGLOT in high(report)
        assert report.format != "pickle"  # the other format was still detected first


def test_tar_polyglot_is_a_real_tar(tmp_path: Path) -> None:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(_tar_with_pickle_in_header(tmp_path / "m"))) as tar:
        assert len(tar.getmembers()) == 1


def test_text_that_merely_starts_like_a_global_is_not_a_pickle(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "words.txt", b"cat dog\nbird fish\nmore words\n")
    assert report.findings == ()


# -- 3. FRAME differentials ------------------------------------------------------------------

_FRAME_CALLS: list[tuple[str, str]] = []


def _record(*args: object) -> None:
    """The harmless callable every recorded global resolves to."""


def _recording(base: type) -> type:
    class Recording(base):  # type: ignore[misc, valid-type]
        def find_class(self, module: str, name: str) -> object:
            _FRAME_CALLS.append((module, name))
            return _record

    return Recording


_C_UNPICKLER = _recording(pickle.Unpickler)
_PY_UNPICKLER = _recording(pickle._Unpickler)  # type: ignore[attr-defined]


class _RecordingModule(types.ModuleType):
    """Stands in for ``mlward_fake_mod`` so that ``pickle.loads`` (C, from bytes) records
    the names it resolves instead of importing anything."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        _FRAME_CALLS.append((self.__name__, name))
        return _record


@pytest.fixture()
def fake_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlward_fake_mod", _RecordingModule("mlward_fake_mod"))


def _resolved_globals(data: bytes) -> set[tuple[str, str]]:
    """Globals resolved by C ``pickle.loads`` (bytes), C ``Unpickler`` and
    ``pickle._Unpickler`` (file readers): three readings of the same bytes."""
    _FRAME_CALLS.clear()
    with contextlib.suppress(Exception):
        pickle.loads(data)
    for unpickler in (_C_UNPICKLER, _PY_UNPICKLER):
        with contextlib.suppress(Exception):
            unpickler(io.BytesIO(data)).load()
    return set(_FRAME_CALLS)


_FRAMED_OPS = [
    u("mlward_fake_mod"),
    b"\x94",
    u("touch"),
    b"\x94",
    b"\x93",
    b"\x94",
    u("arg"),
    b"\x85",
    b"R",
    b"0",
    glob("mlward_fake_mod", "other"),
    b")R",
    b".",
]


def test_straddling_frame_is_high(tmp_path: Path, fake_module: None) -> None:
    body = b"".join(_FRAMED_OPS)
    data = b"\x80\x04\x95" + struct.pack("<Q", 4) + body  # ends inside the first operand
    assert ("mlward_fake_mod", "touch") in _resolved_globals(data)
    report = scan_bytes(tmp_path, "frame.pkl", data)
    assert R.PICKLE_FRAMING in high(report)


def test_framed_pickles_from_pickle_dumps_are_clean(tmp_path: Path) -> None:
    import collections

    value = {"a": list(range(30000)), "b": b"x" * 300000, "c": collections.OrderedDict(a=1)}
    for proto in (4, 5):
        report = scan_bytes(tmp_path, f"p{proto}.pkl", pickle.dumps(value, protocol=proto))
        assert report.findings == ()


def _framed_stream(draw: object) -> bytes:
    from hypothesis import strategies as st

    draw_ = draw  # type: ignore[assignment]
    body = bytearray(b"".join(_FRAMED_OPS))
    frames = draw_(
        st.lists(st.tuples(st.integers(0, len(body)), st.integers(-6, 6), st.booleans()), max_size=4)
    )
    # Insert from the back so earlier positions stay valid; lengths are near the real
    # distance to the end of the body (exact, short, long) or to the next insertion.
    for at, delta, to_end in sorted(frames, reverse=True):
        length = max(0, (len(body) - at if to_end else draw_(st.integers(0, 24))) + delta)
        body[at:at] = b"\x95" + struct.pack("<Q", length)
    return b"\x80\x04" + bytes(body)


def test_every_global_a_real_unpickler_resolves_is_reported(
    tmp_path_factory: pytest.TempPathFactory, fake_module: None
) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    where = tmp_path_factory.mktemp("frames")

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.composite(_framed_stream)())
    def check(data: bytes) -> None:
        resolved = _resolved_globals(data)
        report = scan_bytes(where, "f.pkl", data)
        reported = {f.properties.get("global") for f in report.findings}
        framing = R.PICKLE_FRAMING in high(report)
        for module, name in resolved:
            assert framing or f"{module}.{name}" in reported, (data, module, name)

    check()


# -- 4. nested loaders ------------------------------------------------------------------------


def _binbytes(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def _nested(marker: Path) -> dict[str, bytes]:
    import zlib

    inner = b"\x80\x02" + touch_payload(marker) + b"."
    call = b"(" + _binbytes(inner) + b"tR."
    return {
        "pickle.loads": glob("pickle", "loads") + call,
        "_pickle.loads": glob("_pickle", "loads") + call,
        "dill.loads": glob("dill", "loads") + call,
        "joblib.load(BytesIO)": glob("joblib", "load")
        + b"("
        + glob("_io", "BytesIO")
        + b"("
        + _binbytes(inner)
        + b"tRtR.",
        "pickle.loads(zlib)": glob("pickle", "loads")
        + b"("
        + glob("zlib", "decompress")
        + b"("
        + _binbytes(zlib.compress(inner))
        + b"tRtR.",
    }


@pytest.mark.parametrize("name", sorted(_nested(Path("m"))))
def test_inner_loader_payload_is_analysed(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    data = _nested(marker)[name]
    assert loads_runs(data, marker)
    report = scan_bytes(tmp_path, "outer.pkl", data)
    inner = [f for f in report.findings if f.location.member and "bytes@" in f.location.member]
    if name.endswith("(zlib)"):
        assert any(
            f.rule_id == R.PICKLE_HIGHER_ORDER
            and f.severity >= Severity.HIGH
            and f.properties.get("global") == "pickle.loads"
            for f in report.findings
        )
    else:
        assert any(
            f.properties.get("global") == "builtins.exec" and f.severity is Severity.CRITICAL for f in inner
        ), report.findings


def test_torch_load_from_bytes_payload_is_analysed(tmp_path: Path) -> None:
    import torch

    marker = tmp_path / "m"
    inner = b"\x80\x02" + touch_payload(marker) + b"."
    data = b"\x80\x02" + glob("torch.storage", "_load_from_bytes") + b"(" + _binbytes(inner) + b"tR."
    assert runs(marker, lambda: torch.load(io.BytesIO(data), weights_only=False))
    report = scan_bytes(tmp_path, "outer.pt", data)
    assert any(f.properties.get("global") == "builtins.exec" and f.location.member for f in report.findings)


def test_inner_loader_with_a_computed_argument_is_high(tmp_path: Path) -> None:
    data = (
        b"\x80\x02"
        + glob("torch.storage", "_load_from_bytes")
        + b"("
        + glob("collections", "OrderedDict")
        + b")RtR."
    )
    report = scan_bytes(tmp_path, "outer.pkl", data)
    assert R.PICKLE_HIGHER_ORDER in high(report)


def test_polyglot_after_a_plain_pickle_or_past_a_limit_is_high(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    second = b"GGUF\x03\x00\x00\x00\x00N." + touch_payload(marker) + b"."

    def load_twice() -> None:
        f = io.BytesIO(second)
        pickle.load(f)
        pickle.load(f)

    assert runs(marker, load_twice)
    assert R.PICKLE_GLOBAL_CRITICAL in high(scan_bytes(tmp_path, "two.gguf", second))
    long_line = b"V" + b"a" * (3 << 20) + b"\n0" + touch_payload(marker) + b"."
    assert loads_runs(long_line, marker)
    assert R.FORMAT_POLYGLOT in high(scan_bytes(tmp_path, "long.txt", long_line))


# -- 5. Keras configs --------------------------------------------------------------------------


def _keras_zip(config: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", config)
        z.writestr("metadata.json", b'{"keras_version": "3.6.0"}')
        z.writestr("model.weights.h5", b"")
    return buf.getvalue()


def _deep_lambda(depth: int) -> dict[str, object]:
    layer: dict[str, object] = {
        "module": "keras.layers",
        "class_name": "keras.layers.Lambda",
        "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}},
    }
    for i in range(depth):
        layer = {
            "module": "keras.layers",
            "class_name": "TimeDistributed",
            "config": {"name": f"t{i}", "layer": {"nested": [layer]}},
        }
    return {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32-le"])
def test_keras_config_in_any_encoding_json_loads_reads_is_checked(encoding: str, tmp_path: Path) -> None:
    import json

    raw = ("\n \t" + json.dumps(_deep_lambda(40))).encode(encoding)
    assert json.loads(raw)["class_name"] == "Sequential"  # what keras' saving_lib calls
    report = scan_bytes(tmp_path, "m.keras", _keras_zip(raw))
    assert R.KERAS_LAMBDA in high(report)


def test_invalid_config_json_in_a_keras_zip_is_high(tmp_path: Path) -> None:
    report = scan_bytes(tmp_path, "m.keras", _keras_zip(b'{"class_name": "Lambda", '))
    assert R.FORMAT_MALFORMED in high(report)


def test_keras_config_beyond_the_node_bound_is_high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from mlward.model.scan import keras_config

    monkeypatch.setattr(keras_config, "_MAX_NODES", 50)
    doc = _deep_lambda(0)
    doc["config"]["layers"] = [*({"x": i} for i in range(100)), *doc["config"]["layers"]]  # type: ignore[index]
    doc["config"]["layers"].reverse()  # type: ignore[index]
    report = scan_bytes(tmp_path, "m.keras", _keras_zip(json.dumps(doc).encode()))
    assert any("config nodes" in f.message and f.severity >= Severity.HIGH for f in report.findings)


def test_file_that_ends_like_a_zip_is_also_read_as_one(tmp_path: Path) -> None:
    import json

    marker = tmp_path / "m"
    # A pickle longer than the sniffed head, then a .keras zip: pickle.load runs the
    # first, zipfile (Keras, numpy .npz) opens the second.
    prefix = b"\x80\x02" + _binbytes(b"\x00" * 2048) + b"0" + touch_payload(marker) + b"."
    data = prefix + _keras_zip(json.dumps(_deep_lambda(3)).encode())
    assert loads_runs(data, marker)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert json.loads(z.read("config.json"))["class_name"] == "Sequential"
    report = scan_bytes(tmp_path, "model.pkl", data)
    assert {R.FORMAT_POLYGLOT, R.KERAS_LAMBDA, R.PICKLE_GLOBAL_CRITICAL} <= set(high(report))


def test_cli_fails_on_high_for_a_polyglot(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from mlward.cli.model_scan import scan

    app = typer.Typer()
    app.command()(scan)
    marker = tmp_path / "m"
    path = tmp_path / "model.gguf"
    path.write_bytes(_polyglots(marker)["model.gguf"])

    def load_file() -> None:
        with path.open("rb") as fh:
            pickle.load(fh)

    assert runs(marker, load_file)
    result = CliRunner().invoke(app, [str(path), "--fail-on", "high"])
    assert result.exit_code == 1 and R.FORMAT_POLYGLOT in result.output


def test_gguf_and_json_scanner_bounds_are_high(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlward.model.scan import gguf_fmt, jsonconfig

    monkeypatch.setattr(gguf_fmt, "_MAX_STR", 8)
    key = b"tokenizer.chat_template"
    gguf = (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<IQ", 8, 5)
        + b"hello"
    )
    report = scan_bytes(tmp_path, "m.gguf", gguf)
    assert R.GGUF_INVALID in high(report)
    assert any(f.properties.get("limit") for f in report.findings)
    monkeypatch.setattr(jsonconfig, "_MAX_JSON", 16)
    report = scan_bytes(tmp_path, "m.keras", _keras_zip(b'{"class_name": "Sequential", "config": {}}'))
    assert R.FORMAT_MALFORMED in high(report)
