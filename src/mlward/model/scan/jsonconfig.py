"""Standalone JSON documents: Keras configs and chat templates are checked, the rest is data."""

from __future__ import annotations

import json

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.chat_templates import check_config_templates
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.keras_config import check_keras_config, looks_like_keras

_MAX_JSON = 256 << 20


class JsonConfigScanner(Scanner):
    """JSON files (``config.json`` inside ``.keras`` archives, exported configs)."""

    format_name = "json"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        if artifact.name.endswith("config.json") and head:
            return True  # Keras json.loads()es it whatever it starts with (or its size)
        if artifact.size > _MAX_JSON or not head:
            return False
        # json.loads(bytes), as Keras calls it, detects UTF-8 (BOM), UTF-16 and UTF-32.
        text = head.decode(json.detect_encoding(head), "ignore")
        return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        if artifact.size > _MAX_JSON:
            ctx.add(
                rules.FORMAT_MALFORMED,
                Severity.HIGH,
                f"{artifact.name} is larger than {_MAX_JSON >> 20} MiB; not checked (fail closed)",
                member=artifact.member,
                limit=True,
            )
            return
        artifact.stream.seek(0)
        raw = artifact.stream.read()
        ctx.bytes_scanned += len(raw)
        try:
            doc = json.loads(raw)  # the call Keras's saving_lib makes, same decoding
        except (ValueError, RecursionError) as exc:
            if artifact.name.endswith("config.json"):
                # Inside a .keras zip the config is what builds the model: unparseable
                # means unchecked (fail closed); a loose config.json is only malformed.
                inside = artifact.member is not None
                ctx.add(
                    rules.FORMAT_MALFORMED,
                    Severity.HIGH if inside else Severity.MEDIUM,
                    f"config.json is not valid JSON ({type(exc).__name__}); its layers are unchecked",
                    member=artifact.member,
                )
            return
        check_config_templates(doc, ctx, name=artifact.name.rsplit("/", 1)[-1], member=artifact.member)
        if looks_like_keras(doc):
            ctx.formats.append("keras-config")
            check_keras_config(doc, ctx, artifact.member, "keras config")
