"""The prediction domain, HTTP-free: hosting slots, request schema, guards, output monitor.

``predict(principal, served, rows, audit=..., actor=...)`` validates, guards, predicts,
monitors and audits one batch; the gateway, ``mlward predict --local`` and Python callers
all call it. ``ModelManager`` (``hosting``) keeps one slot per served model. Imports are
lazy so importing the package stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PredictionResult", "predict"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mlward.inference import prediction

        return getattr(prediction, name)
    raise AttributeError(name)
