"""Dataset versions: add, get, list, show and tag.

``add_dataset`` hashes every file (the manifest), and when the content differs from the
latest version it reads the rows once for the schema, profile and PII classification,
stores every file in the object store (deduplicated by content; envelope-encrypted when
``data.encrypt_sensitive`` is on and the dataset is confidential or restricted), records
the version, a lineage run (source file in, dataset version out) and a ``data.add``
audit event, all three in one unit of work (committed together or not at all; the
stored blobs are content-addressed, so a failed add leaves at most unreferenced
blobs). Adding the content of the latest version again changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from mlward.core.errors import NotFound, StoreError
from mlward.data.catalog.analysis import Analysis, Classification, analyze, summarize_profile
from mlward.data.catalog.manifest import (
    Manifest,
    build_manifest,
    check_dataset_name,
    check_tag,
    parse_dataset_ref,
)
from mlward.data.catalog.models import (
    DatasetColumnRow,
    DatasetFileRow,
    DatasetRow,
    DatasetTagRow,
    DatasetVersionRow,
)
from mlward.data.catalog.records import all_rows, find_version_row, latest_rows, load_versions
from mlward.data.catalog.results import DatasetDetails, DatasetFile, DatasetVersion
from mlward.data.catalog.storage import load_profile_blob, store_file, store_profile
from mlward.data.io import Dataset
from mlward.data.profile import DatasetProfile
from mlward.workspace import Workspace, current_principal

if TYPE_CHECKING:
    from mlward.engine.base import Engine, ProgressCallback
    from mlward.lineage.graph import ArtifactRef

SENSITIVE_LABELS = ("confidential", "restricted")
_INSERT_ATTEMPTS = 3


def _resolve(name: str, version: int | str | None) -> tuple[str, str | int | None]:
    if version is None and "@" in name:
        return parse_dataset_ref(name)
    return check_dataset_name(name), version


def get_dataset(workspace: Workspace, name: str, version: int | str | None = None) -> DatasetVersion:
    """One version: ``version`` is a number, ``latest`` (default) or a tag; ``name@v`` works too."""
    name, selector = _resolve(name, version)
    with workspace.metadata.session() as session:
        row, _ = find_version_row(session, name, selector)
        return load_versions(session, [(row, name)])[0]


def list_datasets(
    workspace: Workspace, name: str | None = None, *, all_versions: bool = False
) -> list[DatasetVersion]:
    """The latest version of every dataset (or every version), by name then version."""
    if name is not None:
        check_dataset_name(name)
    with workspace.metadata.session() as session:
        rows = all_rows(session, name) if all_versions else latest_rows(session, name)
        if name is not None and not rows:
            raise NotFound(f"no dataset named {name!r} in the catalogue", hint="see 'mlward data ls'")
        return load_versions(session, rows)


def load_profile(workspace: Workspace, version: DatasetVersion) -> DatasetProfile:
    """The stored profile of a version (decrypted when the version is encrypted)."""
    return load_profile_blob(workspace, version.profile_blob, encrypted=version.encrypted)


def describe_dataset(workspace: Workspace, name: str, version: int | str | None = None) -> DatasetDetails:
    """A version with its profile summary (no PII values) and its lineage."""
    record = get_dataset(workspace, name, version)
    summary = summarize_profile(load_profile(workspace, record), record.columns)
    related: dict[str, tuple[str, ...]] = {}
    for direction in ("upstream", "downstream"):
        try:
            refs = getattr(workspace.lineage, direction)(record.artifact)
        except NotFound:
            refs = []
        related[direction] = tuple(r.key for r in refs)
    return DatasetDetails(record, summary, related["upstream"], related["downstream"])


def _file_artifact(workspace: Workspace, manifest: Manifest) -> ArtifactRef:
    from mlward.lineage.graph import ArtifactRef

    source = manifest.root.resolve()
    try:
        shown = source.relative_to(workspace.root).as_posix()
    except ValueError:
        shown = str(source)
    return ArtifactRef("file", shown, manifest.digest[:12], f"sha256:{manifest.digest}", source.as_uri())


def _reusable_envelopes(workspace: Workspace, digests: Sequence[str]) -> dict[str, str]:
    """Envelopes already stored for these plaintext digests (so re-adding stores nothing)."""
    with workspace.metadata.session() as session:
        rows = session.execute(
            select(DatasetFileRow.digest, DatasetFileRow.blob).where(
                DatasetFileRow.digest.in_(list(digests)), DatasetFileRow.encrypted.is_(True)
            )
        ).all()
    return {digest: blob for digest, blob in rows}


def _insert(
    workspace: Workspace,
    name: str,
    fields: dict[str, object],
    files: Sequence[DatasetFile],
    analysis: Analysis,
    tags: Sequence[str],
) -> DatasetVersion:
    """Record the version under the next number; retries when a concurrent add took it."""
    for attempt in range(_INSERT_ATTEMPTS):
        try:
            with workspace.metadata.session() as session:
                dataset = session.scalars(
                    select(DatasetRow).where(DatasetRow.name == name).with_for_update()
                ).first()
                if dataset is None:
                    dataset = DatasetRow(name=name, created=fields["created"])
                    session.add(dataset)
                    session.flush()
                top = session.scalar(
                    select(func.max(DatasetVersionRow.version)).where(
                        DatasetVersionRow.dataset_id == dataset.id
                    )
                )
                row = DatasetVersionRow(dataset_id=dataset.id, version=(top or 0) + 1, **fields)
                session.add(row)
                session.flush()
                session.add_all(
                    DatasetFileRow(
                        version_id=row.id,
                        path=f.path,
                        digest=f.digest,
                        size=f.size,
                        blob=f.blob,
                        encrypted=f.encrypted,
                    )
                    for f in files
                )
                session.add_all(
                    DatasetColumnRow(
                        version_id=row.id,
                        position=i,
                        name=c.name,
                        type=c.type,
                        entities="|" + "|".join(c.entities) + "|" if c.entities else "",
                        sensitivity=c.sensitivity,
                    )
                    for i, c in enumerate(analysis.columns)
                )
                session.add_all(DatasetTagRow(version_id=row.id, tag=t) for t in sorted(set(tags)))
                session.flush()
                return load_versions(session, [(row, name)])[0]
        except StoreError as exc:
            if not isinstance(exc.__cause__, SqlIntegrityError) or attempt == _INSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _twin(workspace: Workspace, manifest: Manifest) -> DatasetVersion | None:
    """A stored version (of any dataset) with exactly this content, if there is one."""
    with workspace.metadata.session() as session:
        found = session.execute(
            select(DatasetVersionRow, DatasetRow.name)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetVersionRow.digest == manifest.digest, DatasetVersionRow.layout == manifest.layout)
            .order_by(DatasetVersionRow.id.desc())
            .limit(1)
        ).first()
        return load_versions(session, [(found[0], found[1])])[0] if found else None


def _analyze_or_reuse(
    workspace: Workspace,
    manifest: Manifest,
    engine: Engine | None,
    opened: Dataset | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Analysis, DatasetVersion | None]:
    """Analyze the rows, unless identical content was analyzed before (the digest says so).

    Reusing matters beyond speed: sketches are randomized, so a fresh profile of the same
    bytes would be a new blob and re-adding identical content must store nothing new.
    An ``opened`` dataset (explicit delimiter / encoding) is always analyzed as opened:
    the earlier analysis may have read the same bytes differently.
    """
    source: Path | Dataset = opened if opened is not None else manifest.root
    twin = _twin(workspace, manifest) if opened is None else None
    if twin is not None:
        classification = Classification(
            entities={c.name: c.entities for c in twin.columns},
            labels={c.name: c.sensitivity for c in twin.columns},
            label=twin.sensitivity,
            summary=dict(twin.pii),
        )
        return Analysis(schema=dict(twin.schema), rows=twin.rows, classification=classification), twin
    if engine is not None:
        return analyze(source, engine, progress), None
    from mlward.engine.dask import make_engine

    own = make_engine(workspace.config.data.engine, scheduler=workspace.config.data.scheduler)
    try:
        return analyze(source, own, progress), None
    finally:
        close = getattr(own, "close", None)  # a private Dask cluster must not outlive the add
        if close is not None:
            close()


def _store(
    workspace: Workspace,
    manifest: Manifest,
    analysis: Analysis,
    twin: DatasetVersion | None,
    *,
    encrypt: bool,
) -> tuple[list[DatasetFile], str, int]:
    """Store every file and the profile; return the file records, profile blob, new blob count."""
    reusable = _reusable_envelopes(workspace, [e.digest for e in manifest.entries]) if encrypt else {}
    files: list[DatasetFile] = []
    new_blobs = 0
    for entry in manifest.entries:
        stored, created = store_file(workspace, entry, encrypt=encrypt, reusable=reusable)
        files.append(stored)
        new_blobs += int(created)
    if twin is not None and twin.encrypted == encrypt and workspace.objects.exists(twin.profile_blob):
        return files, twin.profile_blob, new_blobs
    profile = analysis.profile if analysis.profile is not None else load_profile(workspace, twin)  # type: ignore[arg-type]
    info = store_profile(workspace, profile, encrypt=encrypt)
    return files, info.digest, new_blobs + int(info.created)


def _default(value: str | None, fallback: str) -> str:
    return value if value is not None else fallback


def add_dataset(
    workspace: Workspace,
    path: str | Path | Dataset,
    name: str,
    *,
    owner: str | None = None,
    tags: Sequence[str] = (),
    description: str | None = None,
    lineage_inputs: Sequence[ArtifactRef] = (),
    produced_by: str | None = None,
    producing_run: str | None = None,
    principal: str | None = None,
    engine: Engine | None = None,
    progress: ProgressCallback | None = None,
) -> DatasetVersion:
    """Version the CSV / Parquet / JSON Lines file or directory at ``path`` as ``name``.

    Returns the new version, or the latest one with ``unchanged=True`` when its content
    is identical (nothing is written then). ``owner`` and ``description`` default to the
    previous version's. ``lineage_inputs`` are extra inputs of the recorded run, whose job
    is ``produced_by`` (default ``data.add``); ``producing_run`` names an existing run
    that produced the data, which gets this version as an output. ``progress`` is told
    how many rows were analyzed, batch by batch.
    """
    check_dataset_name(name)
    for tag in tags:
        check_tag(tag)
    who = principal or current_principal()
    if producing_run:
        workspace.lineage.run(producing_run)  # NotFound before any work
    manifest = build_manifest(path)
    previous: DatasetVersion | None
    try:
        previous = get_dataset(workspace, name)
    except NotFound:
        previous = None
    if previous and previous.digest == manifest.digest and previous.layout == manifest.layout:
        return dataclasses.replace(previous, unchanged=True)
    opened = path if isinstance(path, Dataset) else None
    analysis, twin = _analyze_or_reuse(workspace, manifest, engine, opened, progress)
    label = analysis.classification.label
    encrypt = workspace.config.data.encrypt_sensitive and label in SENSITIVE_LABELS
    files, profile_blob, new_blobs = _store(workspace, manifest, analysis, twin, encrypt=encrypt)
    run_id = str(uuid.uuid4())
    job = produced_by or "data.add"
    # One unit of work: the version, its lineage run and its audit event commit together
    # or not at all (a failure in between must not leave a version nobody audited).
    with workspace.metadata.unit_of_work():
        version = _insert(
            workspace,
            name,
            {
                "digest": manifest.digest,
                "layout": manifest.layout,
                "format": manifest.format,
                "size": manifest.size,
                "rows": analysis.rows,
                "schema": analysis.schema,
                "sensitivity": label,
                "encrypted": encrypt,
                "key_id": workspace.keys.data_kid() if encrypt else None,
                "profile_blob": profile_blob,
                "pii": analysis.classification.summary,
                "owner": _default(owner, previous.owner if previous else who),
                "description": _default(description, previous.description if previous else ""),
                "source": str(manifest.root.resolve()),
                "created_by": who,
                "created": datetime.now(UTC),
                "lineage_run": run_id,
                "produced_by": job,
                "producing_run": producing_run,
            },
            files,
            analysis,
            tags,
        )
        workspace.lineage.record_run(
            job,
            inputs=[_file_artifact(workspace, manifest), *lineage_inputs],
            outputs=[version.artifact],
            actor=who,
            facets={"dataset": version.ref, "sensitivity": label, "encrypted": encrypt},
            run_id=run_id,
        )
        if producing_run:
            workspace.lineage.add_outputs(producing_run, [version.artifact])
        workspace.audit.append(
            who,
            "data.add",
            version.ref,
            details={
                "digest": version.digest,
                "files": len(files),
                "new_blobs": new_blobs,
                "rows": version.rows,
                "sensitivity": label,
                "encrypted": encrypt,
                "run": run_id,
            },
        )
    return dataclasses.replace(version, new_blobs=new_blobs)


def tag_dataset(
    workspace: Workspace, ref: str, tag: str, *, remove: bool = False, principal: str | None = None
) -> DatasetVersion:
    """Add (or with ``remove`` take off) ``tag`` on the version ``name@version``."""
    name, selector = parse_dataset_ref(ref)
    check_tag(tag)
    who = principal or current_principal()
    with workspace.metadata.session() as session:
        row, _ = find_version_row(session, name, selector)
        existing = session.get(DatasetTagRow, (row.id, tag))
        if remove:
            if existing is None:
                raise NotFound(f"{name}@{row.version} has no tag {tag!r}")
            session.delete(existing)
        elif existing is None:
            session.add(DatasetTagRow(version_id=row.id, tag=tag))
        session.flush()
        version = load_versions(session, [(row, name)])[0]
    workspace.audit.append(who, "data.untag" if remove else "data.tag", version.ref, details={"tag": tag})
    return version
