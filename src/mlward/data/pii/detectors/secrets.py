"""Credentials: cloud and SaaS keys, private keys, JWTs, password assignments.

Token formats come from the vendors' documented prefixes; generic ``password=`` or
``api_key:`` assignments count only when the value is not a placeholder and, for
secrets, has the entropy of a generated key. Column-level detectors (``hint_only``)
treat every non-hash value of a ``password`` or ``api_key`` column as a credential.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator

from mlward.data.pii.detectors.interface import Detector, Span, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import shannon_entropy


class _TokenDetector(Detector):
    """A vendor token whose shape alone identifies it."""

    priority = 90
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        return Verdict.VALID


class AwsAccessKeyDetector(_TokenDetector):
    """AWS access key ids (``AKIA``/``ASIA``... and 16 base32 characters)."""

    entity = EntityType.AWS_ACCESS_KEY
    prefilter = r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}\b"
    pattern = re.compile(prefilter)


class GcpApiKeyDetector(_TokenDetector):
    """Google Cloud API keys (``AIza`` and 35 characters)."""

    entity = EntityType.GCP_API_KEY
    prefilter = r"\bAIza[0-9A-Za-z_-]{35}"
    pattern = re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])")


class AzureKeyDetector(_TokenDetector):
    """Azure storage account keys and shared access keys in connection strings."""

    entity = EntityType.AZURE_KEY
    prefilter = r"(?i)(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{40,}"
    pattern = re.compile(r"(?i)(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{40,}={0,2}")


class GithubTokenDetector(_TokenDetector):
    """GitHub personal, OAuth, app and fine-grained tokens."""

    entity = EntityType.GITHUB_TOKEN
    prefilter = r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})"
    pattern = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")


class SlackTokenDetector(_TokenDetector):
    """Slack bot/user/app tokens and incoming-webhook URLs."""

    entity = EntityType.SLACK_TOKEN
    prefilter = r"\bxox[abposr]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/"
    pattern = re.compile(
        r"\bxox[abposr]-[A-Za-z0-9-]{10,250}"
        r"|https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"
    )


class StripeKeyDetector(_TokenDetector):
    """Stripe secret and restricted keys (publishable ``pk_`` keys are public)."""

    entity = EntityType.STRIPE_KEY
    prefilter = r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"
    pattern = re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}\b")


class PrivateKeyDetector(_TokenDetector):
    """PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP)."""

    entity = EntityType.PRIVATE_KEY
    prefilter = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"
    pattern = re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?"
    )
    priority = 99


def _b64url_json(segment: str) -> object:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


class JwtDetector(Detector):
    """JSON Web Tokens: the header must decode to JSON naming an ``alg``."""

    entity = EntityType.JWT
    needs_digit = False
    prefilter = r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\."
    pattern = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
    priority = 92

    def check(self, candidate: str) -> Verdict:
        try:
            header = _b64url_json(candidate.split(".", 1)[0])
        except (binascii.Error, ValueError):
            return Verdict.INVALID
        if isinstance(header, dict) and "alg" in header:
            return Verdict.VALID
        return Verdict.PLAUSIBLE


_PLACEHOLDER = re.compile(
    r"^(?:\*+|x+|\.+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\([^)]*\)s|changeme|password|secret|"
    r"none|null|true|false|redacted|example|your[_-]?\w*|test|dummy|\[[A-Z_]+\])$",
    re.IGNORECASE,
)
_HASH_LIKE = re.compile(
    r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}|\$2[abxy]?\$\d\d\$.{53}"
    r"|\$argon2(?:id|i|d)\$\S+|\$[156]\$\S+|pbkdf2[_:$]\S+|scrypt[:$]\S+|sha\d+[:$]\S+"
    r"|(?:tok|enc|hmac)_[A-Za-z0-9_-]+)$",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is a placeholder (``***``, ``<password>``, ``${SECRET}``...)."""
    return bool(_PLACEHOLDER.match(value.strip("'\"")))


class _AssignmentDetector(Detector):
    """``keyword = value`` pairs in text, configuration dumps and logs; the span is the value."""

    min_entropy = 0.0
    min_length = 6
    needs_digit = False

    def find(self, text: str) -> Iterator[Span]:
        for match in self.pattern.finditer(text):
            value = match.group("value")
            verdict = self.check(value)
            if verdict is not Verdict.INVALID:
                start = match.start("value")
                yield Span(self.entity, start, start + len(value), verdict, self.priority)

    def check(self, candidate: str) -> Verdict:
        if len(candidate) < self.min_length or is_placeholder(candidate):
            return Verdict.INVALID
        if _HASH_LIKE.match(candidate) or shannon_entropy(candidate) < self.min_entropy:
            return Verdict.INVALID
        return Verdict.VALID


class PasswordAssignmentDetector(_AssignmentDetector):
    """``password=...`` / ``pwd: ...`` / ``passwort=...`` with a non-placeholder value."""

    entity = EntityType.PASSWORD
    prefilter = r"(?i)(?:password|passwd|pwd|passwort|contrase|mot de passe|mdp)\W{0,3}\s*[:=]"
    pattern = re.compile(
        r"(?i)\b(?:password|passwd|pwd|passwort|contrase(?:ñ|n)a|mot de passe|mdp)[\"']?\s*[:=]\s*"
        r"[\"']?(?P<value>[^\s\"',;]{1,128})"
    )
    priority = 85


class SecretAssignmentDetector(_AssignmentDetector):
    """``api_key=...`` / ``secret: ...`` / ``token=...`` with a high-entropy value."""

    entity = EntityType.SECRET
    prefilter = (
        r"(?i)(?:secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|token|private[_-]?key)\W{0,3}\s*[:=]"
    )
    pattern = re.compile(
        r"(?i)\b(?:client[_-]?secret|secret(?:[_-]?key)?|api[_-]?key|apikey|access[_-]?key"
        r"(?:[_-]?id)?|auth[_-]?token|access[_-]?token|token|private[_-]?key)[\"']?\s*[:=]\s*"
        r"[\"']?(?P<value>[A-Za-z0-9_\-+/=.]{16,256})"
    )
    priority = 84
    min_entropy = 3.0
    min_length = 16


class PasswordColumnDetector(Detector):
    """Every non-hash, non-placeholder value of a column named like ``password``."""

    entity = EntityType.PASSWORD
    prefilter = r"^\S{4,256}$"
    pattern = re.compile(r"^\S{4,256}$")
    priority = 20
    hint_only = True
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        if is_placeholder(candidate) or _HASH_LIKE.match(candidate):
            return Verdict.INVALID
        return Verdict.PLAUSIBLE


class SecretColumnDetector(Detector):
    """High-entropy values of a column named like ``api_key``, ``token`` or ``secret``."""

    entity = EntityType.SECRET
    prefilter = r"^\S{16,}$"
    pattern = re.compile(r"^\S{16,4096}$")
    priority = 19
    hint_only = True
    needs_digit = False

    def check(self, candidate: str) -> Verdict:
        if is_placeholder(candidate) or _HASH_LIKE.match(candidate):
            return Verdict.INVALID
        return Verdict.PLAUSIBLE if shannon_entropy(candidate) >= 3.0 else Verdict.INVALID
