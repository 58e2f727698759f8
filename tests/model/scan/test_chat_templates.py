"""Chat templates (Jinja2): template injection found on the parsed AST, in every place a
template sits beside a model (GGUF metadata, ``tokenizer_config.json``, ``.jinja``/``.j2``).

The executing payloads below are rendered with a plain ``jinja2.Environment`` (what a custom
server or an old ``llama-cpp-python`` uses) and write a marker under ``tmp_path``: the class
is real, not a pattern that merely looks bad.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
import typer
from gguf_files import write_gguf
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from typer.testing import CliRunner

from mlward.cli.model_scan import scan
from mlward.core.findings import Severity
from mlward.model.scan import jinja_template, scan_file, scan_path
from mlward.model.scan import rules as R
from mlward.model.scan.interface import FileReport
from mlward.model.scan.jinja_template import analyse_template

BENIGN_DIR = Path(__file__).parent / "fixtures" / "chat_templates"
BENIGN = sorted(BENIGN_DIR.glob("*.jinja"))
MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
OPEN = "['open'](P, 'w').write('pwned')"  # P is replaced by the marker path

# Payloads that really run under jinja2.Environment().from_string(t).render(): one per way
# of reaching an attribute name, each ending in builtins' open(marker, 'w').
EXECUTING = {
    "dunder-chain-cycler": "{{ cycler.__init__.__globals__.__builtins__" + OPEN + " }}",
    "dunder-chain-joiner": "{{ joiner.__init__.__globals__['__builtins__']" + OPEN + " }}",
    "dunder-chain-lipsum": "{{ lipsum.__globals__.__builtins__" + OPEN + " }}",
    "computed-tilde": "{% set u = '_' * 2 %}{{ (cycler|attr(u ~ 'init' ~ u)|attr(u ~ "
    "'globals' ~ u))[u ~ 'builtins' ~ u]" + OPEN + " }}",
    "computed-tilde-item": "{% set u = '_' * 2 %}{{ lipsum[u ~ 'globals' ~ u]"
    "[u ~ 'builtins' ~ u]" + OPEN + " }}",
    "computed-percent": "{% set g = '%c%cglobals%c%c' % (95, 95, 95, 95) %}{{ (lipsum|attr(g))"
    "['%c%cbuiltins%c%c' % (95, 95, 95, 95)]" + OPEN + " }}",
    "computed-format-filter": "{{ lipsum[('%c%cglobals%c%c'|format(95, 95, 95, 95))]"
    "['%c%cbuiltins%c%c'|format(95, 95, 95, 95)]" + OPEN + " }}",
    "computed-format-method": "{% set u = '{:c}{:c}'.format(95, 95) %}"
    "{{ lipsum[u ~ 'globals' ~ u][u ~ 'builtins' ~ u]" + OPEN + " }}",
    "computed-join": "{% set g = ['_', '_', 'globals', '_', '_']|join %}{% set b = ['_', '_', "
    "'builtins', '_', '_']|join %}{{ (lipsum|attr(g))[b]" + OPEN + " }}",
    "computed-plus": "{% set u = '_' + '_' %}{{ lipsum[u + 'globals' + u][u + 'builtins' + u]" + OPEN + " }}",
    "computed-replace": "{{ lipsum['XXglobalsXX'|replace('X', '_')]"
    "['XXbuiltinsXX'|replace('X', '_')]" + OPEN + " }}",
    "underscore-from-dict-keyword": "{% set u = (dict(_=1)|list|first) * 2 %}"
    "{{ lipsum[u ~ 'globals' ~ u][u ~ 'builtins' ~ u]" + OPEN + " }}",
    "underscore-from-namespace-loop": "{% set ns = namespace(u='') %}{% for c in ['_', '_'] %}"
    "{% set ns.u = ns.u ~ c %}{% endfor %}"
    "{{ lipsum[ns.u ~ 'globals' ~ ns.u]"
    "[ns.u ~ 'builtins' ~ ns.u]" + OPEN + " }}",
    "underscore-via-macro-argument": "{% macro w(o, a, b) %}{{ o[a][b]" + OPEN + " }}{% endmacro %}"
    "{{ w(lipsum, '_' * 2 ~ 'globals' ~ '_' * 2, "
    "'_' * 2 ~ 'builtins' ~ '_' * 2) }}",
    "underscore-via-for-target": "{% for u in ['_' * 2] %}{{ lipsum[u ~ 'globals' ~ u]"
    "[u ~ 'builtins' ~ u]" + OPEN + " }}{% endfor %}",
    "escaped-underscores-attr": "{{ (lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f'))"
    "['\\u005f\\u005fbuiltins\\u005f\\u005f']" + OPEN + " }}",
    "reversed-name": "{{ lipsum['__slabolg__'|reverse]['__snitliub__'|reverse]" + OPEN + " }}",
    "map-attr-filter": "{{ ([lipsum]|map('attr', '__globals__')|first)['__builtins__']" + OPEN + " }}",
    "stepped-slice-of-constant": "{% set s = 'x_x_xgxlxoxbxaxlxsx_x_' %}"
    "{{ lipsum[s[1::2]]['x_x_xbxuxixlxtxixnxsx_x_'[1::2]]" + OPEN + " }}",
    "hidden-in-benign-loop": "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content']|trim }}"
    "{% if loop.last %}{% set x = cycler.__init__.__globals__"
    ".__builtins__" + OPEN + " %}{% endif %}{% endfor %}",
}
# Classes that do not run under a bare Environment (no loader, no Flask), flagged all the same.
STATIC_ONLY = {
    "subclasses-walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler-popen": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "request-attr-application": "{{ request|attr('application')|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
    "request-attr-only": "{{ request|attr('application') }}",
    "config-items": "{{ config.items() }}",
    "self-private-context": "{{ self._TemplateReference__context }}",
    "str-format-fields": "{{ '{0.__class__.__mro__}'.format(messages) }}",
    "str-format-computed": "{% set f = '{0.' ~ 'x}' %}{{ f.format(messages) }}",
    "attr-str-format": "{{ ('{0.a}'|attr('format'))(messages) }}",
    "selectattr-dunder": "{{ messages|selectattr('__class__')|list }}",
    "map-attribute-computed": "{{ messages|map(attribute='_' ~ '_class__')|list }}",
    "attr-computed-from-data": "{{ messages|attr(messages[0]['content']) }}",
    "attr-splat-args": "{{ messages|attr(*names) }}",
    "chars-of-object-repr": "{{ messages[(lipsum|string|list)[0]] }}",
    "generator-frame": "{{ (messages|map('trim')).gi_frame.f_globals }}",
    "builtins-name": "{{ __builtins__ }}",
    "helper-alias": "{% set c = config %}{{ c.items() }}",
    "include": "{% include 'secrets.txt' %}",
    "import": "{% import 'macros.j2' as m %}{{ m.x() }}",
    "from-import": "{% from 'macros.j2' import x %}",
    "extends": "{% extends 'base.j2' %}",
}
UNPARSABLE = {
    "unclosed-for": "{% for m in messages %}{{ m['content'] }}",
    "dangling-filter": "{{ messages | }}",
    "do-extension": "{% do messages.append(1) %}",
    "deep-nesting": "{{ " + "(" * 20000 + "1" + ")" * 20000 + " }}",
}
MALICIOUS = {**EXECUTING, **STATIC_ONLY}


def high(report: FileReport) -> set[str]:
    """Rule ids of HIGH and CRITICAL findings."""
    return {f.rule_id for f in report.findings if f.severity >= Severity.HIGH}


def template_rules(template: str) -> set[str]:
    """Rule ids ``analyse_template`` reports for ``template``."""
    return {i.rule_id for i in analyse_template(template)}


def write_tokenizer_config(path: Path, template: object) -> Path:
    """A ``tokenizer_config.json`` as transformers saves it, with ``template``."""
    path.write_text(
        json.dumps(
            {
                "bos_token": "<s>",
                "eos_token": "</s>",
                "model_max_length": 4096,
                "chat_template": template,
                "tokenizer_class": "PreTrainedTokenizerFast",
            },
            indent=2,
        )
    )
    return path


CONTAINERS = {
    "gguf": lambda d, t: write_gguf(d / "model.gguf", t),
    "gguf-named": lambda d, t: write_gguf(d / "model.gguf", t, "tokenizer.chat_template.tool_use"),
    "tokenizer_config": lambda d, t: write_tokenizer_config(d / "tokenizer_config.json", t),
    "tokenizer_config-list": lambda d, t: write_tokenizer_config(
        d / "tokenizer_config.json",
        [{"name": "default", "template": "{{ bos_token }}"}, {"name": "tool_use", "template": t}],
    ),
    "chat_template.jinja": lambda d, t: _write_text(d / "chat_template.jinja", t),
    "template.j2": lambda d, t: _write_text(d / "template.j2", t),
}


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _render(template: str, marker: Path) -> None:
    source = template.replace("(P,", f"({str(marker)!r},")
    jinja2.Environment().from_string(source).render(messages=MESSAGES)


@pytest.mark.parametrize("name", sorted(EXECUTING))
def test_executing_payload_really_runs_and_is_high(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _render(EXECUTING[name], marker)
    assert marker.read_text() == "pwned"
    issues = analyse_template(EXECUTING[name])
    assert issues and all(i.severity >= Severity.HIGH for i in issues)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dunder-chain-cycler", R.TEMPLATE_PRIVATE),
        ("computed-tilde", R.TEMPLATE_COMPUTED),
        ("computed-tilde-item", R.TEMPLATE_COMPUTED),
        ("computed-percent", R.TEMPLATE_COMPUTED),
        ("computed-format-filter", R.TEMPLATE_COMPUTED),
        ("computed-join", R.TEMPLATE_COMPUTED),
        ("computed-format-method", R.TEMPLATE_COMPUTED),
        ("computed-plus", R.TEMPLATE_COMPUTED),
        ("computed-replace", R.TEMPLATE_COMPUTED),
        ("stepped-slice-of-constant", R.TEMPLATE_COMPUTED),
        ("underscore-from-dict-keyword", R.TEMPLATE_COMPUTED),
        ("underscore-from-namespace-loop", R.TEMPLATE_COMPUTED),
        ("underscore-via-macro-argument", R.TEMPLATE_COMPUTED),
        ("underscore-via-for-target", R.TEMPLATE_COMPUTED),
        ("escaped-underscores-attr", R.TEMPLATE_PRIVATE),
        ("lipsum-globals", R.TEMPLATE_GLOBAL),
        ("request-attr-only", R.TEMPLATE_GLOBAL),
        ("config-items", R.TEMPLATE_GLOBAL),
        ("self-private-context", R.TEMPLATE_PRIVATE),
        ("str-format-fields", R.TEMPLATE_PRIVATE),
        ("str-format-computed", R.TEMPLATE_COMPUTED),
        ("attr-str-format", R.TEMPLATE_COMPUTED),
        ("selectattr-dunder", R.TEMPLATE_PRIVATE),
        ("map-attribute-computed", R.TEMPLATE_COMPUTED),
        ("attr-computed-from-data", R.TEMPLATE_COMPUTED),
        ("attr-splat-args", R.TEMPLATE_COMPUTED),
        ("chars-of-object-repr", R.TEMPLATE_COMPUTED),
        ("generator-frame", R.TEMPLATE_PRIVATE),
        ("builtins-name", R.TEMPLATE_PRIVATE),
        ("helper-alias", R.TEMPLATE_GLOBAL),
        ("include", R.TEMPLATE_LOAD),
        ("import", R.TEMPLATE_LOAD),
        ("from-import", R.TEMPLATE_LOAD),
        ("extends", R.TEMPLATE_LOAD),
    ],
)
def test_each_class_has_its_rule(name: str, expected: str) -> None:
    template = {**MALICIOUS, "lipsum-globals": "{{ lipsum.__globals__ }}"}[name]
    assert expected in template_rules(template)


def test_globals_chain_is_critical() -> None:
    issues = analyse_template(MALICIOUS["cycler-popen"])
    assert {i.severity for i in issues} >= {Severity.CRITICAL}
    assert any("__globals__" in i.message and i.line == 1 for i in issues)


@pytest.mark.parametrize("name", sorted(UNPARSABLE))
def test_unparsable_template_is_high(name: str) -> None:
    issues = analyse_template(UNPARSABLE[name])
    assert [(i.rule_id, i.severity) for i in issues] == [(R.TEMPLATE_UNPARSED, Severity.HIGH)]


def test_oversized_template_is_high(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jinja_template, "MAX_TEMPLATE_CHARS", 100)
    assert template_rules("{{ bos_token }}" * 20) == {R.TEMPLATE_UNPARSED}


@pytest.mark.parametrize("path", BENIGN, ids=[p.stem for p in BENIGN])
def test_benign_chat_templates_are_clean(path: Path, tmp_path: Path) -> None:
    template = path.read_text()
    assert analyse_template(template) == []
    for container, write in CONTAINERS.items():
        sub = tmp_path / container
        sub.mkdir()
        report = scan_file(write(sub, template))
        assert report.findings == (), (container, report.findings)


def test_benign_templates_render_under_transformers_syntax() -> None:
    # The fixtures are real programs: they render with the extensions transformers enables.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, jinja_template._GenerationTag]
    )
    env.globals["raise_exception"] = lambda message: pytest.fail(message)
    for path in BENIGN:
        out = env.from_string(path.read_text()).render(
            messages=MESSAGES, bos_token="<s>", eos_token="</s>", add_generation_prompt=True
        )
        assert "hello" in out, path.name


@pytest.mark.parametrize("container", sorted(CONTAINERS))
@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_malicious_template_is_high_in_every_container(name: str, container: str, tmp_path: Path) -> None:
    report = scan_file(CONTAINERS[container](tmp_path, MALICIOUS[name]))
    assert high(report) & {R.TEMPLATE_PRIVATE, R.TEMPLATE_COMPUTED, R.TEMPLATE_GLOBAL, R.TEMPLATE_LOAD}, (
        report.findings
    )
    assert report.verdict.value == "UNSAFE"


@pytest.mark.parametrize("container", ["gguf", "tokenizer_config", "chat_template.jinja"])
@pytest.mark.parametrize("name", sorted(UNPARSABLE))
def test_unparsable_template_is_high_in_every_container(name: str, container: str, tmp_path: Path) -> None:
    report = scan_file(CONTAINERS[container](tmp_path, UNPARSABLE[name]))
    assert R.TEMPLATE_UNPARSED in high(report)


def test_config_template_shapes(tmp_path: Path) -> None:
    none = scan_file(write_tokenizer_config(tmp_path / "tokenizer_config.json", None))
    assert none.findings == ()
    mapping = scan_file(
        write_tokenizer_config(tmp_path / "tokenizer_config.json", {"default": MALICIOUS["cycler-popen"]})
    )
    assert R.TEMPLATE_PRIVATE in high(mapping)
    assert "chat_template[default]" in mapping.findings[0].message
    odd = scan_file(write_tokenizer_config(tmp_path / "tokenizer_config.json", [{"name": "x"}]))
    assert R.TEMPLATE_UNPARSED in high(odd)
    extra = tmp_path / "extra" / "tokenizer_config.json"
    extra.parent.mkdir()
    extra.write_text(
        json.dumps(
            {
                "chat_template": "{{ bos_token }}",
                "chat_template_kwargs": {},
                "custom_chat_template": MALICIOUS["include"],
            }
        )
    )
    assert R.TEMPLATE_LOAD in high(scan_file(extra))
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": MALICIOUS["computed-join"]}))
    assert R.TEMPLATE_COMPUTED in high(scan_file(tmp_path / "chat_template.json"))


def test_template_file_that_is_not_utf8_is_high(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_bytes(b"{{ bos_token }}\xff\xfe")
    report = scan_file(tmp_path / "chat_template.jinja")
    assert R.TEMPLATE_UNPARSED in high(report) and report.format == "jinja"


def test_directory_scan_picks_up_template_files(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text(MALICIOUS["computed-tilde"])
    (tmp_path / "tool_use.j2").write_text(BENIGN[0].read_text())
    write_tokenizer_config(tmp_path / "tokenizer_config.json", MALICIOUS["include"])
    by_name = {Path(r.path).name: r for r in scan_path(tmp_path).files}
    assert by_name["chat_template.jinja"].format == "jinja"
    assert R.TEMPLATE_COMPUTED in high(by_name["chat_template.jinja"])
    assert by_name["tool_use.j2"].verdict.value == "SAFE"
    assert R.TEMPLATE_LOAD in high(by_name["tokenizer_config.json"])


def test_cli_fail_on_high_exits_one_on_a_template(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(scan)
    runner = CliRunner()
    clean = write_gguf(tmp_path / "clean.gguf", (BENIGN_DIR / "llama3.jinja").read_text())
    assert runner.invoke(app, [str(clean), "--fail-on", "high"]).exit_code == 0
    evil = tmp_path / "evil"
    evil.mkdir()
    write_tokenizer_config(evil / "tokenizer_config.json", EXECUTING["computed-join"])
    result = runner.invoke(app, [str(evil), "--fail-on", "high", "-f", "json"])
    assert result.exit_code == 1
    finding = json.loads(result.output)["files"][0]["findings"][0]
    assert finding["rule_id"] == R.TEMPLATE_COMPUTED
    assert finding["location"]["detail"] == "tokenizer_config.json chat_template"


_UNDERSCORES = [
    "'_'",
    "'%c' % 95",
    "'%c'|format(95)",
    "(dict(_=1)|list|first)",
    "'X'|replace('X', '_')",
    "['_']|join",
    "'{:c}'.format(95)",
    "'\\x5f'",
    "('a_b'|list)[1]",
]
_JOINS = [" ~ ", " + "]


@st.composite
def built_dunder(draw: st.DrawFn) -> str:
    """A Jinja expression that builds ``__globals__`` without writing it out."""
    under = [draw(st.sampled_from(_UNDERSCORES)) for _ in range(4)]
    cut = draw(st.integers(1, 6))
    middle = [f"'{'globals'[:cut]}'", f"'{'globals'[cut:]}'"]
    parts = [f"({p})" for p in [*under[:2], *middle, *under[2:]]]
    if draw(st.booleans()):
        return "[" + ", ".join(parts) + "]|join"
    return "(" + draw(st.sampled_from(_JOINS)).join(parts) + ")"


@settings(max_examples=80, deadline=None)
@given(built_dunder(), st.booleans(), st.booleans())
def test_any_built_name_is_flagged(expr: str, via_set: bool, via_attr: bool) -> None:
    # Differential: Jinja really builds the dunder, and the lookup by it is HIGH.
    assert jinja2.Environment().from_string("{{ " + expr + " }}").render() == "__globals__"
    name = "g" if via_set else expr
    lookup = f"(lipsum|attr({name}))" if via_attr else f"lipsum[{name}]"
    template = ("{% set g = " + expr + " %}" if via_set else "") + "{{ " + lookup + " }}"
    assert "__builtins__" in jinja2.Environment().from_string(template).render()
    assert R.TEMPLATE_COMPUTED in template_rules(template)
