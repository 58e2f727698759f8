"""Entry points: scan one path or many, in parallel over files with a process pool."""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlward.core.errors import InputError
from mlward.core.findings import Severity, max_severity
from mlward.model.scan import rules
from mlward.model.scan.allowlist import default_allowlist
from mlward.model.scan.dispatch import scan_artifact
from mlward.model.scan.interface import (
    UNSAFE_AT,
    Artifact,
    FileReport,
    ScanContext,
    ScanLimits,
    ScanReport,
    Verdict,
)

AllowlistExtra = Iterable[str | Mapping[str, Any]] | None
Progress = Callable[[int, int, str], None]
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mlward"})


def scan_file(
    path: str | os.PathLike[str],
    *,
    allowlist_extra: AllowlistExtra = None,
    limits: ScanLimits | None = None,
) -> FileReport:
    """Scan one file; never raises on bad content (an internal failure is verdict ERROR)."""
    shown = os.fspath(path)
    started = time.perf_counter()
    ctx = ScanContext(
        path=shown,
        allowlist=default_allowlist().extended(list(allowlist_extra) if allowlist_extra else None),
        limits=limits or ScanLimits(),
    )
    error: str | None = None
    fmt = "unknown"
    try:
        with open(shown, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fmt = scan_artifact(
                Artifact(stream=fh, size=size, name=os.path.basename(shown), member=None), ctx
            )
    except OSError as exc:
        error = f"cannot read file: {exc.strerror or exc}"
    except Exception as exc:  # fail closed: a scanner bug must not turn into SAFE
        error = f"internal scanner error: {type(exc).__name__}: {exc}"
    if error:
        ctx.add(rules.SCAN_ERROR, Severity.HIGH, f"scan could not complete ({error})", member=None)
    sev = max_severity(ctx.findings)
    verdict = (
        Verdict.ERROR if error else Verdict.UNSAFE if sev is not None and sev >= UNSAFE_AT else Verdict.SAFE
    )
    if ctx.formats and fmt != "unknown":
        fmt = _primary_format(ctx.formats)
    return FileReport(
        path=shown,
        format=fmt,
        verdict=verdict,
        findings=tuple(ctx.findings),
        bytes_scanned=ctx.bytes_scanned,
        duration_s=time.perf_counter() - started,
        error=error,
    )


def _primary_format(formats: list[str]) -> str:
    """The most specific format name among those detected (outermost wins otherwise)."""
    for specific in (
        "pytorch-legacy-tar",
        "torchscript",
        "pytorch-zip",
        "pytorch-legacy",
        "joblib",
        "keras",
        "keras-h5",
        "numpy-npz",
        "tensorflow-savedmodel",
        "tensorflow-graphdef",
    ):
        if specific in formats:
            return specific
    if formats[0] == "compressed" and len(formats) > 1:
        return f"compressed-{formats[1]}"
    return formats[0]


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    base = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(base, p) for p in patterns)


def collect_files(
    paths: Iterable[str | os.PathLike[str]],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[str]:
    """Expand directories into files (sorted), applying include/exclude globs."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(os.fspath(path))
            continue
        if not path.is_dir():
            raise InputError(f"no such file or directory: {path}")
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for name in sorted(files):
                full = Path(root) / name
                rel = full.relative_to(path).as_posix()
                if full.is_symlink() and not full.is_file():
                    continue
                if include and not _matches(rel, include):
                    continue
                if exclude and _matches(rel, exclude):
                    continue
                found.append(os.fspath(full))
    return found


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    workers: int | None = None,
    allowlist_extra: AllowlistExtra = None,
    limits: ScanLimits | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan files and directories; files are spread over ``workers`` processes.

    ``workers`` defaults to the CPU count; 1 scans in this process. ``progress`` is called
    as ``progress(done, total, path)`` after each file. Raises ``InputError`` for a path
    that does not exist.
    """
    started = time.perf_counter()
    files = collect_files(paths, include, exclude)
    extra = list(allowlist_extra) if allowlist_extra else None
    workers = min(workers or os.cpu_count() or 1, len(files)) or 1
    reports: dict[str, FileReport] = {}
    if workers <= 1:
        for i, file in enumerate(files, 1):
            reports[file] = scan_file(file, allowlist_extra=extra, limits=limits)
            if progress:
                progress(i, len(files), file)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(scan_file, f, allowlist_extra=extra, limits=limits): f for f in files}
            for i, future in enumerate(as_completed(futures), 1):
                file = futures[future]
                try:
                    reports[file] = future.result()
                except Exception as exc:  # a crashed worker: fail closed for that file
                    reports[file] = _error_report(file, f"worker failed: {exc}")
                if progress:
                    progress(i, len(files), file)
    return ScanReport(files=tuple(reports[f] for f in files), duration_s=time.perf_counter() - started)


def _error_report(path: str, error: str) -> FileReport:
    ctx = ScanContext(path=path, allowlist=default_allowlist())
    ctx.add(rules.SCAN_ERROR, Severity.HIGH, f"scan could not complete ({error})", member=None)
    return FileReport(
        path=path,
        format="unknown",
        verdict=Verdict.ERROR,
        findings=tuple(ctx.findings),
        bytes_scanned=0,
        duration_s=0.0,
        error=error,
    )


def scan_path(
    path: str | os.PathLike[str],
    *,
    allowlist_extra: AllowlistExtra = None,
    limits: ScanLimits | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    workers: int | None = 1,
) -> ScanReport:
    """Scan one file or directory and return the report (in-process by default)."""
    return scan_paths(
        [path],
        include=include,
        exclude=exclude,
        workers=workers,
        allowlist_extra=allowlist_extra,
        limits=limits,
    )


def scan(path: str | os.PathLike[str], **options: Any) -> ScanReport:
    """Shorthand for ``scan_path``."""
    return scan_path(path, **options)
