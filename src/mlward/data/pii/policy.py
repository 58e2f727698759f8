"""The anonymization policy model (the ``pii:`` section of mlward.yaml).

```yaml
pii:
  min_confidence: 0.5          # scan confidence a column needs before by_entity applies
  default_action: redact       # detected PII with no rule (null: leave it, not advised)
  free_text: redact-cell       # free-text cells the detectors cannot vouch for: redacted whole
  by_entity:                   # per entity type, for every column the scan classifies
    EMAIL: hash
    PHONE: {action: mask, keep_last: 2}
    CREDIT_CARD: {action: fpe, luhn: true, preserve_prefix: 6}
    US_SSN: tokenize
    PERSON: fake
    DATE_OF_BIRTH: {action: generalize, date: year}
  by_column:                   # explicit per-column rules win over by_entity
    customer_id: {action: hash, length: 16}
    notes: redact              # free text: entity spans are replaced in place
    internal_code: keep
```

A rule is an action name, or a mapping with ``action`` and that action's options.
Unknown actions or options are errors that name the key path (pydantic).

``free_text`` decides what happens to a free-text cell the detectors cannot vouch for
(a span they saw but could not confirm, or a capitalised word or digit run that no
detector explains -- a name, a street, a number the patterns miss): ``redact-cell``
(default) replaces the whole cell with ``[REDACTED]``; ``spans-only`` replaces only the
detected spans and leaves the rest, which may still hold personal data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlward.core.errors import ConfigError
from mlward.data.pii.entities import EntityType, category


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeepAction(_Action):
    """Leave the values as they are."""

    action: Literal["keep"] = "keep"


class DropAction(_Action):
    """Remove the column (in free text: the span is redacted)."""

    action: Literal["drop"] = "drop"


class RedactAction(_Action):
    """Replace the value with a fixed text; ``{entity}`` is the entity type."""

    action: Literal["redact"] = "redact"
    replacement: str = "[{entity}]"


class MaskAction(_Action):
    """Replace letters and digits with ``char``, keeping the first / last few."""

    action: Literal["mask"] = "mask"
    keep_last: int = Field(4, ge=0)
    keep_first: int = Field(0, ge=0)
    char: str = Field("*", min_length=1, max_length=1)


class HashAction(_Action):
    """HMAC-SHA256 with the workspace data key: deterministic, so joins still work."""

    action: Literal["hash"] = "hash"
    length: int | None = Field(None, ge=8, le=64)
    """Hex characters kept (None: all 64)."""
    prefix: str = ""
    domain: str = "default"
    """Values hash equal only within one domain."""
    normalize: bool = True
    """Strip and case-fold before hashing (``Ada@X.com`` joins ``ada@x.com``)."""


class TokenizeAction(_Action):
    """Deterministic, reversible AES-SIV token: ``prefix`` + URL-safe base64."""

    action: Literal["tokenize"] = "tokenize"
    prefix: str = Field("tok_", min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9]*_$")
    domain: str = "default"


class FpeAction(_Action):
    """Format-preserving FF3-1: digits stay digits, separators and length are kept."""

    action: Literal["fpe"] = "fpe"
    alphabet: Literal["digits", "alnum"] = "digits"
    luhn: bool = False
    """Keep card numbers Luhn-valid (the check digit is recomputed, reversibly)."""
    preserve_prefix: int = Field(0, ge=0)
    """Leading symbols left in clear (6 keeps a card's issuer BIN)."""
    preserve_suffix: int = Field(0, ge=0)
    domain: str = "default"


class GeneralizeAction(_Action):
    """Coarsen: numbers into bins, dates to year / month / decade, codes truncated."""

    action: Literal["generalize"] = "generalize"
    bins: list[float] | None = None
    width: float | None = Field(None, gt=0)
    date: Literal["year", "month", "decade"] | None = None
    keep_chars: int | None = Field(None, ge=0)


class FakeAction(_Action):
    """Consistent synthetic replacement: the same input always gives the same fake."""

    action: Literal["fake"] = "fake"
    kind: Literal[
        "auto", "name", "first_name", "last_name", "email", "phone", "address", "date", "format"
    ] = "auto"


class EncryptAction(_Action):
    """Randomized AES-256-GCM, reversible with the key; equal inputs differ."""

    action: Literal["encrypt"] = "encrypt"
    prefix: str = Field("enc_", min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9]*_$")


ActionSpec = Annotated[
    KeepAction
    | DropAction
    | RedactAction
    | MaskAction
    | HashAction
    | TokenizeAction
    | FpeAction
    | GeneralizeAction
    | FakeAction
    | EncryptAction,
    Field(discriminator="action"),
]


def _expand(value: Any) -> Any:
    return {"action": value} if isinstance(value, str) else value


FreeTextFallback = Literal["redact-cell", "spans-only"]
"""What protection does to a free-text cell the detectors cannot vouch for."""


class PiiPolicy(BaseModel):
    """Which anonymization action applies to which column."""

    model_config = ConfigDict(extra="forbid")

    by_column: dict[str, ActionSpec] = Field(default_factory=dict)
    by_entity: dict[EntityType, ActionSpec] = Field(default_factory=dict)
    default_action: ActionSpec | None = Field(default_factory=RedactAction)
    min_confidence: float = Field(0.5, ge=0, le=1)
    free_text: FreeTextFallback = "redact-cell"

    @field_validator("by_column", "by_entity", mode="before")
    @classmethod
    def _shorthand_map(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _expand(rule) for key, rule in value.items()}
        return value

    @field_validator("default_action", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _expand(value)

    @classmethod
    def default(cls) -> PiiPolicy:
        """A sensible starting policy: credentials redacted, ids tokenized, contacts hashed."""
        entity = EntityType
        rules: dict[EntityType, Any] = {e: "redact" for e in entity if _is_credential(e)}
        rules.update(
            {
                entity.EMAIL: "hash",
                entity.PHONE: {"action": "mask", "keep_last": 2},
                entity.PERSON: "fake",
                entity.ADDRESS: "redact",
                entity.POSTAL_CODE: {"action": "generalize", "keep_chars": 3},
                entity.DATE_OF_BIRTH: {"action": "generalize", "date": "year"},
                entity.CREDIT_CARD: {"action": "fpe", "luhn": True},
                entity.IBAN: "tokenize",
                entity.IP_ADDRESS: "hash",
                entity.MAC_ADDRESS: "hash",
            }
        )
        for government in (e for e in entity if _is_government(e)):
            rules[government] = "tokenize"
        return cls.model_validate({"by_entity": {k.value: v for k, v in rules.items()}})


def _is_credential(entity: EntityType) -> bool:
    return category(entity) == "credential"


def _is_government(entity: EntityType) -> bool:
    return category(entity) == "government_id"


def load_policy(path: str | Path) -> PiiPolicy:
    """Read a policy from YAML: a file holding the policy, or an mlward.yaml with ``pii:``."""
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {source}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "pii" in data:
        data = data["pii"] or {}
    try:
        return PiiPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"{source}: invalid PII policy: {problems}") from exc
