"""The inference gateway: verified models behind authentication, RBAC, limits and audit.

``create_app(workspace_dir)`` builds the FastAPI app; ``mlward.serve.client.predict`` is
the client helper. Imports are lazy so ``import mlward.serve`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "predict"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mlward.serve.app import create_app

        return create_app
    if name == "predict":
        from mlward.serve.client import predict

        return predict
    raise AttributeError(name)
