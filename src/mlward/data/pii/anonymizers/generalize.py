"""Generalization: coarser values that keep analytic use (k-anonymity's main tool).

Numbers go into bins (explicit edges or a fixed width), dates to their year, month or
decade, and codes such as postcodes keep their first characters (``94105`` ->
``941**``, ``SW1A 1AA`` -> ``SW1A ***``). Not reversible.
"""

from __future__ import annotations

import bisect
import math

from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.detectors.dates import parse_date_candidates
from mlward.data.pii.entities import EntityType


def _number(value: str) -> float | None:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


class GeneralizeValues(ValueAction):
    """Bins, date truncation or prefix truncation, chosen by the options or the data."""

    name = "generalize"
    in_text = False

    def __init__(
        self,
        *,
        bins: list[float] | None = None,
        width: float | None = None,
        date: str | None = None,
        keep_chars: int | None = None,
    ) -> None:
        self.bins = sorted(bins) if bins else None
        self.width = width
        self.date = date
        self.keep_chars = keep_chars

    def apply(self, value: str, entity: EntityType | None) -> str:
        text = value.strip()
        if self.date or (entity is EntityType.DATE_OF_BIRTH and self.keep_chars is None):
            generalized = self._date(text)
            if generalized is not None:
                return generalized
        if self.bins or self.width:
            number = _number(text)
            if number is not None:
                return self._bin(number)
        keep = self.keep_chars if self.keep_chars is not None else 3
        return self._truncate(text, keep)

    def _date(self, text: str) -> str | None:
        readings = parse_date_candidates(text) or parse_date_candidates(text[:10])
        if not readings:
            return None
        year, month, _ = readings[0]
        if self.date == "month":
            return f"{year:04d}-{month:02d}"
        if self.date == "decade":
            return f"{year // 10 * 10}s"
        return f"{year:04d}"

    def _bin(self, number: float) -> str:
        if self.bins:
            index = bisect.bisect_right(self.bins, number)
            if index == 0:
                return f"<{_fmt(self.bins[0])}"
            if index == len(self.bins):
                return f">={_fmt(self.bins[-1])}"
            return f"{_fmt(self.bins[index - 1])}-{_fmt(self.bins[index])}"
        width = self.width or 1.0
        low = math.floor(number / width) * width
        return f"{_fmt(low)}-{_fmt(low + width)}"

    @staticmethod
    def _truncate(text: str, keep: int) -> str:
        seen = 0
        out = []
        for ch in text:
            if ch.isalnum():
                out.append(ch if seen < keep else "*")
                seen += 1
            else:
                out.append(ch)
        return "".join(out)

    def params(self) -> dict[str, object]:
        return {"bins": self.bins, "width": self.width, "date": self.date, "keep_chars": self.keep_chars}
