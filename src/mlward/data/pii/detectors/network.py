"""IP addresses, MAC addresses and URLs carrying credentials."""

from __future__ import annotations

import ipaddress
import re

from mlward.data.pii.detectors.interface import Detector, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import words


class IPv4Detector(Detector):
    """Dotted-quad IPv4 addresses (``ipaddress``)."""

    entity = EntityType.IP_ADDRESS
    prefilter = r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"
    pattern = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
    context_words = ("ip", "address", "host", "client")
    priority = 55

    def check(self, candidate: str) -> Verdict:
        try:
            ipaddress.IPv4Address(candidate)
        except ValueError:
            return Verdict.INVALID
        return Verdict.VALID


class IPv6Detector(Detector):
    """IPv6 addresses, full or ``::``-compressed (``ipaddress``)."""

    entity = EntityType.IP_ADDRESS
    prefilter = r"(?i)[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f:.]*"
    pattern = re.compile(
        r"(?i)(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
    )
    priority = 54
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        if candidate.count(":") < 2 or (candidate.count(":") < 7 and "::" not in candidate):
            return Verdict.INVALID
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return Verdict.INVALID
        return Verdict.VALID


class MacAddressDetector(Detector):
    """EUI-48 MAC addresses (``aa:bb:cc:dd:ee:ff``, ``aa-bb-...``, ``aabb.ccdd.eeff``)."""

    entity = EntityType.MAC_ADDRESS
    prefilter = r"(?i)\b[0-9a-f]{2}[:-][0-9a-f]{2}[:-][0-9a-f]{2}|\b[0-9a-f]{4}\.[0-9a-f]{4}\."
    pattern = re.compile(
        r"(?i)(?<![\w:-])(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}"
        r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![\w:-])"
    )
    priority = 56
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        digits = re.sub(r"[^0-9a-fA-F]", "", candidate)
        return Verdict.VALID if len(set(digits)) > 1 else Verdict.INVALID


_PLACEHOLDERS = frozenset(
    words(
        "password passwd pass pwd secret changeme xxx xxxx xxxxx *** **** ***** <password> "
        "${password} {password} user:password example"
    )
)


class UrlCredentialsDetector(Detector):
    """URLs with a password in the authority part (``scheme://user:pass@host``)."""

    entity = EntityType.URL_CREDENTIALS
    prefilter = r"(?i)[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@"
    pattern = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]+:([^\s@/]+)@[^\s/:?#]+")
    priority = 95
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        password = candidate.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        return Verdict.INVALID if password.lower() in _PLACEHOLDERS else Verdict.VALID
