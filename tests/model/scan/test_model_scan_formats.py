"""Format scanners on crafted inputs: limits, malformed headers, directories, errors."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from model_corpus_malicious import call0

from mlward.core.errors import InputError
from mlward.core.findings import Severity
from mlward.model.scan import ScanLimits, Verdict, scan_file, scan_path, scan_paths
from mlward.model.scan import rules as R

EVIL = call0("os", "system", "true") + b"."


def rules_of(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.rule_id for f in report.findings}


def test_zip_bomb_is_stopped_by_the_expansion_limit(tmp_path: Path) -> None:
    p = tmp_path / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.pkl", b"\x00" * (8 << 20))
    report = scan_file(p, limits=ScanLimits(max_expanded_bytes=1 << 20))
    assert R.ARCHIVE_BOMB in rules_of(report) and report.verdict is Verdict.UNSAFE


def test_nesting_deeper_than_the_limit_is_reported(tmp_path: Path) -> None:
    data = EVIL
    for i in range(4):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"level{i}.bin", data)
        data = buf.getvalue()
    (tmp_path / "deep.zip").write_bytes(data)
    assert R.ARCHIVE_BOMB in rules_of(scan_file(tmp_path / "deep.zip", limits=ScanLimits(max_depth=2)))
    assert R.PICKLE_GLOBAL_CRITICAL in rules_of(scan_file(tmp_path / "deep.zip"))


def test_garbage_that_only_looks_like_a_zip_is_unsafe(tmp_path: Path) -> None:
    p = tmp_path / "broken.pt"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    report = scan_file(p)
    assert report.verdict is Verdict.UNSAFE
    assert R.ARCHIVE_UNREADABLE in rules_of(report)


def test_zip_crc_mismatch_and_encrypted_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", b"x" * 100)
    data = bytearray(buf.getvalue())
    data[14] ^= 0xFF  # local header CRC; central CRC is the one compared
    cen = data.rfind(b"PK\x01\x02")
    data[cen + 16] ^= 0xFF
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    findings = scan_file(tmp_path / "crc.zip").findings
    assert any(f.rule_id == R.ARCHIVE_INCONSISTENT and f.severity is Severity.LOW for f in findings)
    enc = bytearray(buf.getvalue())
    enc[cen + 8] |= 1
    enc[6] |= 1
    (tmp_path / "enc.zip").write_bytes(bytes(enc))
    assert R.ARCHIVE_UNREADABLE in rules_of(scan_file(tmp_path / "enc.zip"))


def _safetensors(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    "header",
    [
        {
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        },
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
        {"a": {"dtype": "EVIL", "shape": [2], "data_offsets": [0, 8]}},
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
        {"__metadata__": {"k": 1}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
    ],
)
def test_malformed_safetensors_headers(tmp_path: Path, header: dict[str, object]) -> None:
    p = tmp_path / "m.safetensors"
    p.write_bytes(_safetensors(header, b"\x00" * 12))
    report = scan_file(p)
    assert report.format == "safetensors" and R.SAFETENSORS_INVALID in rules_of(report)


def test_valid_safetensors_by_hand_is_clean(tmp_path: Path) -> None:
    p = tmp_path / "ok.bin"  # detected by content, not by name
    p.write_bytes(
        _safetensors(
            {
                "__metadata__": {"format": "pt"},
                "a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]},
            },
            b"\x00" * 8,
        )
    )
    report = scan_file(p)
    assert (report.format, report.findings) == ("safetensors", ())


def test_npy_with_broken_header_is_medium(tmp_path: Path) -> None:
    p = tmp_path / "bad.npy"
    p.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': __import__('os')}      \n")
    report = scan_file(p)
    assert [(f.rule_id, f.severity) for f in report.findings] == [(R.FORMAT_MALFORMED, Severity.MEDIUM)]


def test_unknown_content_is_low_and_raw_bin_weights_are_not_pickles(tmp_path: Path) -> None:
    (tmp_path / "blob.xyz").write_bytes(b"\x01\x02\x03 unknown")
    (tmp_path / "weights.bin").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    for name in ("blob.xyz", "weights.bin"):
        report = scan_file(tmp_path / name)
        assert report.verdict is Verdict.SAFE
        assert [f.severity for f in report.findings] == [Severity.LOW]


def test_protocol0_pickle_hidden_in_text_name_is_found(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_bytes(EVIL)
    assert scan_file(tmp_path / "notes.md").max_severity is Severity.CRITICAL


def test_onnx_custom_domain_is_medium(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Backdoor", ["x"], ["y"], domain="evil.ops")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)]
    )
    onnx.save(model, tmp_path / "custom.onnx")
    report = scan_file(tmp_path / "custom.onnx")
    assert [(f.rule_id, f.severity, f.location.detail) for f in report.findings] == [
        (R.ONNX_CUSTOM_DOMAIN, Severity.MEDIUM, "evil.ops")
    ]


def test_truncated_gguf_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "t.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 5) + b"\x05")
    assert R.GGUF_INVALID in rules_of(scan_file(tmp_path / "t.gguf"))


def test_directory_scan_with_globs_parallel_and_progress(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "evil.pkl").write_bytes(EVIL)
    (tmp_path / "a" / "ok.npy").write_bytes(b"")
    np.save(tmp_path / "a" / "ok.npy", np.ones(3))
    (tmp_path / "skip.pkl").write_bytes(EVIL)
    seen: list[tuple[int, int]] = []
    report = scan_paths(
        [tmp_path], include=["a/*"], workers=2, progress=lambda done, total, _p: seen.append((done, total))
    )
    assert [Path(r.path).name for r in report.files] == ["evil.pkl", "ok.npy"]
    assert seen[-1] == (2, 2)
    serial = scan_path(tmp_path, exclude=["skip.pkl"])
    assert [r.to_dict()["verdict"] for r in serial.files] == ["UNSAFE", "SAFE"]
    assert json.loads(json.dumps(serial.to_dict()))["verdict"] == "UNSAFE"


def test_missing_path_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        scan_paths([tmp_path / "nope"])
    report = scan_file(tmp_path)  # a directory cannot be opened as a file
    assert report.verdict is Verdict.ERROR and R.SCAN_ERROR in rules_of(report)
