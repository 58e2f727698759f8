"""The real loaders of the malicious corpus, and a harness that runs one sample under its
loader in a subprocess and says whether its payload ran.

Every malicious sample names a loader (a key of ``LOADERS``: the code a user of that
format really runs, with ``P`` bound to the file) and an evidence rule:

``marker``           the payload itself writes the marker file ``pwned`` in the working
                     directory (payloads use a relative marker path);
``call:<dotted>``    the payload reaches that Python function (seen by ``sys.setprofile``,
                     which also sees calls made from C, such as ``_pickle``'s REDUCE);
``audit:<event>``    the payload reaches a C function that raises that audit event
                     (``os.system``, ``socket.connect`` …), seen by ``sys.addaudithook``;
``inert:<why>``      loaded with its real loader, the sample does nothing; it is kept as a
                     scanner test and counted apart from the samples that execute;
``unverified:<why>`` the real loader is not installed here, so nothing was confirmed.

For ``call`` and ``audit`` the harness writes the marker when it sees the evidence, so a
test checks one thing for every sample: the marker exists after the load.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MARKER_NAME = "pwned"

_PICKLE = "import pickle\nwith open(P, 'rb') as f:\n    pickle.load(f)"
_TORCH = "import torch\ntorch.load(P, weights_only=False)"
_KERAS = (
    "import os\nos.environ.setdefault('KERAS_BACKEND', 'torch')\nimport keras\n"
    "keras.config.enable_unsafe_deserialization()\n"
    "keras.models.load_model(P, safe_mode=False)"
)

LOADERS: dict[str, str] = {
    "pickle.load": _PICKLE,
    "pickle.load twice": "import pickle\nwith open(P, 'rb') as f:\n    pickle.load(f)\n    pickle.load(f)",
    "torch.load": _TORCH,
    "joblib.load": "import joblib\njoblib.load(P)",
    "numpy.load": "import numpy\nnumpy.load(P, allow_pickle=True)",
    "numpy.load npz": "import numpy\nwith numpy.load(P, allow_pickle=True) as z:\n"
    "    [z[k] for k in z.files]",
    "gzip+pickle.load": "import gzip, pickle\nwith gzip.open(P) as f:\n    pickle.load(f)",
    "tarfile+pickle.load": "import pickle, tarfile\nwith tarfile.open(P) as t:\n"
    "    for m in t.getmembers():\n"
    "        pickle.load(t.extractfile(m))",
    "zipfile+pickle.load": "import pickle, zipfile\nwith zipfile.ZipFile(P) as z:\n"
    "    for name in z.namelist():\n"
    "        pickle.loads(z.read(name))",
    "zip-in-zip+pickle.load": "import io, pickle, zipfile\nwith zipfile.ZipFile(P) as z:\n"
    "    inner = zipfile.ZipFile(io.BytesIO(z.read('inner.zip')))\n"
    "    pickle.loads(inner.read('m.bin'))",
    "py7zr+pickle.load": "import pathlib, pickle, py7zr\nwith py7zr.SevenZipFile(P) as z:\n"
    "    z.extractall('extracted')\n"
    "for f in pathlib.Path('extracted').rglob('*.pkl'):\n"
    "    pickle.loads(f.read_bytes())",
    "keras.models.load_model": _KERAS,
    "onnx.load": "import onnx\nonnx.load(P, load_external_data=True)",
    # llama-cpp-python before 0.2.72 (CVE-2024-34359) rendered a GGUF's chat template with
    # an unsandboxed jinja2.Environment; today's servers use a sandbox.
    "gguf chat template (unsandboxed jinja2)": "import gguf, jinja2\nr = gguf.GGUFReader(P)\n"
    "f = r.fields['tokenizer.chat_template']\n"
    "t = bytes(f.parts[f.data[0]]).decode()\n"
    "jinja2.Environment().from_string(t).render(messages=[], add_generation_prompt=True)",
    "tensorflow.saved_model.load": "import os, tensorflow as tf\ntf.saved_model.load(os.path.dirname(P))",
}

_HARNESS = """
import os, pkgutil, sys
P, EVIDENCE, MARKER = {path!r}, {evidence!r}, {marker!r}
kind, _, what = EVIDENCE.partition(':')
def _seen():
    with open(MARKER, 'w') as fh:
        fh.write('evidence: ' + EVIDENCE)
if kind == 'audit':
    def _audit(event, args):
        if event == what and not os.path.exists(MARKER):
            _seen()
    sys.addaudithook(_audit)
elif kind == 'call':
    _code = pkgutil.resolve_name(what).__code__
    def _profile(frame, event, arg):
        if event == 'call' and frame.f_code is _code:
            _seen()
    sys.setprofile(_profile)
try:
{body}
except BaseException as exc:  # the payload may raise after it ran
    print('loader raised', type(exc).__name__, str(exc)[:300], file=sys.stderr)
"""


@dataclass(frozen=True)
class MaliciousSample:
    """One malicious corpus file with the loader a victim would use and the proof rule."""

    path: Path
    """Where the sample was written."""
    loader: str
    """Key of ``LOADERS``."""
    evidence: str
    """``marker``, ``call:<dotted>``, ``audit:<event>``, ``inert:<why>`` or ``unverified:<why>``."""

    @property
    def executes(self) -> bool:
        """True when the payload is claimed to run under ``loader``."""
        return self.evidence.split(":", 1)[0] in ("marker", "call", "audit")

    @property
    def status(self) -> str:
        """``executes``, ``inert`` or ``unverified``."""
        return "executes" if self.executes else self.evidence.split(":", 1)[0]


def run_under_loader(
    sample: MaliciousSample, workdir: Path, timeout_s: float = 120, settle_s: float = 3
) -> bool:
    """Load ``sample`` with its real loader in a subprocess in ``workdir``; True if it ran.

    The marker is relative, so it lands in ``workdir``. Payloads that start a detached
    process may write it a moment after the loader returns, hence the short wait.
    """
    marker = workdir / MARKER_NAME
    marker.unlink(missing_ok=True)
    body = "\n".join("    " + line for line in LOADERS[sample.loader].splitlines())
    code = _HARNESS.format(path=str(sample.path), evidence=sample.evidence, marker=MARKER_NAME, body=body)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with contextlib.suppress(subprocess.TimeoutExpired):  # a hung loader proves nothing
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=workdir,
            env=env,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    deadline = time.monotonic() + settle_s
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return marker.exists()
