"""FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1, Algorithms 9 and 10).

A numeral string over an alphabet of ``radix`` symbols encrypts to another string of
the same length over the same alphabet: digits stay digits, so a 16-digit card number
stays 16 digits. FF3-1 is an 8-round Feistel network whose round function is one AES
block encryption under the byte-reversed key, with a 56-bit tweak.

Implemented here on ``cryptography``'s AES-ECB rather than the PyPI ``ff3`` package:
that package targets FF3 (64-bit tweaks) and its 56-bit tweak path does not reproduce
the FF3-1 vectors Bouncy Castle validates against ACVP (its own tests note the
mismatch); this module does (see tests/crypto/test_fpe.py).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

DIGITS = "0123456789"
"""Radix-10 alphabet."""
BASE36 = DIGITS + "abcdefghijklmnopqrstuvwxyz"
"""Radix-36 alphabet (lower-case alphanumerics)."""
BASE62 = BASE36 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Radix-62 alphabet, in the symbol order the ACVP FF3-1 vectors use."""

TWEAK_BYTES = 7
_ROUNDS = 8
_DOMAIN_MIN = 1_000_000  # SP 800-38G Rev. 1: radix ** minlen >= one million


class FPEError(ValueError):
    """A value cannot be encrypted with FF3-1 (wrong alphabet, length or tweak)."""


def _length_bounds(radix: int) -> tuple[int, int]:
    minlen = 2
    while radix**minlen < _DOMAIN_MIN:
        minlen += 1
    half = 0
    while radix ** (half + 1) <= 2**96:
        half += 1
    return minlen, 2 * half


def _round_value(ecb: CipherContext, i: int, w: bytes, half_value: int) -> int:
    # P = (W xor [i]^4) || [NUM_radix(REV(half))]^12 ; S = REVB(CIPH(REVB(P))).
    head = (int.from_bytes(w, "big") ^ i).to_bytes(4, "big")
    block = head + half_value.to_bytes(12, "big")
    return int.from_bytes(ecb.update(block[::-1])[::-1], "big")


class FF31:
    """An FF3-1 cipher bound to one AES key (16, 24 or 32 bytes) and one alphabet."""

    def __init__(self, key: bytes, alphabet: str = DIGITS) -> None:
        if len(key) not in (16, 24, 32):
            raise FPEError("FF3-1 key must be 16, 24 or 32 bytes")
        if len(set(alphabet)) != len(alphabet) or not 2 <= len(alphabet) <= 2**16:
            raise FPEError("alphabet must have 2 to 65536 distinct symbols")
        self.alphabet = alphabet
        self.radix = len(alphabet)
        self.minlen, self.maxlen = _length_bounds(self.radix)
        self._index = {symbol: i for i, symbol in enumerate(alphabet)}
        # CIPH_REVB(K): the standard runs AES under the byte-reversed key.
        self._aes = algorithms.AES(key[::-1])

    def encrypt(self, plaintext: str, tweak: bytes) -> str:
        """Encrypt ``plaintext`` (symbols of the alphabet) under a 7-byte ``tweak``."""
        return self._feistel(plaintext, tweak, decrypt=False)

    def decrypt(self, ciphertext: str, tweak: bytes) -> str:
        """Invert :meth:`encrypt`."""
        return self._feistel(ciphertext, tweak, decrypt=True)

    def _feistel(self, text: str, tweak: bytes, *, decrypt: bool) -> str:
        n = len(text)
        if not self.minlen <= n <= self.maxlen:
            raise FPEError(
                f"FF3-1 over radix {self.radix} takes {self.minlen} to {self.maxlen} symbols, got {n}"
            )
        if len(tweak) != TWEAK_BYTES:
            raise FPEError("FF3-1 tweak must be 7 bytes (56 bits)")
        try:
            numerals = [self._index[symbol] for symbol in text]
        except KeyError as exc:
            raise FPEError(f"symbol {exc.args[0]!r} is not in the FF3-1 alphabet") from None
        # T_L = T[0..27] || 0^4 ; T_R = T[32..55] || T[28..31] || 0^4 (bit indices).
        t_left = tweak[:3] + bytes([tweak[3] & 0xF0])
        t_right = tweak[4:] + bytes([(tweak[3] & 0x0F) << 4])
        u = (n + 1) // 2
        v = n - u
        a, b = numerals[:u], numerals[u:]
        rounds = range(_ROUNDS - 1, -1, -1) if decrypt else range(_ROUNDS)
        # A fresh encryptor per call: cipher contexts are not safe to share across threads.
        ecb = Cipher(self._aes, modes.ECB()).encryptor()  # noqa: S305 - one block per round
        for i in rounds:
            m, w = (u, t_right) if i % 2 == 0 else (v, t_left)
            modulus = self.radix**m
            if decrypt:
                y = _round_value(ecb, i, w, self._num_rev(a))
                c = (self._num_rev(b) - y) % modulus
                a, b = self._str_rev(c, m), a
            else:
                y = _round_value(ecb, i, w, self._num_rev(b))
                c = (self._num_rev(a) + y) % modulus
                a, b = b, self._str_rev(c, m)
        return "".join(self.alphabet[d] for d in a + b)

    def _num_rev(self, numerals: list[int]) -> int:
        value = 0
        for digit in reversed(numerals):
            value = value * self.radix + digit
        return value

    def _str_rev(self, value: int, m: int) -> list[int]:
        out = []
        for _ in range(m):
            value, digit = divmod(value, self.radix)
            out.append(digit)
        return out
