"""Standalone JSON documents: Keras configs are checked, other JSON is plain data."""

from __future__ import annotations

import json

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.keras_config import check_keras_config, looks_like_keras

_MAX_JSON = 256 << 20


class JsonConfigScanner(Scanner):
    """JSON files (``config.json`` inside ``.keras`` archives, exported configs)."""

    format_name = "json"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return stripped[:1] in (b"{", b"[") and artifact.size <= _MAX_JSON

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        artifact.stream.seek(0)
        raw = artifact.stream.read()
        ctx.bytes_scanned += len(raw)
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            if artifact.name.endswith("config.json"):
                ctx.add(rules.FORMAT_MALFORMED, Severity.MEDIUM,
                        "config.json is not valid JSON", member=artifact.member)
            return
        if looks_like_keras(doc):
            ctx.formats.append("keras-config")
            check_keras_config(doc, ctx, artifact.member, "keras config")
