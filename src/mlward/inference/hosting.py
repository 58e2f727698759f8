"""Which models are served, and keeping each one verified.

``ModelManager.sync`` serves every registry version in the ``production`` stage, loaded
only through ``open_model`` (digests, signature and scan checked before deserializing);
the verified copy stays in its private 0700 temp dir, held open by an ``ExitStack`` for
the model's lifetime. A model that fails verification is not served (its routes answer
503) and an alert is audited; the others keep serving.

``check_integrity`` re-hashes each verified copy against the signed digests; a mismatch
quarantines the model and reloads the known-good version from the object store. It also
re-hashes the stored objects themselves: a changed one is moved aside and alerted, and
the verified model in memory keeps serving (``store_quarantined``).
``refresh`` rebuilds every model from the registry. Swaps replace one dict entry (atomic),
so in-flight requests finish on the object they started with; the old copy is removed a
little later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from mlward.core.errors import ConfigError, InputError, IntegrityError, MlwardError, NotFound
from mlward.data.contract.loader import workspace_contract
from mlward.inference.abuse import AbuseMonitor, feature_scale
from mlward.inference.monitor import PredictionMonitor
from mlward.inference.predictor import Predictor
from mlward.inference.schema import FeatureSpec, feature_spec, request_model
from mlward.inference.scorers import InputScorer, load_scorer
from mlward.inference.settings import ModelServeSpec, Policy, ServeSettings
from mlward.model.registry import LoadedModel, ModelVersion, get_model, list_models, open_model
from mlward.workspace import Workspace, current_principal

log = logging.getLogger("mlward.inference")
RETIRE_GRACE_SECONDS = 30.0
RETRY_FAILED_SECONDS = 60.0
READY, QUARANTINED, FAILED = "ready", "quarantined", "failed"
MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")


class HostingObserver(Protocol):
    """What the slots report as models come and go (the gateway's metrics; nothing locally)."""

    def model_ready(self, model: str, ready: bool) -> None:
        """``model`` is served and verified (True) or not (False)."""

    def store_verified_for(self, model: str, verified: bool) -> None:
        """The stored objects of ``model`` verified (True) or were found changed (False)."""

    def integrity_failed(self, model: str) -> None:
        """A copy of ``model`` no longer hashed right."""


class NoObserver:
    """A ``HostingObserver`` that reports nowhere (``mlward predict --local``, Python callers)."""

    def model_ready(self, model: str, ready: bool) -> None:
        """Ignored."""

    def store_verified_for(self, model: str, verified: bool) -> None:
        """Ignored."""

    def integrity_failed(self, model: str) -> None:
        """Ignored."""


@dataclass
class ServedModel:
    """A hosting slot's model: a verified, loaded version, its guards and its output monitor."""

    version: ModelVersion
    loaded: LoadedModel
    stack: contextlib.ExitStack
    spec: FeatureSpec
    request: type[BaseModel]
    predictor: Predictor
    options: ModelServeSpec
    policy: Policy
    """What a guard signal does (``serve.models.<name>.abuse_policy`` or ``serve.abuse_policy``)."""
    scorer: InputScorer | None = None
    loaded_at: float = field(default_factory=time.time)
    guards: AbuseMonitor = field(init=False)
    """The abuse monitor (kept across reloads of the model, so principals keep their history)."""
    monitor: PredictionMonitor = field(init=False)
    """The output (prediction drift) monitor of this version."""

    @property
    def log_inputs(self) -> bool:
        """Inputs may be written to the audit trail (contract present, no PII, allowed)."""
        return self.options.log_inputs and not self.spec.pii


@dataclass(frozen=True)
class Slot:
    """What a model's routes see; replaced as a whole, never mutated."""

    name: str
    state: str
    """``ready``, ``quarantined`` or ``failed``."""
    served: ServedModel | None = None
    version: int | None = None
    reason: str = ""
    since: float = field(default_factory=time.time)


def resolve_contract(
    workspace: Workspace, name: str, version: ModelVersion, options: ModelServeSpec
) -> tuple[Any, str]:
    """The contract describing the model's inputs, and its name (None, "" when there is none)."""
    contracts = workspace.config.contracts
    chosen = options.contract
    if isinstance(chosen, dict):
        return chosen, f"serve.models.{name}"
    if isinstance(chosen, str):
        if chosen not in contracts:
            raise ConfigError(
                f"serve.models.{name}.contract: no contract named {chosen!r} under 'contracts:'"
            )
        return workspace_contract(workspace, chosen), chosen
    if name in contracts:
        return workspace_contract(workspace, name), name
    for ref in version.datasets:
        dataset = workspace.config.datasets.get(ref.partition("@")[0])
        if dataset is not None and dataset.contract in contracts:
            return workspace_contract(workspace, str(dataset.contract)), str(dataset.contract)
    return None, ""


def modified_files(loaded: LoadedModel) -> list[str]:
    """Files of the verified copy whose SHA-256 no longer matches the signed digests."""
    version = loaded.version
    bad = []
    for rel, digest in version.files.items():
        path = loaded.path if not version.is_directory else loaded.path / rel
        try:
            with path.open("rb") as handle:
                actual = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            actual = ""
        if actual != digest:
            bad.append(rel)
    if version.is_directory:
        present = {str(p.relative_to(loaded.path)) for p in loaded.path.rglob("*") if p.is_file()}
        bad += sorted(present - set(version.files))
    return bad


def corrupted_blobs(workspace: Workspace, version: ModelVersion) -> dict[str, str]:
    """The stored objects of ``version`` (files and signature) whose bytes no longer hash right.

    Maps the artifact file (``signature`` for the signature) to its digest.
    """
    stored = {**version.files, "signature": version.signature_digest}
    bad = {}
    for rel, digest in stored.items():
        try:
            workspace.objects.verify(digest)
        except (IntegrityError, NotFound, OSError):
            bad[rel] = digest
    return bad


class ModelManager:
    """The production models of one gateway process."""

    def __init__(
        self,
        workspace: Workspace,
        settings: ServeSettings,
        metrics: HostingObserver,
        alert: Callable[[str, str, str, dict[str, Any]], None],
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self.metrics = metrics
        self._alert = alert
        self.slots: dict[str, Slot] = {}
        self.abuse: dict[str, AbuseMonitor] = {}
        self.monitors: dict[str, PredictionMonitor] = {}
        self.synced = False
        self._lock = threading.RLock()
        self._retired: list[tuple[float, contextlib.ExitStack]] = []
        self._actor = current_principal()
        self.store_quarantined: dict[str, list[str]] = {}
        """Served models whose stored object was found changed: the artifact files concerned."""

    # -- loading ---------------------------------------------------------------------------
    def _load(self, version: ModelVersion) -> ServedModel:
        name = version.name
        options = self.settings.for_model(name)
        stack = contextlib.ExitStack()
        try:
            loaded = stack.enter_context(open_model(self.workspace, name, str(version.version)))
            model = loaded.model if loaded.model is not None else self._model_in_directory(loaded)
            if not callable(getattr(model, "predict", None)):
                raise InputError(
                    f"{version.ref} ({version.format}) has no safe in-process loader with predict()"
                )
            loaded = dataclasses.replace(loaded, model=model)
            contract, contract_name = resolve_contract(self.workspace, name, version, options)
            spec = feature_spec(loaded.model, contract, contract_name)
            scorer = self._scorer(name, options, loaded.path, spec)
            served = ServedModel(
                version=version,
                loaded=loaded,
                stack=stack,
                spec=spec,
                request=request_model(spec, name, self.settings.max_batch),
                predictor=Predictor(loaded.model, spec),
                options=options,
                policy=options.abuse_policy or self.settings.abuse_policy,
                scorer=scorer,
            )
            return served
        except BaseException:
            stack.close()
            raise

    def _model_in_directory(self, loaded: LoadedModel) -> Any:
        """The estimator file of a verified directory artifact (model plus companion files)."""
        if not loaded.path.is_dir():
            return None
        from mlward.model.loader import deserialize
        from mlward.model.scan.allowlist import default_allowlist

        files = [p for p in sorted(loaded.path.rglob("*")) if p.suffix.lower() in MODEL_SUFFIXES]
        if len(files) != 1:
            return None
        allowlist = default_allowlist().extended(self.workspace.config.model.allowlist)
        return deserialize(files[0], allowlist)

    def _scorer(
        self, name: str, options: ModelServeSpec, path: Path, spec: FeatureSpec
    ) -> InputScorer | None:
        scorer = load_scorer(path, options.outliers, self.workspace.root, options.outliers_sha256)
        detector = getattr(scorer, "detector", None)
        missing = set(getattr(detector, "column_names_", ())) - {c.name for c in spec.columns}
        if missing:
            raise ConfigError(
                f"the outlier detector of {name} scores columns the requests lack: {sorted(missing)[:5]}"
            )
        return scorer

    def _guards(self, served: ServedModel) -> None:
        """Give the model its abuse monitor (keeping principals' history) and output monitor."""
        name = served.version.name
        numeric = [c for c in served.spec.columns if c.numeric]
        scale = feature_scale(numeric, getattr(served.scorer, "detector", None))
        fresh = AbuseMonitor(
            self.settings.guards,
            len(numeric),
            scale=scale,
            scorer=served.scorer,
            columns=[c.name for c in served.spec.columns],
        )
        current = self.abuse.get(name)
        if current is not None:
            fresh.adopt(current)
        self.abuse[name] = served.guards = fresh
        previous = self.slots.get(name)
        if previous is None or previous.version != served.version.version or name not in self.monitors:
            categorical = served.predictor.classes is not None and len(served.predictor.classes) > 2
            self.monitors[name] = PredictionMonitor(
                self.settings.guards.drift_window,
                self.settings.guards.drift_threshold,
                categorical=categorical,
            )
        served.monitor = self.monitors[name]

    def _install(self, served: ServedModel) -> None:
        name = served.version.name
        old = self.slots.get(name)
        self._guards(served)
        self.slots[name] = Slot(name, READY, served, served.version.version)
        self.metrics.model_ready(name, True)
        self.store_quarantined.pop(name, None)  # just loaded: its stored objects verified
        self.metrics.store_verified_for(name, True)
        if old is not None and old.served is not None and old.served is not served:
            self._retire(old.served)

    def _fail(self, name: str, version: int | None, state: str, reason: str) -> None:
        old = self.slots.get(name)
        self.slots[name] = Slot(name, state, None, version, reason)
        self.metrics.model_ready(name, False)
        if old is not None and old.served is not None:
            self._retire(old.served)

    def _retire(self, served: ServedModel) -> None:
        self._retired.append((time.monotonic() + RETIRE_GRACE_SECONDS, served.stack))

    def _collect_retired(self, force: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for deadline, stack in self._retired:
            if force or deadline <= now:
                stack.close()
            else:
                keep.append((deadline, stack))
        self._retired = keep

    def _try_load(self, version: ModelVersion, action: str) -> bool:
        try:
            served = self._load(version)
        except (MlwardError, OSError, ValueError) as exc:
            reason = exc.message if isinstance(exc, MlwardError) else f"{type(exc).__name__}: {exc}"
            log.error("not serving %s: %s", version.ref, reason)
            self._fail(version.name, version.version, FAILED, reason)
            self._alert(action, version.ref, "alert", {"error": reason, "served": False})
            return False
        self._install(served)
        return True

    # -- maintenance -------------------------------------------------------------------------
    def sync(self) -> list[str]:
        """Serve the current production versions; returns the refs (re)loaded."""
        with self._lock:
            production = {v.name: v for v in list_models(self.workspace) if v.stage == "production"}
            changed = []
            for name, version in production.items():
                slot = self.slots.get(name)
                current = slot.served.version if slot and slot.served else None
                same = (
                    slot is not None
                    and slot.version == version.version
                    and (current is None or current.root_digest == version.root_digest)
                )
                if same and slot is not None and slot.state == READY:
                    continue
                if same and slot is not None and time.time() - slot.since < RETRY_FAILED_SECONDS:
                    continue  # a failed load is retried after a pause, not on every poll
                if self._try_load(version, "serve.load"):
                    changed.append(version.ref)
            for name in set(self.slots) - set(production):
                slot = self.slots.pop(name)
                self.metrics.model_ready(name, False)
                if slot.served is not None:
                    self._retire(slot.served)
                changed.append(f"{name} (withdrawn)")
            self.synced = True
            self._collect_retired()
            return changed

    def host(self, name: str, selector: str | None = "production") -> ServedModel:
        """Serve one model version (``selector``: a number or a stage) and return its slot's model.

        The same verify-then-load, schema and guards as ``sync``; a model that fails
        verification raises (``IntegrityError``, ``ConfigError`` ...) instead of being alerted.
        """
        with self._lock:
            served = self._load(get_model(self.workspace, name, selector))
            self._install(served)
            self.synced = True
            return served

    def check_integrity(self) -> list[str]:
        """Re-hash every served copy and its stored objects; returns the refs found modified.

        A modified served copy is quarantined and reloaded from the store. A modified
        stored object is moved aside (``ObjectStore.quarantine``) while the verified model
        in memory keeps serving; the model is not refreshed or reloaded from the store until
        a new version (or the restored object) is loaded.
        """
        with self._lock:
            tampered = []
            for name, slot in list(self.slots.items()):
                served = slot.served
                if served is None or slot.state != READY:
                    continue
                if self._check_store(name, served):
                    tampered.append(served.version.ref)
                bad = modified_files(served.loaded)
                if not bad:
                    continue
                ref = served.version.ref
                tampered.append(ref)
                self.metrics.integrity_failed(name)
                self._fail(name, served.version.version, QUARANTINED, "served artifact modified on disk")
                self._alert("serve.integrity", ref, "alert", {"modified": bad[:20], "action": "quarantine"})
                if self._try_load(served.version, "serve.reload"):
                    self._alert("serve.reload", ref, "ok", {"root_digest": served.version.root_digest})
            self._collect_retired()
            return sorted(set(tampered), key=tampered.index)

    def _check_store(self, name: str, served: ServedModel) -> bool:
        """Re-verify the stored objects of a served model; True when newly found modified."""
        if name in self.store_quarantined:
            return False  # already quarantined and alerted; the model in memory keeps serving
        bad = corrupted_blobs(self.workspace, served.version)
        if not bad:
            return False
        moved = {}
        for rel, digest in bad.items():
            try:
                moved[rel] = self.workspace.objects.quarantine(digest)
            except (FileNotFoundError, OSError) as exc:  # already gone: nothing to move
                moved[rel] = f"not moved: {type(exc).__name__}"
        ref = served.version.ref
        self.store_quarantined[name] = sorted(bad)
        self.metrics.integrity_failed(name)
        self.metrics.store_verified_for(name, False)
        log.error(
            "stored objects of %s were modified: %s (quarantined; serving the verified copy)",
            ref,
            sorted(bad),
        )
        self._alert(
            "serve.integrity",
            ref,
            "alert",
            {
                "modified": sorted(bad)[:20],
                "where": "object store",
                "action": "quarantine stored object, keep serving the verified model",
                "digests": {rel: bad[rel] for rel in sorted(bad)[:20]},
            },
        )
        return True

    def refresh(self) -> list[str]:
        """Rebuild every served model from the registry (a clean, re-verified copy)."""
        with self._lock:
            refreshed = []
            for slot in list(self.slots.values()):
                if slot.name in self.store_quarantined:
                    continue  # its stored objects are quarantined: keep the verified copy in memory
                if slot.served is not None and self._try_load(slot.served.version, "serve.refresh"):
                    refreshed.append(slot.served.version.ref)
            self._collect_retired()
            return refreshed

    def ready(self) -> tuple[bool, dict[str, str]]:
        """Whether every production model is loaded and verified, and each model's state."""
        states = {name: slot.state for name, slot in self.slots.items()}
        return self.synced and all(s == READY for s in states.values()), states

    def verified_dir(self, name: str) -> Path | None:
        """The verified copy of a served model (for tests and diagnostics)."""
        slot = self.slots.get(name)
        return slot.served.loaded.path if slot and slot.served else None

    def close(self) -> None:
        """Release every verified copy."""
        with self._lock:
            for slot in self.slots.values():
                if slot.served is not None:
                    self._retire(slot.served)
            self.slots.clear()
            self._collect_retired(force=True)
