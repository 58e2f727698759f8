"""Built-in stage kinds, by ``kind:`` name."""

from __future__ import annotations

from mlward.pipeline.kinds.base import StageKind
from mlward.pipeline.kinds.command import CommandKind, TrainKind
from mlward.pipeline.kinds.data import (
    DriftKind,
    FairnessKind,
    IngestKind,
    OutliersKind,
    ProtectKind,
    ScanPiiKind,
    ValidateKind,
)
from mlward.pipeline.kinds.model import PromoteKind, RegisterKind, ScanModelKind, SignKind
from mlward.pipeline.kinds.privacy import PrivacyKind
from mlward.pipeline.kinds.supplychain import AuditDepsKind, SbomKind

KINDS: dict[str, StageKind] = {
    kind.name: kind
    for kind in (
        CommandKind(),
        TrainKind(),
        ScanModelKind(),
        SignKind(),
        RegisterKind(),
        PromoteKind(),
        AuditDepsKind(),
        SbomKind(),
        IngestKind(),
        ValidateKind(),
        ScanPiiKind(),
        ProtectKind(),
        OutliersKind(),
        FairnessKind(),
        DriftKind(),
        PrivacyKind(),
    )
}
