"""``predict_local``: one prediction in this process, with the gateway's checks and audit.

The door of ``mlward predict --local`` and of Python callers that hold a workspace: the
permission the gateway requires (``predict:<name>``, denial audited), the model hosted
with the gateway's verify-then-load checks and settings (``serve:``), then the same
``predict()`` the gateway runs, its events appended to the workspace's audit chain.
Each call hosts the model afresh, so guard history (and a ``block``) lasts one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlward.access.authorize import authorize
from mlward.inference.hosting import ModelManager, NoObserver
from mlward.inference.prediction import ChainAudit, PredictionResult, predict
from mlward.inference.schema import Column, FeatureSpec
from mlward.inference.settings import load_settings
from mlward.model.registry import check_model_name
from mlward.workspace import Workspace, current_principal

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


@dataclass(frozen=True, slots=True)
class TextRows:
    """Rows whose cells are text (a CSV file): typed by the model's request schema first."""

    header: tuple[str, ...]
    """Column names (the first line); ignored for models whose rows are plain arrays."""
    rows: list[list[str]]
    """The cells of each row."""


def predict_local(
    workspace: Workspace,
    name: str,
    rows: Sequence[Any] | bytes | TextRows,
    *,
    selector: str | None = "production",
    principal: str | None = None,
) -> PredictionResult:
    """Authorize ``predict:<name>``, host ``name@selector`` and ``predict`` ``rows`` locally.

    ``principal`` defaults to ``current_principal()``. Raises ``AccessDenied`` (audited
    ``access.denied``), ``GuardBlocked``, ``InvalidRows`` or ``ModelRejected`` like the
    gateway's route, and ``NotFound`` / ``IntegrityError`` when the version is missing or
    fails verification.
    """
    check_model_name(name)
    who = authorize(workspace, f"predict:{name}", principal or current_principal(), target=f"model:{name}")

    def alert(action: str, target: str, outcome: str, details: dict[str, Any]) -> None:
        workspace.audit.append(who, action, target, outcome, details)

    manager = ModelManager(workspace, load_settings(workspace.config.serve), NoObserver(), alert)
    try:
        served = manager.host(name, selector or "production")
        batch = typed_rows(served.spec, rows) if isinstance(rows, TextRows) else rows
        return predict(who, served, batch, audit=ChainAudit(workspace.audit), actor=who)
    finally:
        manager.close()


def typed_rows(spec: FeatureSpec, text: TextRows) -> list[Any]:
    """``text`` as request rows: numbers and booleans parsed where ``spec`` asks for them.

    A cell that does not parse stays text, so validation names its field; an empty cell is
    left out (optional columns) or ``None``. Rows of unnamed models are arrays of floats.
    """
    if not spec.named:
        return [[_number(cell) for cell in row] for row in text.rows]
    columns = {column.name: column for column in spec.columns}
    typed = []
    for cells in text.rows:
        row: dict[str, Any] = {}
        for key, cell in zip(text.header, cells, strict=False):
            column = columns.get(key)
            if cell.strip() == "":
                if column is None or column.required:
                    row[key] = None
                continue
            row[key] = _cell(column, cell) if column is not None else cell
        typed.append(row)
    return typed


def _cell(column: Column, cell: str) -> Any:
    text = cell.strip()
    if column.allowed is not None and cell in column.allowed:
        return cell
    if column.type == "int":
        try:
            return int(text)
        except ValueError:
            number = _number(text)
        return int(number) if isinstance(number, float) and number.is_integer() else cell
    if column.type == "float":
        return _number(text)
    if column.type == "bool":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else cell
    return cell


def _number(text: str) -> float | str:
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
