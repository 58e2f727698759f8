"""Session corpora for the model scanner: benign files made by the real libraries and
malicious files whose payloads only write a marker (builders live in bench/corpus so the
benchmark scans exactly the same files)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if str(CORPUS_DIR := Path(__file__).resolve().parents[3] / "bench" / "corpus") not in sys.path:
    sys.path.insert(0, str(CORPUS_DIR))

from model_corpus_loaders import MARKER_NAME, MaliciousSample

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def benign_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every benign corpus file plus the committed TensorFlow fixture."""
    from model_corpus_benign import build_benign

    files = build_benign(tmp_path_factory.mktemp("benign"))
    return [*files, FIXTURES / "benign_savedmodel" / "saved_model.pb"]


@pytest.fixture(scope="session")
def malicious_samples(tmp_path_factory: pytest.TempPathFactory) -> list[MaliciousSample]:
    """Every malicious corpus sample with its real loader and proof rule.

    Payloads write a relative marker, so each load leaves it in its own working directory.
    """
    from model_corpus_malicious import build_malicious_samples

    return build_malicious_samples(tmp_path_factory.mktemp("malicious"), Path(MARKER_NAME))


@pytest.fixture(scope="session")
def malicious_files(malicious_samples: list[MaliciousSample]) -> list[Path]:
    """Every malicious corpus file plus the committed TensorFlow file-access fixture."""
    return [*(s.path for s in malicious_samples), FIXTURES / "readfile_savedmodel" / "saved_model.pb"]
