"""Build value actions from policy rules (see ``interface.ValueAction``)."""

from __future__ import annotations

from mlward.crypto.encryption import DataKeys
from mlward.data.pii.anonymizers.basic import DropValues, KeepValues, MaskValues, RedactValues
from mlward.data.pii.anonymizers.fake import FakeValues
from mlward.data.pii.anonymizers.fpe import FormatPreservingValues
from mlward.data.pii.anonymizers.generalize import GeneralizeValues
from mlward.data.pii.anonymizers.interface import ValueAction
from mlward.data.pii.anonymizers.keyed import EncryptValues, HashValues, TokenizeValues
from mlward.data.pii.policy import (
    ActionSpec,
    DropAction,
    EncryptAction,
    FakeAction,
    FpeAction,
    GeneralizeAction,
    HashAction,
    KeepAction,
    MaskAction,
    RedactAction,
    TokenizeAction,
)

__all__ = ["ValueAction", "build_action"]


def build_action(spec: ActionSpec, keys: DataKeys | None) -> ValueAction:
    """The value action for one policy rule; keyed actions need ``keys``."""
    if isinstance(spec, KeepAction):
        return KeepValues()
    if isinstance(spec, DropAction):
        return DropValues()
    if isinstance(spec, RedactAction):
        return RedactValues(spec.replacement)
    if isinstance(spec, MaskAction):
        return MaskValues(spec.keep_last, spec.keep_first, spec.char)
    if isinstance(spec, GeneralizeAction):
        return GeneralizeValues(bins=spec.bins, width=spec.width, date=spec.date, keep_chars=spec.keep_chars)
    if keys is None:
        from mlward.core.errors import ConfigError

        raise ConfigError(f"the {spec.action} action needs the workspace data key")
    if isinstance(spec, HashAction):
        return HashValues(
            keys.hash_key, length=spec.length, prefix=spec.prefix, domain=spec.domain,
            normalize=spec.normalize,
        )  # fmt: skip
    if isinstance(spec, TokenizeAction):
        return TokenizeValues(keys.siv_key, prefix=spec.prefix, domain=spec.domain)
    if isinstance(spec, EncryptAction):
        return EncryptValues(keys.gcm_key, prefix=spec.prefix)
    if isinstance(spec, FpeAction):
        return FormatPreservingValues(
            keys.fpe_key, keys.hash_key, alphabet=spec.alphabet, luhn=spec.luhn,
            preserve_prefix=spec.preserve_prefix, preserve_suffix=spec.preserve_suffix,
            domain=spec.domain,
        )  # fmt: skip
    if isinstance(spec, FakeAction):
        return FakeValues(keys.hash_key, kind=spec.kind)
    raise TypeError(f"unknown action {spec!r}")  # pragma: no cover - the union is closed
