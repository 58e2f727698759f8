"""Inference test helpers: the gateway tests' data (``serve_testlib``: contract, training rows)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "serve"))
