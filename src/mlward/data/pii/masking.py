"""Masked examples for reports: enough shape to recognise the data, never the value.

``mask_example`` keeps the separators and at most a small, entity-appropriate part
(the last four digits of a card, the first letter of an e-mail's local part and
domain) and replaces everything else with ``*``. Secrets keep only their public type
prefix (``AKIA``, ``ghp_``, ``eyJ``). Values too short to keep anything are fully masked.
"""

from __future__ import annotations

import re

from mlward.data.pii.entities import EntityType, category

_ALNUM = re.compile(r"[^\W_]", re.UNICODE)
_SECRET_PREFIX = re.compile(
    r"^(?:AKIA|ASIA|AIza|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|xox[abposr]-|sk_live_|sk_test_"
    r"|rk_live_|rk_test_|eyJ|-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=|SharedAccessKey=)"
)


def mask_keep_last(value: str, keep: int, char: str = "*") -> str:
    """Replace every letter and digit except the last ``keep`` ones; keep separators."""
    positions = [m.start() for m in _ALNUM.finditer(value)]
    hidden = set(positions[: max(0, len(positions) - keep)])
    return "".join(char if i in hidden else ch for i, ch in enumerate(value))


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    labels = domain.split(".")
    host = ".".join(label[:1] + "***" for label in labels[:-1])
    return f"{local[:1]}***@{host}.{labels[-1]}"


def _mask_words(value: str) -> str:
    return re.sub(r"(\w)\w*", lambda m: m.group(1) + "*" * (len(m.group(0)) - 1), value)


def mask_example(entity: EntityType, value: str) -> str:
    """Mask ``value`` (a detected ``entity``) for display in a report."""
    value = value.strip()
    alnum = len(_ALNUM.findall(value))
    if entity is EntityType.EMAIL and "@" in value:
        return _mask_email(value)
    if category(entity) == "credential":
        prefix = _SECRET_PREFIX.match(value)
        kept = prefix.group(0) if prefix else ""
        return kept + "*" * min(12, max(4, len(value) - len(kept)))
    if entity in (EntityType.PERSON, EntityType.ADDRESS):
        return _mask_words(re.sub(r"\d", "*", value))
    if entity is EntityType.IP_ADDRESS:
        head = re.split(r"[.:]", value, maxsplit=1)[0]
        return head + re.sub(r"[0-9A-Fa-f]", "*", value[len(head) :])
    if entity in (EntityType.DATE_OF_BIRTH, EntityType.POSTAL_CODE, EntityType.MAC_ADDRESS):
        return _ALNUM.sub("*", value)
    if alnum >= 9:
        return mask_keep_last(value, 4)
    return _ALNUM.sub("*", value)
