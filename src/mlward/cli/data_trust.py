"""``mlward data profile | drift | outliers fit | outliers score`` and ``mlward model fairness``.

The command functions parse arguments, build an engine, call ``mlward.data.profile``,
``.drift``, ``.outliers`` or ``.fairness``, and print the result (table, JSON or a
self-contained HTML report). Long runs show a progress bar on stderr. Exit codes: 0 ok,
1 drift detected / outliers found with ``--fail-on-outliers`` / fairness gate failed,
2 usage, 3 could not read or compute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import DelimiterOpt, EncodingOpt, data_source, format_option
from mlward.cli.output import OutputFormat, console, emit_json, emit_text
from mlward.cli.progress import step_progress
from mlward.core.errors import EXIT_FINDINGS, ConfigError, InputError
from mlward.data.drift import ColumnRule, DriftDetector, DriftReport
from mlward.data.fairness import FairnessReport, FairnessThresholds, data_fairness, model_fairness
from mlward.data.io import open_dataset
from mlward.data.outliers import OutlierDetector, scan_dataset
from mlward.data.profile import DatasetProfile, profile_dataset
from mlward.engine.base import Engine
from mlward.engine.dask import make_engine
from mlward.report.html import render_html, write_html

FORMATS = ("table", "json", "html")
EngineOpt = Annotated[str, typer.Option("--engine", help="Engine: local or dask.")]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address (default: a local cluster).")
]
FormatOpt = Annotated[OutputFormat | None, format_option(FORMATS)]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the result here instead of stdout.")
]


@contextmanager
def _engine(name: str, scheduler: str | None) -> Iterator[Engine]:
    engine = make_engine(name, scheduler=scheduler)
    try:
        yield engine
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def load_reference(path: str) -> Any:
    """A stored ``DatasetProfile`` (JSON written by ``mlward data profile``) or a data path."""
    candidate = Path(path)
    if candidate.is_file():
        with candidate.open("rb") as handle:
            head = handle.read(64)
        if head.startswith(b'{"schema_version":') and b'"mlward.profile"' in head:
            return DatasetProfile.from_json(candidate.read_bytes())
    return path


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        emit_text(text)
    elif output.suffix.lower() in (".html", ".htm"):
        write_html(output, text)
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def _emit_json(doc: dict[str, Any], output: Path | None) -> None:
    if output is None:
        emit_json(doc)
    else:
        _emit(json.dumps(doc, indent=2), output)


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{option} expects NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def build_detector(
    tests: list[str] | None,
    thresholds: list[str] | None,
    share_threshold: float,
    multivariate: bool,
    engine: Engine | None,
) -> DriftDetector:
    """Turn ``--test`` and ``--threshold`` options into a ``DriftDetector``.

    ``--test numeric=psi`` sets a kind's test, ``--test age=ks`` a column's;
    ``--threshold psi=0.2`` sets a test's threshold, ``--threshold age=0.01`` a column's.
    """
    from mlward.data.drift import TESTS

    kinds, per_column, by_test = {}, {}, {}
    for key, value in _pairs(tests, "--test").items():
        if key in ("numeric", "categorical"):
            kinds[key] = value
        else:
            per_column[key] = ColumnRule(test=value)
    for key, value in _pairs(thresholds, "--threshold").items():
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"--threshold {key}: {value!r} is not a number") from None
        if key in TESTS:
            by_test[key] = number
        else:
            rule = per_column.get(key, ColumnRule())
            per_column[key] = ColumnRule(rule.test, number)
    return DriftDetector(
        kinds, by_test, per_column, share_threshold=share_threshold, multivariate=multivariate, engine=engine
    )


def drift_table(report: DriftReport) -> Table:
    """A Rich table of per-column verdicts."""
    table = Table(title="data drift", show_lines=False)
    for name in ("column", "type", "test", "statistic", "p-value", "threshold", "drift", "what changed"):
        table.add_column(name, justify="right" if name in ("statistic", "p-value", "threshold") else "left")
    for c in report.columns_by_verdict():
        table.add_row(
            c.column,
            c.kind,
            c.test + (" ≈" if c.approximate else ""),
            f"{c.statistic:.4g}",
            "–" if c.p_value is None else f"{c.p_value:.3g}",
            f"{c.threshold:g}",
            "[bold red]yes[/]" if c.drifted else "no",
            escape(c.summary),
        )
    return table


def drift(
    reference: Annotated[
        str, typer.Argument(help="Reference data (file or directory) or a stored profile JSON.")
    ],
    current: Annotated[str, typer.Argument(help="Current data (file or directory) or a profile JSON.")],
    format: FormatOpt = None,
    output: OutputOpt = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    test: Annotated[
        list[str] | None, typer.Option("--test", help="KIND=TEST or COLUMN=TEST (repeatable).")
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option("--threshold", help="TEST=VALUE or COLUMN=VALUE (repeatable).")
    ] = None,
    share_threshold: Annotated[
        float, typer.Option("--share-threshold", help="Dataset drifts when this share of columns drift.")
    ] = 0.5,
    multivariate: Annotated[
        bool,
        typer.Option(
            "--multivariate/--no-multivariate",
            help="Domain-classifier test of the joint distribution (needs raw rows).",
        ),
    ] = True,
    fail_on_drift: Annotated[bool, typer.Option("--fail-on-drift/--no-fail-on-drift")] = True,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Compare current data with a reference; exit 1 when the dataset drifted."""
    chosen = resolve_format(format, FORMATS)
    with _engine(engine, scheduler) as runner:
        detector = build_detector(test, threshold, share_threshold, multivariate, runner)
        with step_progress("profiling reference", chosen) as tick:
            detector.fit(data_source(load_reference(reference), delimiter, encoding), progress=tick)
        with step_progress("profiling current", chosen) as tick:
            compared = data_source(load_reference(current), delimiter, encoding)
            report = detector.compare(compared, progress=tick)
    if chosen is OutputFormat.json:
        _emit_json(report.to_dict(), output)
    elif chosen is OutputFormat.html:
        _emit(render_html(drift=report, title="mlward drift report"), output)
    else:
        console.print(drift_table(report))
        verdict = "[bold red]drift detected[/]" if report.drifted else "[green]no drift[/]"
        console.print(
            f"{len(report.drifted_columns)}/{len(report.columns)} columns drifted "
            f"(share {report.drift_share:.2f}, threshold {report.share_threshold}): {verdict}"
        )
    if fail_on_drift and report.drifted:
        raise typer.Exit(EXIT_FINDINGS)


def profile(
    data: Annotated[str, typer.Argument(help="Data file or partitioned directory.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the profile JSON.")],
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Profile a dataset (mergeable sketches) and write it as JSON, e.g. as a drift reference."""
    with _engine(engine, scheduler) as runner, step_progress("profiling", STATE.format) as tick:
        result = profile_dataset(data_source(data, delimiter, encoding), runner, progress=tick)
    output.write_text(result.to_json(), encoding="utf-8")
    table = Table(title=f"profile of {data} ({result.rows} rows)")
    for name in ("column", "type", "nulls", "distinct", "mean", "std"):
        table.add_column(name)
    for col in result.columns.values():
        numeric = col.kind == "numeric"
        table.add_row(
            col.name,
            col.dtype,
            str(col.nulls),
            f"{col.distinct:,.0f}",
            f"{col.mean:.4g}" if numeric else "",
            f"{col.std:.4g}" if numeric else "",
        )
    console.print(table)


def outliers_fit(
    reference: Annotated[str, typer.Argument(help="Reference data (file or directory).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model (.safetensors).")],
    target_fpr: Annotated[
        float, typer.Option("--target-fpr", help="False-positive rate on the reference.")
    ] = 0.01,
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Columns to use (default: all).")
    ] = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Fit an outlier detector on reference data and save it (no pickle); prints its digest."""
    with _engine(engine, scheduler) as runner, step_progress("sampling reference rows", STATE.format) as tick:
        source = data_source(reference, delimiter, encoding)
        detector = OutlierDetector(target_fpr, columns=column).fit(source, runner, progress=tick)
    digest = detector.save(output)
    console.print(
        f"wrote {output} (sha256 {digest}); threshold {detector.threshold_:.4f}, "
        f"{len(detector.column_names_)} columns"
    )


def outliers_score(
    model: Annotated[Path, typer.Argument(help="Model written by 'outliers fit'.")],
    data: Annotated[str, typer.Argument(help="Data to score (file or directory).")],
    format: FormatOpt = None,
    output: OutputOpt = None,
    top: Annotated[int, typer.Option("--top", help="Show the N most anomalous rows.")] = 10,
    digest: Annotated[str | None, typer.Option("--digest", help="Expected sha256 of the model.")] = None,
    fail_on_outliers: Annotated[
        bool, typer.Option("--fail-on-outliers", help="Exit 1 if any row is flagged.")
    ] = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Score rows with a saved outlier detector and explain the most anomalous ones."""
    chosen = resolve_format(format, FORMATS)
    detector = OutlierDetector.load(model, expected_digest=digest)
    with _engine(engine, scheduler) as runner, step_progress("scoring", chosen) as tick:
        scan = scan_dataset(detector, data_source(data, delimiter, encoding), runner, top=top, progress=tick)
    flagged = scan.flagged
    if chosen is OutputFormat.json:
        _emit_json(scan.to_dict(), output)
    elif chosen is OutputFormat.html:
        _emit(render_html(outliers=scan, title="mlward outlier report"), output)
    else:
        view = Table(title=f"{flagged} of {scan.rows} rows flagged")
        for name in ("score", "outlier", "why"):
            view.add_column(name)
        for row in scan.top:
            why = ", ".join(f"{c} (z={z:.1f})" for c, z in row["features"])
            view.add_row(f"{row['score']:.4f}", "yes" if row["outlier"] else "no", why)
        console.print(view)
    if fail_on_outliers and flagged:
        raise typer.Exit(EXIT_FINDINGS)


def fairness(
    data: Annotated[str, typer.Argument(help="Data file or directory with the sensitive columns.")],
    sensitive: Annotated[list[str], typer.Option("--sensitive", "-s", help="Sensitive column (repeatable).")],
    label: Annotated[str | None, typer.Option("--label", help="Ground-truth label column.")] = None,
    prediction: Annotated[
        str | None, typer.Option("--prediction", help="Prediction column: assess the model, not the data.")
    ] = None,
    positive_label: Annotated[
        str | None, typer.Option("--positive-label", help="Value counted as positive.")
    ] = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    min_disparate_impact: Annotated[float | None, typer.Option("--min-disparate-impact")] = 0.8,
    max_demographic_parity_difference: Annotated[float | None, typer.Option("--max-dp-difference")] = 0.1,
    max_equalized_odds_difference: Annotated[float | None, typer.Option("--max-eo-difference")] = 0.1,
    min_group_share: Annotated[float | None, typer.Option("--min-group-share")] = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Check fairness of data (label rates) or of a model's predictions; exit 1 if a limit fails."""
    chosen = resolve_format(format, FORMATS)
    limits = FairnessThresholds(
        min_disparate_impact,
        max_demographic_parity_difference,
        max_equalized_odds_difference,
        min_group_share,
    )
    if prediction is None:
        with _engine(engine, scheduler) as runner:
            source = data_source(data, delimiter, encoding)
            report = data_fairness(
                source, sensitive, label, positive_label=_typed(positive_label), engine=runner
            )
    else:
        if label is None:
            raise ConfigError("--prediction needs --label (the ground truth)")
        table = open_dataset(data, delimiter=delimiter, encoding=encoding).read()
        missing = [c for c in [*sensitive, label, prediction] if c not in table.column_names]
        if missing:
            raise InputError(f"columns not found in {data}: {', '.join(missing)}")
        positive = _typed(positive_label)
        report = model_fairness(
            table.column(label).to_numpy(),
            table.column(prediction).to_numpy(),
            {s: table.column(s).to_pylist() for s in sensitive},
            positive_label=1 if positive is None else positive,
        )
    _print_fairness(report, limits, chosen, output)
    if report.violations(limits):
        raise typer.Exit(EXIT_FINDINGS)


def _typed(value: str | None) -> Any:
    """Read ``--positive-label 1`` as the number 1, ``yes`` as the string."""
    if value is None:
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return {"true": True, "false": False}.get(value.lower(), value)


def _print_fairness(
    report: FairnessReport, limits: FairnessThresholds, chosen: OutputFormat, output: Path | None
) -> None:
    if chosen is OutputFormat.json:
        doc = report.to_dict(limits)
        _emit_json(doc, output)
        return
    if chosen is OutputFormat.html:
        _emit(
            render_html(fairness=report, fairness_thresholds=limits, title="mlward fairness report"), output
        )
        return
    for a in report.attributes:
        table = Table(
            title=f"{a.attribute}: disparate impact {a.disparate_impact:.3f}, "
            f"parity difference {a.demographic_parity_difference:.3f}"
        )
        for name in ("group", "rows", "share", "positive rate"):
            table.add_column(name)
        for g in a.groups:
            rate = "–" if g.positive_rate is None else f"{g.positive_rate:.3f}"
            table.add_row(g.group, str(g.count), f"{g.share:.3f}", rate)
        console.print(table)
    for message in report.violations(limits):
        console.print(f"[bold red]fail[/] {message}")
