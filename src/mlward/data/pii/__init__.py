"""PII discovery, anonymization and k-anonymity.

``scan`` finds PII per column and per cell; ``Anonymizer`` / ``protect`` apply a
policy (drop, redact, mask, keyed hash, AES-SIV tokens, FF3-1, generalization,
synthetic replacement, AES-GCM); ``reveal`` reverses the reversible actions; and
``k_anonymity`` measures re-identification risk of quasi-identifiers.
``protect_dataset`` / ``reveal_dataset`` (in ``service``) are what the doors call: they
add the workspace around them (policy, keys, the ``pii:reveal`` check, audit,
registration with lineage).
"""

from __future__ import annotations

from mlward.data.pii.anonymizer import Anonymizer, ColumnPlan, ProtectResult, protect
from mlward.data.pii.detectors import default_detectors
from mlward.data.pii.discover import scan
from mlward.data.pii.entities import EntityType, Sensitivity
from mlward.data.pii.kanon import KAnonymityReport, k_anonymity
from mlward.data.pii.ner import GlinerRecognizer, NerRecognizer, SpacyRecognizer
from mlward.data.pii.policy import PiiPolicy, load_policy
from mlward.data.pii.result import CellFinding, ColumnReport, EntityReport, PiiScanResult
from mlward.data.pii.reveal import key_id, reveal
from mlward.data.pii.scanner import PiiScan, ScanSettings
from mlward.data.pii.service import ProtectOutcome, RevealOutcome, protect_dataset, reveal_dataset
from mlward.data.pii.spans import Hit, find_hits

__all__ = [
    "Anonymizer",
    "CellFinding",
    "ColumnPlan",
    "ColumnReport",
    "EntityReport",
    "EntityType",
    "GlinerRecognizer",
    "Hit",
    "KAnonymityReport",
    "NerRecognizer",
    "PiiPolicy",
    "PiiScan",
    "PiiScanResult",
    "ProtectOutcome",
    "ProtectResult",
    "RevealOutcome",
    "ScanSettings",
    "Sensitivity",
    "SpacyRecognizer",
    "default_detectors",
    "find_hits",
    "k_anonymity",
    "key_id",
    "load_policy",
    "protect",
    "protect_dataset",
    "reveal",
    "reveal_dataset",
    "scan",
]
