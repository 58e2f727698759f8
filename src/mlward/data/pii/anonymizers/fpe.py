"""Format-preserving encryption of values with FF3-1.

The symbols of the chosen alphabet (digits, or digits and letters) are encrypted as
one numeral string; everything else (spaces, dashes, ``+``) stays in place, so
``4111 1111 1111 1111`` becomes another ``dddd dddd dddd dddd``. With ``luhn`` the
last digit is re-derived so that valid card numbers stay Luhn-valid -- and reversibly:
the output's check digit is offset from its Luhn digit exactly as the input's was.
Values with too few symbols for FF3-1's minimum domain (six digits) are fully masked
and counted, never left in clear; ``reveal`` returns them masked.
"""

from __future__ import annotations

import hashlib
import hmac

from mlward.core.errors import ConfigError, InputError
from mlward.crypto.fpe import BASE62, DIGITS, FF31, FPEError
from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import luhn_check_digit


class FormatPreservingValues(ValueAction):
    """FF3-1 over the value's digits (or alphanumerics), separators kept."""

    name = "fpe"
    reversible = True

    def __init__(
        self,
        key: bytes,
        tweak_key: bytes,
        *,
        alphabet: str = "digits",
        luhn: bool = False,
        preserve_prefix: int = 0,
        preserve_suffix: int = 0,
        domain: str = "default",
    ) -> None:
        if luhn and preserve_suffix:
            raise ConfigError("fpe: luhn recomputes the last digit, so preserve_suffix must be 0")
        self.alphabet_name = alphabet
        self._cipher = FF31(key, DIGITS if alphabet == "digits" else BASE62)
        self._symbols = set(self._cipher.alphabet)
        # The tweak separates domains; it is derived, so it need not be stored.
        self._tweak = hmac.new(tweak_key, b"ff3-1 tweak\x00" + domain.encode(), hashlib.sha256).digest()[:7]
        self.luhn = luhn and alphabet == "digits"
        self.preserve_prefix = preserve_prefix
        self.preserve_suffix = preserve_suffix
        self.domain = domain
        self.too_short = 0
        """Values that were masked because they had too few symbols."""

    def _positions(self, value: str) -> list[int]:
        return [i for i, ch in enumerate(value) if ch in self._symbols]

    def _transform(self, value: str, decrypt: bool) -> str:
        positions = self._positions(value)
        symbols = "".join(value[i] for i in positions)
        end = len(symbols) - self.preserve_suffix
        check_at = end - 1 if self.luhn else end
        body = symbols[self.preserve_prefix : check_at]
        if len(body) < self._cipher.minlen or len(body) > self._cipher.maxlen:
            if decrypt:  # it was masked, not encrypted: nothing to restore
                return value
            self.too_short += 1
            return "".join("*" if ch in self._symbols else ch for ch in value)
        crypt = self._cipher.decrypt if decrypt else self._cipher.encrypt
        try:
            new_body = crypt(body, self._tweak)
        except FPEError as exc:  # pragma: no cover - lengths are checked above
            raise InputError(str(exc)) from exc
        head = symbols[: self.preserve_prefix]
        new_symbols = head + new_body
        if self.luhn:
            # offset = stored digit - Luhn digit is carried from input to output.
            old_full = head + body
            offset = (int(symbols[check_at]) - int(luhn_check_digit(old_full))) % 10
            new_symbols += str((int(luhn_check_digit(new_symbols)) + offset) % 10)
        new_symbols += symbols[end:]
        out = list(value)
        for position, symbol in zip(positions, new_symbols, strict=True):
            out[position] = symbol
        return "".join(out)

    def apply(self, value: str, entity: EntityType | None) -> str:
        return self._transform(value, decrypt=False)

    def reveal(self, value: str) -> str:
        return self._transform(value, decrypt=True)

    def params(self) -> dict[str, object]:
        return {
            "alphabet": self.alphabet_name,
            "luhn": self.luhn,
            "preserve_prefix": self.preserve_prefix,
            "preserve_suffix": self.preserve_suffix,
            "domain": self.domain,
        }
