"""The whole corpora: benign files from the real libraries stay below HIGH, every
malicious variant is HIGH or CRITICAL."""

from __future__ import annotations

from pathlib import Path

from mlward.core.findings import Severity
from mlward.model.scan import Verdict, scan_paths


def test_benign_corpus_has_no_high_findings(benign_files: list[Path]) -> None:
    report = scan_paths(benign_files, workers=2)
    assert len(report.files) >= 70
    noisy = [
        (r.path, f.rule_id, f.message)
        for r in report.files
        for f in r.findings
        if f.severity >= Severity.MEDIUM
    ]
    assert noisy == []
    assert {r.verdict for r in report.files} == {Verdict.SAFE}
    formats = {r.format for r in report.files}
    assert {
        "pickle",
        "joblib",
        "pytorch-zip",
        "pytorch-legacy",
        "numpy-npy",
        "numpy-npz",
        "keras",
        "keras-h5",
        "onnx",
        "safetensors",
        "gguf",
        "tensorflow-savedmodel",
    } <= formats


def test_every_malicious_variant_is_flagged_high(malicious_files: list[Path]) -> None:
    report = scan_paths(malicious_files, workers=2)
    assert len(report.files) >= 80
    missed = [r.path for r in report.files if r.max_severity is None or r.max_severity < Severity.HIGH]
    assert missed == []
    assert all(r.verdict is Verdict.UNSAFE for r in report.files)


def test_locations_name_member_offset_and_opcode(malicious_files: list[Path]) -> None:
    by_name = {p.name: p for p in malicious_files}
    report = scan_paths([by_name["torch_zip_odd_member.pt"], by_name["memo_stack_global.pkl"]], workers=1)
    torch_finding = report.files[0].findings[0]
    assert torch_finding.location.member == "archive/extra/anything.pkl"
    assert torch_finding.location.detail == "GLOBAL"
    assert torch_finding.properties["global"] == "os.system"
    memo = report.files[1].findings[0]
    assert memo.location.member is None
    assert memo.location.detail == "STACK_GLOBAL"
    data = by_name["memo_stack_global.pkl"].read_bytes()
    assert data[memo.location.offset] == 0x93  # the STACK_GLOBAL opcode itself
