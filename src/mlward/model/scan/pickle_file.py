"""Pickle files: raw pickle, joblib, dill, cloudpickle, and PyTorch's legacy stacked format."""

from __future__ import annotations

import pickle

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan._io import ByteStream
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.pickle_analyser import PickleAnalyser, PickleOutcome

# torch.serialization.MAGIC_NUMBER: the first pickle of a legacy (non-zip) torch file.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

PICKLE_SUFFIXES = (
    ".pkl",
    ".pickle",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".joblib",
    ".dill",
    ".sav",
    ".p",
    ".dat",
    ".data",
    ".cloudpickle",
    ".pck",
    ".pcl",
    ".mar",
)

# Bytes that start real protocol 0/1 pickles (MARK, GLOBAL, EMPTY_DICT/LIST, INT, ...).
_TEXT_PICKLE_START = frozenset(b"(c}]KIJNSVX.)lditMGFLUT")


def scan_pickle_sequence(
    artifact: Artifact,
    ctx: ScanContext,
    start: int = 0,
    *,
    persistent_ok: bool = False,
    label: str = "pickle",
    probe: bool = False,
) -> list[PickleOutcome]:
    """Analyse the pickle at ``start`` and every pickle that follows it in the stream.

    A legacy torch file is five pickles followed by raw storages: after the magic number
    pickle, exactly four more are analysed (the data pickle, the 4th, is where payloads
    hide) and the storages are skipped.
    """
    bs = ByteStream(artifact.stream, start, artifact.size)
    outcomes: list[PickleOutcome] = []
    try:
        analyser = PickleAnalyser(
            bs,
            ctx,
            artifact.member,
            persistent_ok=persistent_ok,
            label=label,
            report_malformed=not probe,
            depth=artifact.depth,
        )
        first = analyser.run()
        outcomes.append(first)
        if probe and not first.complete:
            if first.calls or first.globals_seen or first.limit:
                analyser.report_break(first.error or "broken stream", limit=first.limit)
            else:
                # Breaks before importing or calling anything: nothing can run, so this
                # is simply not a pickle (raw weights named .bin, say).
                ctx.add(
                    rules.FORMAT_UNKNOWN,
                    Severity.LOW,
                    f"named like a pickle but not one ({first.error}); not scanned further",
                    member=artifact.member,
                    offset=first.end,
                )
            return outcomes
        if any(g.startswith("joblib.") for g in first.globals_seen):
            ctx.formats.append("joblib")
        if first.complete and first.value == TORCH_LEGACY_MAGIC:
            ctx.formats.append("pytorch-legacy")
            for index in range(4):
                outcome = PickleAnalyser(
                    bs,
                    ctx,
                    artifact.member,
                    persistent_ok=True,
                    label=f"legacy torch pickle #{index + 2}",
                ).run()
                outcomes.append(outcome)
                if not outcome.complete:
                    break
            return outcomes
        n = 1
        while outcomes[-1].complete and not bs.at_eof():
            n += 1
            nxt = PickleAnalyser(
                bs,
                ctx,
                artifact.member,
                persistent_ok=persistent_ok,
                report_malformed=False,
                label=f"pickle #{n}",
            ).run()
            outcomes.append(nxt)
            if not nxt.complete:
                # What a loader reading pickle #n runs before its break was reported by
                # the analyser; the break itself is HIGH when something ran or a limit hit.
                ran = bool(nxt.calls or nxt.globals_seen or nxt.limit)
                ctx.add(
                    rules.PICKLE_TRAILING,
                    Severity.HIGH if ran else Severity.MEDIUM,
                    f"{bs.size - nxt.start} bytes after pickle #{n - 1} are not a valid pickle "
                    f"({nxt.error}); a loader reading further pickles may run them",
                    member=artifact.member,
                    offset=nxt.start,
                )
    finally:
        ctx.bytes_scanned += bs.bytes_read
    return outcomes


def scan_also_as_pickle(artifact: Artifact, ctx: ScanContext, detected: str) -> bool:
    """Read a file of another format as a pickle too: the most severe reading wins.

    ``pickle.load``, ``joblib.load`` and ``torch.load`` do not look at magic bytes, so
    bytes that start like GGUF, safetensors, a zip (prepended data) or JSON may still be
    a pickle to them. The reading is tried on a scratch context and stops at the first
    opcode that is not a pickle; only when it gets as far as importing a global (or an
    EXT code) are the bytes analysed as a pickle for real, plus a HIGH polyglot finding.
    Returns True in that case.
    """
    from mlward.model.scan.interface import ScanContext as Scratch

    if artifact.size < 2:
        return False
    scratch = Scratch(path=ctx.path, allowlist=ctx.allowlist, limits=ctx.limits)
    # Small reads: most files stop being a pickle within a few bytes.
    bs = ByteStream(artifact.stream, 0, artifact.size, chunk=4096)
    seen: list[str] = []
    limit = False
    try:
        # Plain-data pickles that end with STOP may be followed by one that does not.
        while True:
            analyser = PickleAnalyser(
                bs,
                scratch,
                artifact.member,
                report_malformed=False,
                label="pickle reading",
                depth=artifact.depth,
            )
            analyser.strict_names = True
            outcome = analyser.run()
            seen.extend(outcome.globals_seen)
            limit = outcome.limit
            if seen or limit or not outcome.complete or bs.at_eof():
                break
    finally:
        ctx.bytes_scanned += bs.bytes_read
    ext = any(f.rule_id == rules.PICKLE_EXT for f in scratch.findings)
    if not (seen or ext or limit):
        return False
    shown = (
        f"imports {', '.join(seen[:5])}"
        if seen
        else "uses extension-registry codes"
        if ext
        else f"cannot be followed past a scanner limit ({outcome.error})"
    )
    artifact.stream.seek(0)
    if artifact.stream.read(1) == pickle.PERSID:
        # Every zip starts "PK": a persistent id. pickle.load, joblib.load and torch.load
        # (whose legacy path reads its magic number with a plain unpickler) raise on it
        # before anything is imported; the globals behind it are still analysed below.
        ctx.add(
            rules.FORMAT_POLYGLOT,
            Severity.MEDIUM,
            f"{detected} content also reads as a pickle that {shown}, behind a "
            "persistent id at offset 0: only an unpickler with a persistent_load gets "
            "past it (pickle.load / joblib.load / torch.load raise there)",
            member=artifact.member,
            offset=0,
            detected=detected,
        )
    else:
        ctx.add(
            rules.FORMAT_POLYGLOT,
            Severity.HIGH,
            f"{detected} content also reads as a pickle that {shown}; "
            "pickle.load / joblib.load / torch.load would run it",
            member=artifact.member,
            offset=0,
            detected=detected,
        )
    ctx.formats.append("pickle")
    scan_pickle_sequence(artifact, ctx, label=f"pickle reading of {detected}")
    return True


class PickleScanner(Scanner):
    """Binary pickles (protocol 2+): they start with the PROTO opcode."""

    format_name = "pickle"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return len(head) >= 2 and head[0] == 0x80 and head[1] <= 5

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        scan_pickle_sequence(artifact, ctx)


class ProbablePickleScanner(PickleScanner):
    """Protocol 0/1 pickles (no magic) and files named like pickles: fail closed on them."""

    format_name = "pickle"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if not head:
            return False
        if artifact.name.lower().endswith(PICKLE_SUFFIXES):
            return True
        return head[0] in _TEXT_PICKLE_START and _looks_like_pickle(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        scan_pickle_sequence(artifact, ctx, probe=True)


def _looks_like_pickle(head: bytes) -> bool:
    """Protocol 0/1 heuristic: a text pickle starts with an opcode and uses newline operands."""
    if head[:1] in (b"(", b"]", b"}", b")") and len(head) > 1:
        return head[1] in _TEXT_PICKLE_START or head[1] in b"q0123pe"
    if head[:1] in (b"c", b"i"):
        first = head.split(b"\n", 2)
        return len(first) == 3 and all(
            p.replace(b".", b"").replace(b"_", b"").isalnum() for p in (first[0][1:], first[1])
        )
    return head.endswith(b".") and len(head) < 64
