"""The anonymizer family: one ``ValueAction`` per policy action.

An action transforms one cell value (or one span inside free text). Whole columns go
through ``apply_array``, which transforms each distinct value once (Arrow dictionary
encoding) for deterministic actions -- real columns repeat values a lot -- and keeps
nulls as nulls. Reversible actions also implement ``reveal``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mlward.core.errors import InputError
from mlward.data.pii.entities import EntityType


class ValueAction(ABC):
    """Transforms PII values for one policy rule."""

    name: ClassVar[str]
    """The policy action name (``hash``, ``tokenize``...)."""
    reversible: ClassVar[bool] = False
    """Whether ``reveal`` restores the original."""
    deterministic: ClassVar[bool] = True
    """Equal inputs give equal outputs (lets columns be transformed per distinct value)."""
    in_text: ClassVar[bool] = True
    """Can replace a span inside free text (``drop`` and ``generalize`` cannot)."""

    @abstractmethod
    def apply(self, value: str, entity: EntityType | None) -> str:
        """Transform one value (``entity`` is what the scan found, if known)."""

    def reveal(self, value: str) -> str:
        """Restore one value made by ``apply``."""
        raise InputError(f"the {self.name} action cannot be reversed")

    def params(self) -> dict[str, object]:
        """Non-secret parameters recorded in the output column's metadata."""
        return {}

    def apply_array(self, array: pa.Array | pa.ChunkedArray, entity: EntityType | None) -> pa.Array:
        """Transform a whole column; the result is a string column with the same nulls."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        text = _as_text(array)
        if self.deterministic and len(text) > 1:
            encoded = pc.dictionary_encode(text)
            values = [self.apply(v, entity) for v in encoded.dictionary.to_pylist()]
            return pa.array(values, pa.string()).take(encoded.indices)
        return pa.array([None if v is None else self.apply(v, entity) for v in text.to_pylist()], pa.string())

    def reveal_array(self, array: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Reverse ``apply_array``."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        text = _as_text(array)
        return pa.array([None if v is None else self.reveal(v) for v in text.to_pylist()], pa.string())


def _as_text(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    if pa.types.is_timestamp(array.type):
        return array.cast(pa.date32()).cast(pa.string())
    return array.cast(pa.string())
