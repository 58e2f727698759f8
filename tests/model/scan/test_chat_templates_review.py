"""Review of the chat-template analysis: payloads that ran under a plain
``jinja2.Environment`` yet scanned with no finding at all (each now HIGH), and realistic
benign templates that must stay clean under the stricter taint.

Classes found: a ``namespace`` attribute read as ``ns['attr']`` (its taint was only kept
for ``ns.attr``); constants stored into the caller's messages (``.update`` / ``.append``,
which plain Jinja2 allows) and read back as data; strings cut out of constants
(``'a_'|last``, ``'a_'[1]``, ``'a_b'.split``, ``for c in 'x_'``, ``none|default('a_')``,
``set a, b = 'x_'``, a dict, cycler or macro default holding ``'a_'``) glued with ``+`` /
``*`` of non-constant operands, which the taint let through; internal names without an
underscore prefix (``gi_frame``, ``f_globals``) reaching a lookup through a variable; and
lookups by the model's own special tokens (``x[bos_token]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from gguf_files import write_gguf
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from mlward.core.findings import Severity
from mlward.model.scan import rules as R
from mlward.model.scan import scan_file
from mlward.model.scan.jinja_template import analyse_template

MESSAGES = [{"role": "user", "content": "hi"}]
OPEN = "['open'](P, 'w').write('pwned')"  # P is replaced by the marker path
LIPSUM = "((lipsum,)|first)"  # the helper global reached through a tuple, not by name
TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


def _dunders(u: str, g: str = "('globals'|trim)", b: str = "('builtins'|trim)") -> str:
    return f"{LIPSUM}[{u}*2+{g}+{u}*2][{u}*2+{b}+{u}*2]" + OPEN


EXECUTING = {
    "plus-of-filtered-constants": "{% set u = 'a_'|last %}{% set g = u+u+('globals'|lower)+u+u %}"
    "{% set b = u+u+('builtins'|lower)+u+u %}"
    "{{ " + LIPSUM + "[g][b]" + OPEN + " }}",
    "index-of-constant": "{% set u = 'a_'[1] %}{{ " + _dunders("u") + " }}",
    "times-of-filtered-constant": "{% set u = ('a_'|last) %}{{ " + _dunders("u") + " }}",
    "for-over-string-constant": "{% for c in 'x_' %}{% if loop.last %}{{ "
    + _dunders("c")
    + " }}{% endif %}{% endfor %}",
    "dict-literal-value-indexed": "{% set t = {'k': 'a_'} %}{% set u = t.k[1] %}{{ " + _dunders("u") + " }}",
    "split-method-of-constant": "{% set p = 'a_b'.split('a') %}{% set u = p[1][0] %}{{ "
    + _dunders("u", "'globals'.strip()", "'builtins'.strip()")
    + " }}",
    "macro-default-indexed": "{% macro m(s='a_') %}{% set u = s[1] %}{{ "
    + _dunders("u")
    + " }}{% endmacro %}{{ m() }}",
    "default-filter-argument": "{% set u = (nothing|default('a_'))[1] %}{{ " + _dunders("u") + " }}",
    "generator-frame-through-variables": "{% set g = 'gi_frame' %}{% set f = 'f_globals' %}"
    "{{ (messages|map('trim'))[g][f]['t']['sys']"
    "['modules']['builtins']" + OPEN + " }}",
    "namespace-attribute-read-by-item": "{% set ns = namespace(g=0, b=0) %}"
    "{% set ns.g = '_'*2 ~ 'globals' ~ '_'*2 %}"
    "{% set ns.b = '_'*2 ~ 'builtins' ~ '_'*2 %}"
    "{{ " + LIPSUM + "[ns['g']][ns['b']]" + OPEN + " }}",
    "constants-stored-into-messages": "{% set x = messages[0].update({'g': 'a_', 'h': 'globals', "
    "'b': 'builtins'}) %}{% set m = messages[0] %}"
    "{% set u = m['g'][1] %}{{ " + _dunders("u", "m.h", "m.b") + " }}",
    "constants-appended-to-messages": "{% set x = messages.append('a_') %}"
    "{% set u = messages[-1][1] %}{% set x = messages.append("
    "'globals') %}{% set x = messages.append('builtins') %}"
    "{{ " + _dunders("u", "messages[-2]", "messages[-1]") + " }}",
    "tuple-unpacking-of-constant": "{% set a, b = 'x_' %}{{ " + _dunders("b") + " }}",
    "cycler-of-constant": "{% set u = cycler('a_').current[1] %}{{ " + _dunders("u") + " }}",
}
# A helper global wrapped in a container and taken back out hid it from MW-TEMPLATE-003.
HELPER_WRAPPED = {
    "request-through-tuple": "{{ ((request,)|first)|attr('application') }}",
    "config-alias-through-list": "{% set c = [config]|first %}{{ c.items() }}",
}
# Payloads whose names come from the model's own special tokens (tokenizer_config.json, the
# GGUF vocabulary): the serving stack hands them to the template as bos_token/eos_token.
TOKEN_DRIVEN = {
    "lookup-by-special-tokens": (
        "{{ " + LIPSUM + "[bos_token][eos_token]" + OPEN + " }}",
        {"bos_token": "__globals__", "eos_token": "__builtins__"},
    ),
}
BENIGN = {
    "role-table": "{% set roles = {'user': 'USER', 'assistant': 'ASSISTANT'} %}"
    "{% for m in messages %}{{ roles[m['role']] }}: {{ m['content'] }}\n"
    "{% endfor %}",
    "key-list-variable": "{% set keys = ['content', 'reasoning_content'] %}"
    "{% for m in messages %}{% for k in keys %}"
    "{% if m[k] is defined %}{{ m[k] }}{% endif %}{% endfor %}{% endfor %}",
    "dict-literal-keys": "{% set labels = {'content': 'Text', 'reasoning_content': 'Thoughts'} %}"
    "{% for m in messages %}{% for k in labels %}{{ labels[k] }}: "
    "{{ m[k] if m[k] is defined }}{% endfor %}{% endfor %}",
    "namespace-index": "{% set ns = namespace(idx=0, prefix='') %}{% for m in messages %}"
    "{% set ns.idx = loop.index0 %}{% if ns.idx > 0 %}"
    "{{ messages[ns.idx - 1]['role'] }}{% endif %}{% endfor %}",
    "offset-variable": "{% set off = 1 %}{% for m in messages %}"
    "{{ messages[loop.index0 + off]['content'] if not loop.last }}"
    "{% endfor %}",
    "qwen3-thinking-split": "{% for message in messages %}{% set content = message.content"
    ".split('</think>')[-1].lstrip('\\n') %}{{ content }}{% endfor %}",
    "type-map": "{% set type_map = {'string': 'string', 'integer': 'number'} %}"
    "{% for t in tools or [] %}{% for name, p in t.function.parameters.properties"
    ".items() %}{{ name }}: {{ type_map[p.type]|default('any') }}{% endfor %}"
    "{% endfor %}",
    "tokens-in-output": "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + "
    "m['content']|trim + eos_token }}{% endfor %}",
    "collects-parts": "{% set ns = namespace(parts=[]) %}{% for m in messages %}"
    "{% set ns.parts = ns.parts + [m['content']] %}{% endfor %}"
    "{{ ns.parts|join('\n') }}{{ messages[ns.parts|length - 1]['role'] }}",
    "macro-with-default-tag": "{% macro fmt(m, tag='user') %}<{{ tag }}>{{ m['content'] }}"
    "</{{ tag }}>{% endmacro %}{% for m in messages %}"
    "{{ fmt(m, m['role']) }}{% endfor %}",
}


def _render(template: str, marker: Path, **values: object) -> None:
    source = template.replace("(P,", f"({str(marker)!r},")
    messages = [dict(m) for m in MESSAGES]  # some payloads write into them
    jinja2.Environment().from_string(source).render(messages=messages, add_generation_prompt=True, **values)


def _containers(tmp_path: Path, template: str, tokens: dict[str, str]) -> list[Path]:
    (tmp_path / "chat_template.jinja").write_text(template, encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({**tokens, "chat_template": template, "tokenizer_class": "PreTrainedTokenizerFast"})
    )
    return [
        tmp_path / "chat_template.jinja",
        tmp_path / "tokenizer_config.json",
        write_gguf(tmp_path / "model.gguf", template),
    ]


@pytest.mark.parametrize("name", sorted(EXECUTING) + sorted(TOKEN_DRIVEN))
def test_review_payload_runs_unsandboxed_and_is_high(name: str, tmp_path: Path) -> None:
    template, tokens = TOKEN_DRIVEN.get(name, (EXECUTING.get(name), TOKENS))
    marker = tmp_path / "pwned"
    _render(template, marker, **tokens)
    assert marker.read_text() == "pwned"
    with pytest.raises(SecurityError):  # transformers' sandbox stops every one of them
        ImmutableSandboxedEnvironment().from_string(template).render(
            messages=[dict(m) for m in MESSAGES], **tokens
        )
    issues = analyse_template(template)
    assert {R.TEMPLATE_PRIVATE, R.TEMPLATE_COMPUTED} & {i.rule_id for i in issues}
    assert all(i.severity >= Severity.HIGH for i in issues)
    for path in _containers(tmp_path, template, tokens):
        report = scan_file(path)
        assert report.verdict.value == "UNSAFE", (path.name, report.findings)


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_review_benign_template_is_clean(name: str) -> None:
    jinja2.Environment().from_string(BENIGN[name]).render(messages=MESSAGES, tools=[], **TOKENS)
    assert analyse_template(BENIGN[name]) == []


@pytest.mark.parametrize("name", sorted(HELPER_WRAPPED))
def test_review_helper_global_taken_out_of_a_container_is_high(name: str) -> None:
    assert R.TEMPLATE_GLOBAL in {i.rule_id for i in analyse_template(HELPER_WRAPPED[name])}


def test_review_calling_a_helper_is_not_looking_inside_it() -> None:
    template = (
        "{% for i in range(3) %}{{ i }}{% endfor %}{% set ns = namespace(a=1) %}"
        "{{ ns.a }}{{ namespace(a=1).a }}{{ cycler('x', 'y').next() }}"
    )
    assert analyse_template(template) == []
