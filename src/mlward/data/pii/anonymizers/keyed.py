"""Keyed actions: HMAC hashes, AES-SIV tokens and AES-GCM encryption.

Keys are per-purpose subkeys of the workspace data key (``crypto.encryption.DataKeys``).
Tokens and ciphertexts carry a prefix (``tok_``, ``enc_``) so they can be found again
inside free text and so scans recognise them as protected values.
"""

from __future__ import annotations

import base64
import re

from mlward.core.errors import InputError
from mlward.crypto.encryption import keyed_hash, open_value, seal_value, siv_open, siv_token
from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.entities import EntityType


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise InputError("not a valid token (bad base64)") from None


class HashValues(ValueAction):
    """HMAC-SHA256 hex digest (optionally truncated): deterministic, not reversible."""

    name = "hash"

    def __init__(
        self, key: bytes, *, length: int | None = None, prefix: str = "", domain: str = "default",
        normalize: bool = True,
    ) -> None:  # fmt: skip
        self._key = key
        self.length = length
        self.prefix = prefix
        self.domain = domain
        self.normalize = normalize

    def apply(self, value: str, entity: EntityType | None) -> str:
        text = value.strip().casefold() if self.normalize else value
        digest = keyed_hash(self._key, self.domain.encode() + b"\x00" + text.encode()).hex()
        return self.prefix + digest[: self.length]

    def params(self) -> dict[str, object]:
        return {"length": self.length, "prefix": self.prefix, "domain": self.domain}


class TokenizeValues(ValueAction):
    """Deterministic AES-SIV tokens: equal values give equal tokens; ``reveal`` inverts."""

    name = "tokenize"
    reversible = True

    def __init__(self, key: bytes, *, prefix: str = "tok_", domain: str = "default") -> None:
        self._key = key
        self.prefix = prefix
        self.domain = domain

    def apply(self, value: str, entity: EntityType | None) -> str:
        return self.prefix + _b64(siv_token(self._key, value.encode(), self.domain.encode()))

    def reveal(self, value: str) -> str:
        if not value.startswith(self.prefix):
            raise InputError(f"not a {self.prefix} token")
        token = _unb64(value[len(self.prefix) :])
        return siv_open(self._key, token, self.domain.encode()).decode()

    def params(self) -> dict[str, object]:
        return {"prefix": self.prefix, "domain": self.domain}

    def token_pattern(self) -> re.Pattern[str]:
        """Finds this action's tokens inside free text."""
        return re.compile(re.escape(self.prefix) + r"[A-Za-z0-9_-]{22,}")


class EncryptValues(TokenizeValues):
    """Randomized AES-256-GCM: equal values give different ciphertexts."""

    name = "encrypt"
    deterministic = False

    def __init__(self, key: bytes, *, prefix: str = "enc_") -> None:
        super().__init__(key, prefix=prefix, domain="")

    def apply(self, value: str, entity: EntityType | None) -> str:
        return self.prefix + _b64(seal_value(self._key, value.encode(), b"mlward-pii"))

    def reveal(self, value: str) -> str:
        if not value.startswith(self.prefix):
            raise InputError(f"not a {self.prefix} ciphertext")
        return open_value(self._key, _unb64(value[len(self.prefix) :]), b"mlward-pii").decode()

    def params(self) -> dict[str, object]:
        return {"prefix": self.prefix}
