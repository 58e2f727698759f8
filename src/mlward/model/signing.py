"""Sign and verify model artifacts in the OpenSSF model-signing v1.0 format.

A signature is a Sigstore bundle (``mlward.crypto.signing``) over an in-toto statement
with predicate type ``https://model_signing/signature/v1.0``, exactly as the reference
tool (``pip install model-signing``; ``model_signing sign key``) writes it, so either
tool verifies the other's signatures:

- subject: the model directory name and a SHA-256 over every resource digest, in order;
- predicate.serialization: ``method`` (``files`` or ``shards``), ``hash_type``,
  ``allow_symlinks``, ``shard_size`` (shards only) and the signed ``ignore_paths``;
- predicate.resources: ``{name, algorithm, digest}`` per file (``files``) or per shard
  named ``path:start:end`` with algorithm ``sha256-sharded-<shard_size>`` (``shards``).

``files`` is the reference's default and the interoperable choice; ``shards`` hashes one
large file on every core. Verification re-hashes with whatever the bundle declares.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlward.core.errors import InputError, IntegrityError
from mlward.crypto.digests import (
    DEFAULT_SHARD_SIZE,
    HASH_METHODS,
    HashMethod,
    TreeDigest,
    hash_tree,
    normalize_ignore_path,
    path_sort_key,
)
from mlward.crypto.signing import (
    KeyMismatch,
    SignatureMismatch,
    SigningKey,
    Statement,
    Subject,
    VerifyingKey,
    parse_bundle,
    sign_statement,
    verify_bundle,
)

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
DEFAULT_SIGNATURE_NAME = "model.sig"
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
"""Ignored by default on both sides, as the reference tool does."""


class FailureKind(enum.StrEnum):
    """Why a verification failed."""

    CHANGED = "changed"
    MISSING = "missing"
    EXTRA = "extra"
    WRONG_KEY = "wrong-key"
    BAD_SIGNATURE = "bad-signature"
    MALFORMED = "malformed"


_SIGNATURE_FAILURES: dict[type[IntegrityError], FailureKind] = {
    KeyMismatch: FailureKind.WRONG_KEY,
    SignatureMismatch: FailureKind.BAD_SIGNATURE,
}


@dataclass(frozen=True)
class ResourceDigest:
    """One entry of the signed manifest."""

    name: str
    """File path relative to the model (``path:start:end`` for a shard)."""
    algorithm: str
    """``sha256`` or ``sha256-sharded-<shard_size>``."""
    digest: str
    """Lower-case hex digest."""


@dataclass(frozen=True)
class VerificationFailure:
    """One reason a model does not match its signature."""

    kind: FailureKind
    """What went wrong."""
    path: str | None
    """The model file concerned, or None for the signature itself."""
    detail: str
    """One sentence a user can act on."""


@dataclass(frozen=True)
class SignResult:
    """What ``sign_model`` signed and where it wrote the signature."""

    model_path: Path
    """The model file or directory."""
    signature_path: Path
    """The Sigstore bundle written."""
    model_name: str
    """Subject name (the model's directory or file name)."""
    method: HashMethod
    """``files`` or ``shards``."""
    root_digest: str
    """Subject SHA-256 over all resource digests."""
    resources: tuple[ResourceDigest, ...]
    """Signed manifest entries, sorted."""
    ignore_paths: tuple[str, ...]
    """Model-relative paths left out of the signature (recorded in it)."""
    file_count: int
    """Files signed."""
    total_bytes: int
    """Bytes hashed."""
    key_hint: str
    """SHA-256 of the signer's PEM public key."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a model against a signature."""

    model_path: Path
    """The model file or directory checked."""
    signature_path: Path
    """The bundle checked."""
    verified: bool
    """True only when the signature verifies and every file matches."""
    failures: tuple[VerificationFailure, ...]
    """Every problem found (empty when verified)."""
    model_name: str | None = None
    """Subject name in the signature (informative only)."""
    method: str | None = None
    """Serialization method the signature declares."""
    root_digest: str | None = None
    """Subject digest in the signature."""
    file_count: int = 0
    """Files re-hashed."""
    total_bytes: int = 0
    """Bytes re-hashed."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _jsonable(self)


class ModelVerificationError(IntegrityError):
    """A model does not match its signature; ``result`` lists every failure."""

    def __init__(self, result: VerifyResult) -> None:
        first = result.failures[0]
        where = f"{first.path}: " if first.path else ""
        more = len(result.failures) - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        super().__init__(
            f"model {result.model_path} does not match signature {result.signature_path}: "
            f"{first.kind.value}: {where}{first.detail}{suffix}"
        )
        self.result = result


def default_signature_path(model_path: Path) -> Path:
    """``<dir>/model.sig`` for a model directory, ``<file>.sig`` beside a single file."""
    if model_path.is_dir():
        return model_path / DEFAULT_SIGNATURE_NAME
    return model_path.with_name(model_path.name + ".sig")


def sign_model(
    path: Path,
    private_key: SigningKey,
    *,
    method: HashMethod = "files",
    ignore_paths: Iterable[str] = (),
    output: Path | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    ignore_git_paths: bool = True,
    allow_symlinks: bool = False,
    max_workers: int | None = None,
) -> SignResult:
    """Hash ``path`` and write a model-signing v1.0 signature (default ``path/model.sig``).

    ``method="files"`` matches the reference tool's default; ``"shards"`` is faster for
    large files. The signature file itself, ``ignore_paths`` and (by default) git files
    are left out and recorded in the signature so the verifier leaves them out too.
    """
    if method not in HASH_METHODS:
        raise InputError(f"unknown method {method!r}; choose files or shards")
    path = Path(path)
    signature_path = Path(output) if output is not None else default_signature_path(path)
    ignored = _ignore_set(path, ignore_paths, signature_path, ignore_git_paths)
    tree = hash_tree(
        path,
        method=method,
        shard_size=shard_size,
        ignore=ignored,
        allow_symlinks=allow_symlinks,
        max_workers=max_workers,
    )
    resources = _resources(tree)
    model_name = path.name or path.resolve().name
    root_digest = _root_digest(resources)
    serialization: dict[str, Any] = {"method": method, "hash_type": "sha256"}
    if method == "shards":
        serialization["shard_size"] = shard_size
    serialization["allow_symlinks"] = allow_symlinks
    if ignored:
        serialization["ignore_paths"] = sorted(ignored)
    statement = Statement(
        subjects=(Subject(model_name, {"sha256": root_digest}),),
        predicate_type=PREDICATE_TYPE,
        predicate={
            "serialization": serialization,
            "resources": [{"name": r.name, "algorithm": r.algorithm, "digest": r.digest} for r in resources],
        },
    )
    bundle = sign_statement(statement, private_key)
    try:
        signature_path.write_text(bundle.to_json(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write signature {signature_path}: {exc.strerror}") from exc
    return SignResult(
        model_path=path,
        signature_path=signature_path,
        model_name=model_name,
        method=method,
        root_digest=root_digest,
        resources=resources,
        ignore_paths=tuple(sorted(ignored)),
        file_count=len(tree.files),
        total_bytes=tree.total_bytes,
        key_hint=bundle.public_key_hint or "",
    )


def verify_model(
    path: Path,
    signature_path: Path,
    public_key: VerifyingKey | Sequence[VerifyingKey],
    *,
    ignore_paths: Iterable[str] = (),
    ignore_git_paths: bool = True,
    max_workers: int | None = None,
) -> VerifyResult:
    """Check ``path`` against a signature; raise ``ModelVerificationError`` on any mismatch.

    Fails on a wrong key, an altered bundle or statement, and on every changed, missing
    or extra file (each named in ``error.result.failures``). The model is re-hashed with
    the method, shard size and ignore paths the signature declares. ``public_key`` may
    be several trusted keys (after a rotation): the signature's key hint picks one.
    Raises ``InputError`` when the signature or a model file cannot be read.
    """
    path, signature_path = Path(path), Path(signature_path)
    try:
        text = signature_path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read signature {signature_path}: {exc.strerror}") from exc

    try:
        statement = verify_bundle(parse_bundle(text), public_key)
        manifest = _SignedManifest.from_statement(statement)
    except IntegrityError as exc:
        kind = _SIGNATURE_FAILURES.get(type(exc), FailureKind.MALFORMED)
        failure = VerificationFailure(kind, None, exc.message)
        raise ModelVerificationError(VerifyResult(path, signature_path, False, (failure,))) from exc

    ignored = _ignore_set(path, ignore_paths, signature_path, ignore_git_paths)
    ignored |= manifest.ignore_paths
    tree = hash_tree(
        path,
        method=manifest.method,
        shard_size=manifest.shard_size or DEFAULT_SHARD_SIZE,
        ignore=ignored,
        allow_symlinks=manifest.allow_symlinks,
        max_workers=max_workers,
    )
    actual = {r.name: r.digest for r in _resources(tree)}
    failures = _compare(manifest, actual)
    result = VerifyResult(
        model_path=path,
        signature_path=signature_path,
        verified=not failures,
        failures=tuple(failures),
        model_name=manifest.model_name,
        method=manifest.method,
        root_digest=manifest.root_digest,
        file_count=len(tree.files),
        total_bytes=tree.total_bytes,
    )
    if failures:
        raise ModelVerificationError(result)
    return result


@dataclass(frozen=True)
class _SignedManifest:
    model_name: str
    root_digest: str
    method: HashMethod
    shard_size: int | None
    allow_symlinks: bool
    ignore_paths: frozenset[str]
    resources: Mapping[str, str]

    @classmethod
    def from_statement(cls, statement: Statement) -> _SignedManifest:
        """Check the v1.0 predicate; raise ``IntegrityError`` naming what is wrong."""
        if statement.predicate_type != PREDICATE_TYPE:
            raise IntegrityError(f"predicate type is {statement.predicate_type!r}, expected {PREDICATE_TYPE}")
        if len(statement.subjects) != 1 or "sha256" not in statement.subjects[0].digest:
            raise IntegrityError("a model signature needs exactly one subject with a sha256")
        subject = statement.subjects[0]
        serialization = statement.predicate.get("serialization")
        raw_resources = statement.predicate.get("resources")
        if not isinstance(serialization, dict) or not isinstance(raw_resources, list):
            raise IntegrityError("predicate needs 'serialization' and 'resources'")
        method = serialization.get("method")
        if method not in HASH_METHODS:
            raise IntegrityError(f"unsupported serialization method {method!r}")
        if serialization.get("hash_type") != "sha256":
            raise IntegrityError(f"unsupported hash_type {serialization.get('hash_type')!r}; only sha256")
        shard_size = None
        algorithm = "sha256"
        if method == "shards":
            # The reference writes numbers through protobuf Struct, so 1e9 arrives as 1e9.0.
            raw_size = serialization.get("shard_size")
            if not isinstance(raw_size, int | float) or raw_size != int(raw_size) or raw_size < 1:
                raise IntegrityError(f"invalid shard_size {raw_size!r}")
            shard_size = int(raw_size)
            algorithm = f"sha256-sharded-{shard_size}"
        resources: dict[str, str] = {}
        root = hashlib.sha256()
        for index, raw in enumerate(raw_resources):
            if not isinstance(raw, dict) or not all(
                isinstance(raw.get(k), str) for k in ("name", "algorithm", "digest")
            ):
                raise IntegrityError(f"resources[{index}] needs name, algorithm and digest")
            if raw["algorithm"] != algorithm or raw["name"] in resources:
                raise IntegrityError(f"resources[{index}] ({raw['name']}) is inconsistent")
            try:
                root.update(bytes.fromhex(raw["digest"]))
            except ValueError as exc:
                raise IntegrityError(f"resources[{index}] digest is not hex") from exc
            resources[raw["name"]] = raw["digest"].lower()
        if root.hexdigest() != subject.digest["sha256"].lower():
            raise IntegrityError("subject digest does not match the listed resources")
        return cls(
            model_name=subject.name,
            root_digest=subject.digest["sha256"],
            method=method,
            shard_size=shard_size,
            allow_symlinks=serialization.get("allow_symlinks") is True,
            ignore_paths=_declared_ignores(serialization.get("ignore_paths", [])),
            resources=resources,
        )


def _declared_ignores(raw: Any) -> frozenset[str]:
    """Ignore paths from a signature; ones that could match the whole model are dropped.

    An entry such as ``.`` would exclude every file from checking, so it is not honoured
    (those files then count as extra), which keeps verification failing closed.
    """
    if not isinstance(raw, list):
        raise IntegrityError("serialization.ignore_paths must be a list")
    kept = set()
    for entry in raw:
        try:
            kept.add(str(normalize_ignore_path(str(entry))))
        except InputError:
            continue
    return frozenset(kept)


def _ignore_set(model: Path, extra: Iterable[str], signature: Path, git: bool) -> set[str]:
    ignored = {str(normalize_ignore_path(p)) for p in extra}
    if git:
        ignored.update(GIT_PATHS)
    if model.is_dir():
        try:
            rel = signature.resolve().relative_to(model.resolve())
        except ValueError:
            pass  # the signature lives outside the model: nothing to leave out
        else:
            ignored.add(rel.as_posix())
    return ignored


def _resources(tree: TreeDigest) -> tuple[ResourceDigest, ...]:
    if tree.method == "files":
        return tuple(ResourceDigest(d.name, "sha256", d.sha256) for d in tree.digests)
    algorithm = f"sha256-sharded-{tree.shard_size}"
    items = sorted(tree.digests, key=lambda d: (path_sort_key(d.name), d.start, d.end))
    return tuple(ResourceDigest(f"{d.name}:{d.start}:{d.end}", algorithm, d.sha256) for d in items)


def _root_digest(resources: Iterable[ResourceDigest]) -> str:
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource.digest))
    return hasher.hexdigest()


def _file_of(name: str, method: str) -> str:
    return name.rsplit(":", 2)[0] if method == "shards" else name


def _compare(manifest: _SignedManifest, actual: Mapping[str, str]) -> list[VerificationFailure]:
    """One failure per file: missing, extra, or changed (with the shard that differs)."""
    expected_by_file: dict[str, dict[str, str]] = {}
    actual_by_file: dict[str, dict[str, str]] = {}
    for source, target in ((manifest.resources, expected_by_file), (actual, actual_by_file)):
        for name, digest in source.items():
            target.setdefault(_file_of(name, manifest.method), {})[name] = digest
    failures = []
    for file in sorted(expected_by_file.keys() | actual_by_file.keys(), key=path_sort_key):
        signed, found = expected_by_file.get(file), actual_by_file.get(file)
        if found is None:
            failures.append(VerificationFailure(FailureKind.MISSING, file, "signed file is gone"))
        elif signed is None:
            failures.append(VerificationFailure(FailureKind.EXTRA, file, "file is not in the signature"))
        elif signed != found:
            failures.append(
                VerificationFailure(FailureKind.CHANGED, file, _change(signed, found, manifest.method))
            )
    return failures


def _change(signed: Mapping[str, str], found: Mapping[str, str], method: str) -> str:
    if method == "files":
        ((name, digest),) = signed.items()
        return f"sha256 is {found[name][:16]}…, signed {digest[:16]}…"
    if signed.keys() != found.keys():
        sizes = [max(int(name.rsplit(":", 1)[1]) for name in d) for d in (signed, found)]
        return f"size changed from {sizes[0]} to {sizes[1]} bytes"
    ranges = ", ".join(
        n.rsplit(":", 2)[1] + "-" + n.rsplit(":", 1)[1] for n in signed if signed[n] != found[n]
    )
    return f"content differs in byte range(s) {ranges}"


def _jsonable(record: Any) -> dict[str, Any]:
    """A dataclass as plain JSON types (paths as strings, tuples as lists)."""
    return dict(json.loads(json.dumps(asdict(record), default=str)))
