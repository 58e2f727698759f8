"""Where chat templates live beside a model, and how their issues become findings.

Three places hold a Jinja2 chat template that the serving stack renders: GGUF metadata
(``tokenizer.chat_template``, ``tokenizer.chat_template.<name>``), a JSON config's
``chat_template`` (``tokenizer_config.json``, ``chat_template.json``,
``processor_config.json``: a string, a list of ``{"name", "template"}`` or a name → template
mapping), and standalone ``.jinja`` / ``.j2`` files (``chat_template.jinja``).
"""

from __future__ import annotations

from typing import Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import Artifact, ScanContext, Scanner
from mlward.model.scan.jinja_template import MAX_TEMPLATE_CHARS, analyse_template

TEMPLATE_SUFFIXES = (".jinja", ".j2", ".jinja2")
"""File names read as Jinja2 templates whatever their bytes look like."""


def check_template(
    template: str, ctx: ScanContext, *, where: str, member: str | None, offset: int | None = None
) -> None:
    """Analyse one template and add a finding per issue (``where`` names its source)."""
    for issue in analyse_template(template):
        line = f" (line {issue.line})" if issue.line is not None else ""
        ctx.add(
            issue.rule_id,
            issue.severity,
            f"{where}: {issue.message}{line}",
            member=member,
            offset=offset,
            detail=where,
            template_line=issue.line,
        )


def check_template_bytes(
    raw: bytes, ctx: ScanContext, *, where: str, member: str | None, offset: int | None = None
) -> None:
    """Decode a template as its loaders do (UTF-8) and analyse it; other bytes are HIGH."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.add(
            rules.TEMPLATE_UNPARSED,
            Severity.HIGH,
            f"{where}: template is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
            "analysed as decoded with replacement characters",
            member=member,
            offset=offset,
            detail=where,
        )
        text = raw.decode("utf-8", "replace")
    check_template(text, ctx, where=where, member=member, offset=offset)


def check_config_templates(doc: Any, ctx: ScanContext, *, name: str, member: str | None) -> None:
    """The chat templates of a parsed JSON config.

    ``chat_template`` in each shape transformers accepts; other top-level strings under a
    key naming a chat template (``default_chat_template``, ``custom_chat_template``,
    ``chat_template_jinja``) are what custom loaders render, so they are checked too.
    """
    if not isinstance(doc, dict):
        return
    for key, value in doc.items():
        if (
            key != "chat_template"
            and isinstance(key, str)
            and "chat_template" in key
            and isinstance(value, str)
        ):
            check_template(value, ctx, where=f"{name} {key}", member=member)
    if doc.get("chat_template") is None:
        return
    value = doc["chat_template"]
    where = f"{name} chat_template"
    if isinstance(value, str):
        check_template(value, ctx, where=where, member=member)
        return
    if isinstance(value, list):
        entries = [(e.get("name"), e.get("template")) if isinstance(e, dict) else (None, e) for e in value]
    elif isinstance(value, dict):
        entries = list(value.items())
    else:
        entries = [(None, value)]
    for index, (label, template) in enumerate(entries):
        here = f"{where}[{label if isinstance(label, str) else index}]"
        if isinstance(template, str):
            check_template(template, ctx, where=here, member=member)
        else:
            ctx.add(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                f"{here} is a {type(template).__name__}, not a template string; unchecked",
                member=member,
                detail=here,
            )


class JinjaTemplateScanner(Scanner):
    """Standalone Jinja2 template files, recognised by name (they have no magic)."""

    format_name = "jinja"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return artifact.name.lower().endswith(TEMPLATE_SUFFIXES)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> None:
        where = artifact.name.rsplit("/", 1)[-1]
        # UTF-8 takes at most 4 bytes a character: beyond this the text is over the bound.
        if artifact.size > 4 * MAX_TEMPLATE_CHARS:
            ctx.add(
                rules.TEMPLATE_UNPARSED,
                Severity.HIGH,
                f"{where}: {artifact.size} bytes, longer than the scanner parses; unchecked",
                member=artifact.member,
                detail=where,
                limit=True,
            )
            return
        artifact.stream.seek(0)
        raw = artifact.stream.read()
        ctx.bytes_scanned += len(raw)
        check_template_bytes(raw, ctx, where=where, member=artifact.member)
