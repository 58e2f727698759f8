"""Format detection by content and recursive dispatch to the format scanners."""

from __future__ import annotations

import os
from functools import lru_cache

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner

HEAD_SIZE = 512

# Names that are plain data in model repositories: not scanned, not worth a finding.
_DATA_SUFFIXES = (
    ".txt",
    ".md",
    ".json",
    ".yaml",
    ".yml",
    ".csv",
    ".model",
    ".vocab",
    ".tiktoken",
    ".cfg",
    ".ini",
    ".gitattributes",
    ".png",
    ".jpg",
)


@lru_cache(maxsize=1)
def scanners() -> tuple[Scanner, ...]:
    """Format scanners in detection order (most specific magic first)."""
    from mlward.model.scan.archive import SevenZipScanner, TarScanner, ZipScanner
    from mlward.model.scan.chat_templates import JinjaTemplateScanner
    from mlward.model.scan.compressed import CompressedScanner
    from mlward.model.scan.gguf_fmt import GgufScanner
    from mlward.model.scan.hdf5_fmt import Hdf5Scanner
    from mlward.model.scan.jsonconfig import JsonConfigScanner
    from mlward.model.scan.numpy_fmt import NpyScanner
    from mlward.model.scan.onnx_fmt import OnnxScanner
    from mlward.model.scan.pickle_file import PickleScanner, ProbablePickleScanner
    from mlward.model.scan.safetensors_fmt import SafetensorsScanner
    from mlward.model.scan.tf_savedmodel import SavedModelScanner

    # Templates are named, not sniffed: Jinja reads a .jinja file as text whatever its
    # bytes, and the pickle and zip readings below still apply to it.
    return (
        JinjaTemplateScanner(),
        ZipScanner(),
        SevenZipScanner(),
        TarScanner(),
        NpyScanner(),
        Hdf5Scanner(),
        GgufScanner(),
        SafetensorsScanner(),
        PickleScanner(),
        CompressedScanner(),
        SavedModelScanner(),
        OnnxScanner(),
        JsonConfigScanner(),
        ProbablePickleScanner(),
    )


def read_head(artifact: Artifact, n: int = HEAD_SIZE) -> bytes:
    """The first ``n`` bytes of the artifact."""
    artifact.stream.seek(0)
    return artifact.stream.read(n)


def detect(artifact: Artifact) -> Scanner | None:
    """The scanner whose format matches the content, or None."""
    head = read_head(artifact)
    for scanner in scanners():
        if scanner.sniff(head, artifact):
            return scanner
    return None


def scan_artifact(artifact: Artifact, ctx: ScanContext) -> str:
    """Detect the format of ``artifact`` and scan it; return the format name."""
    if artifact.depth > ctx.limits.max_depth:
        ctx.add(
            rules.ARCHIVE_BOMB,
            Severity.HIGH,
            f"containers nest deeper than {ctx.limits.max_depth} levels; not scanned",
            member=artifact.member,
        )
        return "nested"
    from mlward.model.scan.pickle_file import PickleScanner, scan_also_as_pickle

    scanner = detect(artifact)
    if scanner is None:
        _scan_also_as_zip(artifact, ctx, None)
        if scan_also_as_pickle(artifact, ctx, "unknown-format"):
            return "pickle"
        if artifact.size and not artifact.name.lower().endswith(_DATA_SUFFIXES):
            ctx.add(
                rules.FORMAT_UNKNOWN,
                Severity.LOW,
                f"unknown format ({os.path.basename(artifact.name)}), not scanned",
                member=artifact.member,
            )
        return "unknown"
    ctx.formats.append(scanner.format_name)
    scanner.scan(artifact, ctx)
    if not isinstance(scanner, PickleScanner):
        # First matching magic must not win: every reading a real loader applies counts.
        scan_also_as_pickle(artifact, ctx, scanner.format_name)
    _scan_also_as_zip(artifact, ctx, scanner)
    return scanner.format_name


def _scan_also_as_zip(artifact: Artifact, ctx: ScanContext, scanner: Scanner | None) -> None:
    """A file that ends like a zip is a zip to ``zipfile`` whatever precedes it."""
    from mlward.model.scan.archive import ZipScanner
    from mlward.model.scan.zip_reader import ends_like_a_zip

    if isinstance(scanner, ZipScanner) or not ends_like_a_zip(artifact.stream, artifact.size):
        return
    detected = scanner.format_name if scanner else "unknown-format"
    ctx.add(
        rules.FORMAT_POLYGLOT,
        Severity.HIGH,
        f"{detected} content also reads as a zip archive (a central directory ends the "
        "file); zipfile-based loaders (Keras, NumPy .npz) open it",
        member=artifact.member,
        detected=detected,
    )
    ZipScanner().scan(artifact, ctx)


def child(parent: Artifact, stream: object, size: int, name: str, label: str | None = None) -> Artifact:
    """An artifact for member ``name`` of ``parent`` (``label`` names it in locations)."""
    label = label or name
    member = label if parent.member is None else f"{parent.member}!{label}"
    return Artifact(
        stream=stream,  # type: ignore[arg-type]
        size=size,
        name=name,
        member=member,
        depth=parent.depth + 1,
    )
