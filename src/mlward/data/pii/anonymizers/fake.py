"""Consistent synthetic replacement, seeded by a keyed hash of the original value.

The same input always maps to the same fake (joins and group-bys keep working) and
nobody without the data key can tell which fake belongs to which person. Names come
from the packaged name lists, e-mails use the reserved ``example.*`` domains, and other
values keep their format (``+44 20 7946 0018`` -> ``+61 83 2050 4471``: digits for
digits, letters for letters, separators kept; card numbers stay Luhn-valid). Faker is
not needed.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from functools import lru_cache

from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.detectors.dates import parse_date_candidates
from mlward.data.pii.detectors.person import name_lists
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import digits_of, luhn_check_digit

_STREETS = ("Street", "Avenue", "Road", "Lane", "Drive", "Way", "Place", "Court")
_KIND_BY_ENTITY = {
    EntityType.PERSON: "name",
    EntityType.EMAIL: "email",
    EntityType.PHONE: "phone",
    EntityType.ADDRESS: "address",
    EntityType.DATE_OF_BIRTH: "date",
}


@lru_cache(maxsize=1)
def _sorted_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    first, last = name_lists()
    return tuple(sorted(first)), tuple(sorted(last))


class _Stream:
    """Deterministic pseudo-random numbers from an HMAC-SHA256 counter stream."""

    def __init__(self, key: bytes, seed: str) -> None:
        self._key = key
        self._seed = seed.encode()
        self._block = b""
        self._counter = 0

    def below(self, bound: int) -> int:
        if len(self._block) < 8:
            counter = self._counter.to_bytes(8, "big")
            self._block += hmac.new(self._key, self._seed + counter, hashlib.sha256).digest()
            self._counter += 1
        value, self._block = int.from_bytes(self._block[:8], "big"), self._block[8:]
        return value % bound


class FakeValues(ValueAction):
    """Replace values with consistent synthetic ones of the same kind."""

    name = "fake"

    def __init__(self, key: bytes, *, kind: str = "auto") -> None:
        self._key = key
        self.kind = kind

    def apply(self, value: str, entity: EntityType | None) -> str:
        kind = self.kind
        if kind == "auto":
            kind = _KIND_BY_ENTITY.get(entity, "format") if entity else "format"
        rng = _Stream(self._key, f"{kind}\x00{value.strip().casefold()}")
        first, last = _sorted_names()
        if kind == "name" and self.kind == "auto" and len(value.split()) == 1:
            # A one-word name column holds first or last names: keep it one word.
            folded = value.strip().casefold()
            kind = (
                "last_name" if folded in name_lists()[1] and folded not in name_lists()[0] else "first_name"
            )
        if kind in ("name", "first_name", "last_name"):
            given = first[rng.below(len(first))].title()
            family = last[rng.below(len(last))].title()
            return {"name": f"{given} {family}", "first_name": given, "last_name": family}[kind]
        if kind == "email":
            user = f"{first[rng.below(len(first))]}.{last[rng.below(len(last))]}{rng.below(100)}"
            return f"{user}@example.{('com', 'org', 'net')[rng.below(3)]}"
        if kind == "address":
            street = last[rng.below(len(last))].title()
            return f"{1 + rng.below(9999)} {street} {_STREETS[rng.below(len(_STREETS))]}"
        if kind == "date":
            return self._date(value, rng)
        return self._format(value, rng, luhn=entity is EntityType.CREDIT_CARD)

    @staticmethod
    def _date(value: str, rng: _Stream) -> str:
        readings = parse_date_candidates(value.strip()[:10])
        year = readings[0][0] if readings else 1970 + rng.below(40)
        # Same decade, any day: keeps age bands roughly right without the birthday.
        return f"{year // 10 * 10 + rng.below(10):04d}-{1 + rng.below(12):02d}-{1 + rng.below(28):02d}"

    @staticmethod
    def _format(value: str, rng: _Stream, *, luhn: bool) -> str:
        out = []
        for ch in value:
            if ch.isdigit():
                out.append(str(rng.below(10)))
            elif ch.isalpha():
                pool = string.ascii_uppercase if ch.isupper() else string.ascii_lowercase
                out.append(pool[rng.below(26)])
            else:
                out.append(ch)
        fake = "".join(out)
        digits = digits_of(fake)
        if luhn and len(digits) >= 12:
            last_digit = max(i for i, ch in enumerate(fake) if ch.isdigit())
            fake = fake[:last_digit] + luhn_check_digit(digits[:-1]) + fake[last_digit + 1 :]
        return fake

    def params(self) -> dict[str, object]:
        return {"kind": self.kind}
