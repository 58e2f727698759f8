"""Session corpora for the model scanner: benign files made by the real libraries and
malicious files whose payloads only write a marker (builders live in bench/corpus so the
benchmark scans exactly the same files)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[3] / "bench" / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"
if str(CORPUS_DIR) not in sys.path:
    sys.path.insert(0, str(CORPUS_DIR))


@pytest.fixture(scope="session")
def benign_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every benign corpus file plus the committed TensorFlow fixture."""
    from model_corpus_benign import build_benign

    files = build_benign(tmp_path_factory.mktemp("benign"))
    return [*files, FIXTURES / "benign_savedmodel" / "saved_model.pb"]


@pytest.fixture(scope="session")
def marker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where malicious payloads would write their marker if they were ever run."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="session")
def malicious_files(tmp_path_factory: pytest.TempPathFactory, marker_dir: Path) -> list[Path]:
    """Every malicious corpus file plus the committed TensorFlow file-access fixture."""
    from model_corpus_malicious import build_malicious

    files = build_malicious(tmp_path_factory.mktemp("malicious"), marker_dir / "pwned")
    return [*files, FIXTURES / "readfile_savedmodel" / "saved_model.pb"]
