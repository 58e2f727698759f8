"""Irreversible replacements that need no key: keep, drop, redact, mask."""

from __future__ import annotations

from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.entities import EntityType
from mlward.data.pii.masking import mask_keep_last


class KeepValues(ValueAction):
    """Leave values unchanged (an explicit decision, recorded in the metadata)."""

    name = "keep"

    def apply(self, value: str, entity: EntityType | None) -> str:
        return value


class DropValues(ValueAction):
    """Remove the column; inside free text the span is replaced by ``[ENTITY]``."""

    name = "drop"
    in_text = False

    def apply(self, value: str, entity: EntityType | None) -> str:
        return f"[{entity.value if entity else 'REDACTED'}]"


class RedactValues(ValueAction):
    """Replace every value with a fixed text (``{entity}`` names the entity type)."""

    name = "redact"

    def __init__(self, replacement: str = "[{entity}]") -> None:
        self.replacement = replacement

    def apply(self, value: str, entity: EntityType | None) -> str:
        return self.replacement.replace("{entity}", entity.value if entity else "REDACTED")

    def params(self) -> dict[str, object]:
        return {"replacement": self.replacement}


class MaskValues(ValueAction):
    """Mask letters and digits, keeping the first ``keep_first`` and last ``keep_last``."""

    name = "mask"

    def __init__(self, keep_last: int = 4, keep_first: int = 0, char: str = "*") -> None:
        self.keep_last = keep_last
        self.keep_first = keep_first
        self.char = char

    def apply(self, value: str, entity: EntityType | None) -> str:
        head, tail = value[: self.keep_first], value[self.keep_first :]
        # Always hide more than half of a value, however short.
        keep = min(self.keep_last, (sum(ch.isalnum() for ch in tail) - 1) // 2)
        return head + mask_keep_last(tail, keep, self.char)

    def params(self) -> dict[str, object]:
        return {"keep_last": self.keep_last, "keep_first": self.keep_first, "char": self.char}
