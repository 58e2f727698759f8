"""Reverse protection (``reveal``), and the data-key helpers protect and reveal share.

``reveal`` is the plain domain function; the permission check (``pii:reveal``) and the
audit event are ``mlward.data.pii.service.reveal_dataset``'s, which every door calls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import TypeAdapter

from mlward.core.errors import ConfigError, InputError
from mlward.crypto.encryption import DataKeys
from mlward.data.io import to_arrow
from mlward.data.pii.anonymizers import build_action
from mlward.data.pii.anonymizers.keyed import TokenizeValues
from mlward.data.pii.policy import ActionSpec, PiiPolicy
from mlward.data.pii.scanner import PROTECTION_METADATA_KEY

_SPEC = TypeAdapter(ActionSpec)


class WrongDataKey(InputError):
    """A column was protected with a data key other than the one given (try the next key)."""


def key_id(keys: DataKeys) -> str:
    """An id of the data key that protected a column (reveals nothing about the key)."""
    return hmac.new(keys.hash_key, b"mlward pii key id v1", hashlib.sha256).hexdigest()[:16]


def as_data_keys(keys: bytes | DataKeys | None) -> DataKeys | None:
    if keys is None or isinstance(keys, DataKeys):
        return keys
    if len(keys) < 16:
        raise ConfigError("the data key must have at least 16 bytes")
    return DataKeys.derive(keys)


def same_kind(original: Any, table: pa.Table) -> Any:
    module = type(original).__module__
    if module.startswith("pandas"):
        return table.to_pandas()
    if module.startswith("polars"):
        return pl.from_arrow(table)
    return table


def _recorded(field_: pa.Field) -> dict[str, Any] | None:
    raw = (field_.metadata or {}).get(PROTECTION_METADATA_KEY)
    if not raw:
        return None
    recorded: dict[str, Any] = json.loads(raw)
    return recorded


def reveal(
    data: Any,
    policy: PiiPolicy | None,
    keys: bytes | DataKeys,
    *,
    columns: list[str] | None = None,
) -> Any:
    """Restore the original values of tokenized, FF3-1 and AES-GCM protected columns.

    The action of each column comes from its Arrow metadata (Parquet keeps it), else
    from ``policy.by_column``. Columns protected irreversibly (hash, mask...) are left
    alone, or refused when named in ``columns``; ``WrongDataKey`` when a column was
    protected with another key. The permission check (``pii:reveal``) and the audit
    event are ``reveal_dataset``'s: this function does neither.
    """
    data_keys = as_data_keys(keys)
    assert data_keys is not None
    table = to_arrow(data)
    wanted = set(columns) if columns is not None else None
    if wanted is not None and (missing := wanted - set(table.column_names)):
        raise InputError(f"no column named {', '.join(sorted(missing))}")
    fields, arrays = [], []
    for field_, array in zip(table.schema, table.columns, strict=True):
        revealed = _reveal_column(field_, array, policy, data_keys, wanted)
        if revealed is None:
            fields.append(field_)
            arrays.append(array)
            continue
        metadata = {k: v for k, v in (field_.metadata or {}).items() if k != PROTECTION_METADATA_KEY}
        fields.append(pa.field(field_.name, pa.string(), metadata=metadata or None))
        arrays.append(revealed)
    return same_kind(data, pa.Table.from_arrays(arrays, schema=pa.schema(fields)))


def _reveal_column(
    field_: pa.Field,
    array: pa.ChunkedArray,
    policy: PiiPolicy | None,
    keys: DataKeys,
    wanted: set[str] | None,
) -> pa.Array | None:
    name = field_.name
    if wanted is not None and name not in wanted:
        return None
    recorded = _recorded(field_)
    if recorded is None and policy is not None and name in policy.by_column:
        rule = policy.by_column[name]
        recorded = {"action": rule.action, "params": rule.model_dump(exclude={"action"}), "mode": "column"}
    if recorded is None:
        if wanted is not None:
            raise InputError(f"column {name!r} has no recorded protection to reverse")
        return None
    if recorded.get("key_id") not in (None, key_id(keys)):
        raise WrongDataKey(f"column {name!r} was protected with another data key (id {recorded['key_id']})")
    if recorded.get("mode") in ("text", "cells"):
        rules = [_SPEC.validate_python(rule) for rule in recorded.get("rules", {}).values()]
        actions = [build_action(rule, keys) for rule in rules]
        tokenizers = [a for a in actions if isinstance(a, TokenizeValues)]
        return _reveal_text(array, tokenizers) if tokenizers else None
    params = {k: v for k, v in recorded.get("params", {}).items() if v is not None}
    rule = _SPEC.validate_python({"action": recorded["action"], **params})
    action = build_action(rule, keys)
    if not action.reversible:
        if wanted is not None:
            raise InputError(f"column {name!r} was protected with {rule.action}, which cannot be reversed")
        return None
    return action.reveal_array(array)


def _reveal_text(array: pa.ChunkedArray | pa.Array, actions: list[TokenizeValues]) -> pa.Array:
    patterns = [(action, action.token_pattern()) for action in actions]
    out = []
    for text in array.to_pylist():
        if text is not None:
            for action, pattern in patterns:
                text = pattern.sub(lambda m, a=action: a.reveal(m.group(0)), text)  # type: ignore[misc]
        out.append(text)
    return pa.array(out, pa.string())
