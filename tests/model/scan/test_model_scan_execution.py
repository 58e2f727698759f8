"""The malicious corpus is honest: every sample that claims to execute is loaded with its
real loader (in a subprocess, in its own temporary directory) and its payload writes the
marker there; every sample marked inert really does nothing under that loader; and mlward
flags every one of them HIGH."""

from __future__ import annotations

from pathlib import Path

import pytest
from model_corpus_loaders import MaliciousSample, run_under_loader

from mlward.core.findings import Severity
from mlward.model.scan import scan_paths

# A floor, so that a sample silently turning inert (a library change) fails here.
MIN_EXECUTING = 65


def _flagged_high(sample: MaliciousSample) -> bool:
    result = scan_paths([sample.path], workers=1).files[0]
    return result.max_severity is not None and result.max_severity >= Severity.HIGH


def test_counts_executing_and_inert(malicious_samples: list[MaliciousSample]) -> None:
    statuses = [s.status for s in malicious_samples]
    assert statuses.count("executes") >= MIN_EXECUTING
    assert set(statuses) <= {"executes", "inert", "unverified"}
    assert all(s.evidence.partition(":")[2] for s in malicious_samples if not s.executes)


def test_every_executing_sample_runs_under_its_loader(
    malicious_samples: list[MaliciousSample], tmp_path: Path
) -> None:
    silent = []
    for sample in malicious_samples:
        if not sample.executes:
            continue
        workdir = tmp_path / sample.path.name
        workdir.mkdir()
        if not run_under_loader(sample, workdir):
            silent.append((sample.path.name, sample.loader, sample.evidence))
        assert _flagged_high(sample), sample.path.name
    assert silent == []


def test_inert_samples_really_do_nothing(malicious_samples: list[MaliciousSample], tmp_path: Path) -> None:
    inert = [s for s in malicious_samples if s.status == "inert"]
    assert inert
    ran = []
    for sample in inert:
        workdir = tmp_path / sample.path.name
        workdir.mkdir()
        if run_under_loader(sample, workdir, settle_s=0.5):
            ran.append(sample.path.name)
    assert ran == [], "these run: mark them as executing"


@pytest.mark.parametrize("name", ["webbrowser_open.pkl", "socket_connection.pkl"])
def test_audit_and_call_evidence_needs_the_call(
    name: str, malicious_samples: list[MaliciousSample], tmp_path: Path
) -> None:
    """The harness writes the marker only when the named call happens, not for any load."""
    sample = next(s for s in malicious_samples if s.path.name == name)
    decoy = next(s for s in malicious_samples if s.path.name == "sys_modules.pkl")
    assert not run_under_loader(
        MaliciousSample(decoy.path, decoy.loader, sample.evidence), tmp_path, settle_s=0.2
    )
