"""The malicious corpus is real: loading a sample with the real loader (in a subprocess)
runs its payload, which only writes a marker file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LOADERS = {
    "os_system_p0.pkl": "import pickle; pickle.loads(open(P, 'rb').read())",
    "memo_stack_global.pkl": "import pickle; pickle.loads(open(P, 'rb').read())",
    "dotted_pathlib_os_system.pkl": "import pickle; pickle.loads(open(P, 'rb').read())",
    "builtins_exec_stack_global.pkl": "import pickle; pickle.loads(open(P, 'rb').read())",
    "broken_after_payload.pkl": "import pickle\ntry:\n pickle.loads(open(P, 'rb').read())\n"
                                "except Exception: pass",
    "second_pickle_payload.pkl": "import pickle\nf = open(P, 'rb'); pickle.load(f); pickle.load(f)",
    "torch_legacy_4th_pickle.pt": "import torch; torch.load(P, weights_only=False)",
    "torch_zip_reduce.pt": "import torch; torch.load(P, weights_only=False)",
    "joblib_object_array.joblib": "import joblib; joblib.load(P)",
    "object_array.npy": "import numpy; numpy.load(P, allow_pickle=True)",
    "torch_load_from_bytes.pkl": "import pickle; pickle.loads(open(P, 'rb').read())",
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_payload_really_runs_under_its_loader(
    name: str, malicious_files: list[Path], marker_dir: Path
) -> None:
    marker = marker_dir / "pwned"
    marker.unlink(missing_ok=True)
    path = next(p for p in malicious_files if p.name == name)
    code = f"P = {str(path)!r}\n{LOADERS[name]}"
    subprocess.run([sys.executable, "-c", code], check=False, timeout=120,
                   capture_output=True, cwd=marker_dir)
    assert marker.exists(), f"{name} did not run its payload"
    marker.unlink()
