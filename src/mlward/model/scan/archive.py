"""Containers: zip (PyTorch, npz, Keras, plain), tar (incl. legacy torch tar) and 7z."""

from __future__ import annotations

import os
import posixpath
import re
import zlib
from dataclasses import replace
from typing import IO

from mlward.core.findings import Severity
from mlward.core.optional import optional
from mlward.model.scan import rules
from mlward.model.scan._io import Window
from mlward.model.scan.compressed import BombError, inflater_for, spool
from mlward.model.scan.dispatch import child, scan_artifact
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.pickle_file import scan_pickle_sequence
from mlward.model.scan.torch_legacy import LEGACY_TAR_MEMBERS, scan_legacy_tar_member
from mlward.model.scan.zip_reader import ZipEntry, list_zip

# Raw tensor records: ``archive/data/0``, TorchScript ``traced_inputs/0``, numeric keys.
_TORCH_DATA_RECORD = re.compile(r"((^|/)data/[^/]+|/\d+)$")
_TORCH_META = frozenset({"version", "byteorder", ".format_version", ".storage_alignment", "serialization_id"})
_METHODS = {0: None, 8: "deflate", 12: "bz2", 14: "zip-lzma"}


def _unsafe_path(name: str) -> bool:
    norm = posixpath.normpath(name.replace("\\", "/"))
    return name.startswith(("/", "\\")) or norm.startswith("..") or re.match(r"^[A-Za-z]:", name) is not None


class ZipScanner(Scanner):
    """Zip archives: PyTorch checkpoints, ``.npz``, ``.keras``, TorchScript, plain zips."""

    format_name = "zip"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        # A local header later in the head means prepended data (polyglots, SFX).
        return head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or (
            artifact.size > 22 and b"PK\x03\x04" in head
        )

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        listing = list_zip(artifact.stream, artifact.size, ctx.limits.max_members)
        names = [e.name for e in listing.entries]
        torch = any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)
        torchscript = torch and any(n.endswith("constants.pkl") for n in names)
        kind = (
            "torchscript"
            if torchscript
            else "pytorch-zip"
            if torch
            else (
                "numpy-npz"
                if names and all(n.endswith(".npy") for n in names)
                else "keras"
                if "config.json" in names and "metadata.json" in names
                else "zip"
            )
        )
        ctx.formats.append(kind)
        for problem, message in listing.problems:
            rule, sev = {
                "unreadable": (rules.ARCHIVE_UNREADABLE, Severity.HIGH),
                "bomb": (rules.ARCHIVE_BOMB, Severity.HIGH),
            }.get(problem, (rules.ARCHIVE_INCONSISTENT, Severity.MEDIUM))
            if problem == "unreadable" and listing.entries:
                sev = Severity.MEDIUM  # members were still recovered and are scanned
            ctx.add(rule, sev, f"zip: {message}", member=artifact.member)
        if not listing.entries and not listing.central_ok:
            return
        for entry in listing.entries:
            base = posixpath.basename(entry.name)
            if entry.name.endswith("/") and entry.usize == 0:
                continue
            if _unsafe_path(entry.name):
                ctx.add(
                    rules.ARCHIVE_PATH,
                    Severity.MEDIUM,
                    f"zip member path {entry.name!r} escapes the extraction directory",
                    member=artifact.member,
                )
            if torch and (
                base in _TORCH_META or (_TORCH_DATA_RECORD.search(entry.name) and not base.endswith(".pkl"))
            ):
                continue  # raw tensor bytes / metadata: never unpickled, not read
            if torchscript and "/code/" in f"/{entry.name}" and entry.name.endswith(".py"):
                continue  # TorchScript source, compiled by TorchScript (not Python)
            self._scan_member(artifact, ctx, entry, torch=torch, torchscript=torchscript)

    def _scan_member(
        self, artifact: Artifact, ctx: ScanContext, entry: ZipEntry, *, torch: bool, torchscript: bool
    ) -> None:
        if entry.flags & 1:
            # Not scanned is not safe: fail closed (DESIGN, security posture).
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"zip member {entry.name} is encrypted; not scanned",
                member=artifact.member,
            )
            return
        if entry.data_offset < 0:
            return
        stream, size = self._open(artifact, ctx, entry)
        if stream is None:
            return
        try:
            sub = child(artifact, stream, size, entry.name)
            if entry.name.endswith((".pkl", ".debug_pkl")):
                # Unpickled by torch.load whatever its content: no sniffing.
                ctx.formats.append("pickle")
                allow = ctx.allowlist
                if torchscript:
                    # TorchScript's C++ unpickler resolves __torch__.* to compiled
                    # TorchScript classes, never to Python imports.
                    ctx.allowlist = replace(allow, trusted_prefixes=("__torch__.", "torch.jit._pickle."))
                scan_pickle_sequence(
                    sub, ctx, persistent_ok=torch, label="torchscript pickle" if torchscript else "pickle"
                )
                ctx.allowlist = allow
            else:
                scan_artifact(sub, ctx)
        finally:
            stream.close()

    @staticmethod
    def _open(artifact: Artifact, ctx: ScanContext, entry: ZipEntry) -> tuple[IO[bytes] | None, int]:
        raw_size = min(entry.csize, max(0, artifact.size - entry.data_offset))
        if raw_size < entry.csize:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.MEDIUM,
                f"zip member {entry.name} is truncated",
                member=artifact.member,
            )
        if entry.method == 0:
            if entry.usize not in (entry.csize, 0xFFFFFFFF) and entry.source == "central":
                ctx.add(
                    rules.ARCHIVE_INCONSISTENT,
                    Severity.MEDIUM,
                    f"stored zip member {entry.name} declares {entry.usize} bytes but holds {entry.csize}",
                    member=artifact.member,
                )
            return Window(artifact.stream, entry.data_offset, raw_size), raw_size  # type: ignore[return-value]
        kind = _METHODS.get(entry.method)
        inflater = inflater_for(kind) if kind and kind != "zip-lzma" else None
        if kind == "zip-lzma":
            inflater = _zip_lzma(artifact, entry)
        if inflater is None:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"zip member {entry.name} uses unsupported method {entry.method}",
                member=artifact.member,
            )
            return None, 0
        src = Window(artifact.stream, entry.data_offset, raw_size)
        if kind == "zip-lzma":
            src.seek(4 + int.from_bytes(src.read(4)[2:4], "little"))
        try:
            data, size, crc, complete = spool(src.read, inflater, ctx, raw_size)
        except BombError as exc:
            ctx.add(
                rules.ARCHIVE_BOMB, Severity.HIGH, f"zip member {entry.name} {exc}", member=artifact.member
            )
            return None, 0
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"zip member {entry.name} cannot be decompressed ({exc})",
                member=artifact.member,
            )
            return None, 0
        if not complete or (crc != entry.crc and not entry.flags & 0x08):
            ctx.add(
                rules.ARCHIVE_INCONSISTENT,
                Severity.LOW,
                f"zip member {entry.name} is truncated or fails its CRC check",
                member=artifact.member,
            )
        return data, size


def _zip_lzma(artifact: Artifact, entry: ZipEntry):  # type: ignore[no-untyped-def]
    import lzma

    from mlward.model.scan.compressed import _Inflater

    win = Window(artifact.stream, entry.data_offset, min(entry.csize, 4 + 64))
    head = win.read(4)
    props = win.read(int.from_bytes(head[2:4], "little"))
    try:
        filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
    except (lzma.LZMAError, ValueError):
        return None
    return _Inflater(lambda: lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt]))


class TarScanner(Scanner):
    """POSIX tar archives, including PyTorch's legacy tar checkpoint format."""

    format_name = "tar"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return len(head) >= 262 and head[257:262] == b"ustar"

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        import tarfile  # lazily: most scans never meet a tar

        artifact.stream.seek(0)
        members: list[tarfile.TarInfo] = []
        try:
            with tarfile.open(fileobj=artifact.stream, mode="r:") as tar:
                while len(members) < ctx.limits.max_members:
                    info = tar.next()
                    if info is None:
                        break
                    members.append(info)
                else:
                    ctx.add(
                        rules.ARCHIVE_BOMB,
                        Severity.HIGH,
                        f"tar has more than {ctx.limits.max_members} members",
                        member=artifact.member,
                    )
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH if not members else Severity.MEDIUM,
                f"tar cannot be read completely ({exc})",
                member=artifact.member,
            )
        legacy = {m.name for m in members} >= LEGACY_TAR_MEMBERS
        if legacy:
            ctx.formats.append("pytorch-legacy-tar")
        for info in members:
            if _unsafe_path(info.name) or ((info.issym() or info.islnk()) and _unsafe_path(info.linkname)):
                ctx.add(
                    rules.ARCHIVE_PATH,
                    Severity.MEDIUM,
                    f"tar member {info.name!r} escapes the extraction directory",
                    member=artifact.member,
                )
            if not info.isfile():
                continue
            win = Window(artifact.stream, info.offset_data, info.size)
            sub = child(artifact, win, info.size, info.name)
            if legacy and info.name in LEGACY_TAR_MEMBERS:
                scan_legacy_tar_member(sub, ctx)
            else:
                scan_artifact(sub, ctx)


class SevenZipScanner(Scanner):
    """7z archives (needs the optional ``py7zr``; without it the file is reported unscanned)."""

    format_name = "7z"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return head.startswith(b"7z\xbc\xaf\x27\x1c")

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        py7zr = optional("py7zr")
        if py7zr is None:
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                "7z archive not scanned: install py7zr",
                member=artifact.member,
            )
            return
        artifact.stream.seek(0)
        try:
            with py7zr.SevenZipFile(artifact.stream, mode="r") as archive:
                infos = [i for i in archive.list() if not i.is_directory]
                total = sum(i.uncompressed or 0 for i in infos)
                if len(infos) > ctx.limits.max_members or (
                    ctx.expanded_bytes + total > ctx.limits.max_expanded_bytes
                ):
                    ctx.add(
                        rules.ARCHIVE_BOMB,
                        Severity.HIGH,
                        f"7z declares {len(infos)} members and {total} bytes; not scanned",
                        member=artifact.member,
                    )
                    return
                import tempfile

                with tempfile.TemporaryDirectory(prefix="mlward-7z-") as tmp:
                    # Into a private temp dir; py7zr refuses members that escape it.
                    archive.extractall(path=tmp)  # noqa: S202
                    ctx.expanded_bytes += total
                    for info in infos:
                        self._scan_extracted(artifact, ctx, tmp, info.filename)
        except Exception as exc:  # py7zr raises many unrelated types on bad input
            ctx.add(
                rules.ARCHIVE_UNREADABLE,
                Severity.HIGH,
                f"7z archive cannot be read ({type(exc).__name__}: {exc})",
                member=artifact.member,
            )

    @staticmethod
    def _scan_extracted(artifact: Artifact, ctx: ScanContext, root: str, name: str) -> None:
        if _unsafe_path(name):
            ctx.add(
                rules.ARCHIVE_PATH,
                Severity.MEDIUM,
                f"7z member path {name!r} escapes the extraction directory",
                member=artifact.member,
            )
            return
        path = os.path.join(root, name)
        if not os.path.isfile(path) or os.path.islink(path):
            return
        with open(path, "rb") as fh:
            scan_artifact(child(artifact, fh, os.path.getsize(path), name), ctx)
