"""``mlward data add|ls|show|diff|checkout|search|tag``: the dataset catalogue.

Command functions only; ``cli/main.py`` registers them under ``mlward data``. Names,
descriptions and column names come from users and data files, so they are escaped
before Rich renders them (a column called ``[red]`` must not restyle the output).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlward.cli.context import STATE, resolve_format
from mlward.cli.options import DelimiterOpt, EncodingOpt, data_source, format_option
from mlward.cli.output import OutputFormat, console, emit_json
from mlward.cli.progress import step_progress

if TYPE_CHECKING:
    from mlward.data.catalog import ColumnSummary, DatasetDiff, DatasetVersion

FormatOption = Annotated[OutputFormat | None, format_option()]
_LABEL_STYLE = {"restricted": "bold red", "confidential": "red", "internal": "yellow", "public": "green"}


def _label(label: str) -> str:
    style = _LABEL_STYLE.get(label)
    return f"[{style}]{escape(label)}[/]" if style else escape(label)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop always returns


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _versions_table(title: str, versions: list[DatasetVersion], reasons: list[str] | None = None) -> Table:
    table = Table(title=title)
    for column in ("dataset", "rows", "size", "label", "tags", "digest", "added", "by"):
        table.add_column(column, overflow="fold")
    if reasons is not None:
        table.add_column("matched", overflow="fold")
    for index, v in enumerate(versions):
        cells = [
            escape(v.ref) + (" [dim](encrypted)[/]" if v.encrypted else ""),
            f"{v.rows:,}",
            _size(v.size),
            _label(v.sensitivity),
            escape(", ".join(v.tags)) or "-",
            v.digest[:12],
            f"{v.created:%Y-%m-%d %H:%M}",
            escape(v.created_by),
        ]
        if reasons is not None:
            cells.append(escape(reasons[index]))
        table.add_row(*cells)
    return table


def add(
    path: Annotated[
        Path, typer.Argument(help="CSV, Parquet or JSON Lines file, or a partitioned directory.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name (lowercase, digits, . _ -).")],
    owner: Annotated[
        str | None, typer.Option(help="Who answers for the data (default: previous owner).")
    ] = None,
    tag: Annotated[list[str], typer.Option("--tag", "-t", help="Tag for this version, repeatable.")] = [],  # noqa: B006
    description: Annotated[
        str | None, typer.Option(help="Free text (default: previous description).")
    ] = None,
    produced_by: Annotated[
        str | None, typer.Option("--produced-by", help="Id of the run that produced the data (lineage).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="local or dask (default: data.engine in mlward.yaml).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (dask engine).")] = None,
    format: FormatOption = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Version a dataset: content-addressed files, schema, profile, PII labels, lineage."""
    from mlward.data.catalog import add_dataset
    from mlward.engine.dask import make_engine

    workspace = STATE.workspace()
    runner = None
    if engine or scheduler:
        settings = workspace.config.data
        runner = make_engine(engine or settings.engine, scheduler=scheduler or settings.scheduler)
    try:
        with step_progress(f"versioning {name}", resolve_format(format)) as tick:
            version = add_dataset(
                workspace,
                data_source(path, delimiter, encoding),
                name,
                owner=owner,
                tags=tag,
                description=description,
                producing_run=produced_by,
                engine=runner,
                progress=tick,
            )
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    if resolve_format(format) is OutputFormat.json:
        emit_json({**version.to_dict(), "ref": version.ref})
        return
    if version.unchanged:
        console.print(
            f"unchanged: {escape(version.ref)} already holds this content (sha256:{version.digest[:12]}); "
            "nothing added"
        )
        return
    console.print(
        f"added [bold]{escape(version.ref)}[/]: {version.rows:,} rows, {len(version.files)} file(s), "
        f"{_size(version.size)}, label {_label(version.sensitivity)}"
        + (", stored encrypted" if version.encrypted else "")
        + f", {version.new_blobs} new blob(s), sha256:{version.digest[:12]}"
    )


def ls(
    name: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    all_versions: Annotated[
        bool, typer.Option("--all", "-a", help="Every version, not just the latest.")
    ] = False,
    format: FormatOption = None,
) -> None:
    """List datasets (latest version of each, or every version with --all)."""
    from mlward.cli.workspace import read_only_workspace
    from mlward.data.catalog import list_datasets

    versions = list_datasets(read_only_workspace(), name, all_versions=all_versions or name is not None)
    if resolve_format(format) is OutputFormat.json:
        emit_json([v.to_dict() for v in versions])
        return
    console.print(_versions_table("datasets", versions))


def _column_stats(column: ColumnSummary) -> str:
    if column.entities:
        return "[dim]values withheld (PII)[/]"
    if column.mean is not None:
        return (
            f"min {_number(column.minimum)} · mean {_number(column.mean)} · "
            f"median {_number(column.median)} · max {_number(column.maximum)}"
        )
    if column.top:
        return escape(", ".join(f"{k} ({v})" for k, v in column.top))
    return "-"


def show(
    dataset: Annotated[str, typer.Argument(help="NAME[@VERSION|@TAG].")],
    format: FormatOption = None,
) -> None:
    """Show a version: digest, schema, profile summary, PII per column, lineage."""
    from mlward.data.catalog import describe_dataset

    details = describe_dataset(STATE.workspace(), dataset)
    if resolve_format(format) is OutputFormat.json:
        emit_json(details.to_dict())
        return
    v = details.version
    info = Table(title=escape(v.ref), show_header=False, title_justify="left")
    info.add_column("what", style="bold")
    info.add_column("value", overflow="fold")
    for key, value in (
        ("digest", f"sha256:{v.digest}"),
        ("layout / format", f"{v.layout} / {v.format}, {len(v.files)} file(s), {_size(v.size)}"),
        ("rows", f"{v.rows:,}"),
        ("sensitivity", _label(v.sensitivity) + (" (stored encrypted)" if v.encrypted else "")),
        ("owner", escape(v.owner) or "-"),
        ("description", escape(v.description) or "-"),
        ("tags", escape(", ".join(v.tags)) or "-"),
        ("added", f"{v.created:%Y-%m-%d %H:%M} by {escape(v.created_by)} from {escape(v.source)}"),
        ("lineage run", f"{v.lineage_run} ({escape(v.produced_by or '-')})"),
        ("upstream", escape(", ".join(details.upstream)) or "-"),
        ("downstream", escape(", ".join(details.downstream)) or "-"),
    ):
        info.add_row(key, value)
    console.print(info)
    columns = Table(title="columns")
    for heading in ("column", "type", "nulls", "distinct", "PII", "label", "profile"):
        columns.add_column(heading, overflow="fold")
    for column in details.columns:
        columns.add_row(
            escape(column.name),
            escape(column.type),
            f"{column.null_share:.1%}",
            f"{column.distinct:,}",
            ", ".join(column.entities) or "-",
            _label(column.sensitivity),
            _column_stats(column),
        )
    console.print(columns)


def _print_diff(result: DatasetDiff, every: bool) -> None:
    a, b = escape(result.a), escape(result.b)
    if result.identical:
        console.print(f"{a} and {b} are identical (same content digest)")
    console.print(f"rows: {result.rows[0]:,} → {result.rows[1]:,}  ({result.rows[1] - result.rows[0]:+,})")
    if result.sensitivity[0] != result.sensitivity[1]:
        console.print(f"sensitivity: {_label(result.sensitivity[0])} → {_label(result.sensitivity[1])}")
    for label, items in (("added", result.added), ("removed", result.removed)):
        for name, dtype in items:
            console.print(f"column {label}: {escape(name)} ({escape(dtype)})")
    for name, old, new in result.retyped:
        console.print(f"column retyped: {escape(name)} {escape(old)} → {escape(new)}")
    for label, paths in (
        ("added", result.files_added),
        ("removed", result.files_removed),
        ("changed", result.files_changed),
    ):
        if paths:
            console.print(f"files {label}: {escape(', '.join(paths))}")
    shown = result.columns if every else result.changed_columns
    if not shown:
        console.print("no column profile or PII changes beyond the thresholds")
        return
    table = Table(title=f"column changes {a} → {b}")
    for heading in ("column", "nulls", "mean", "shift (sd)", "categories", "PII"):
        table.add_column(heading, overflow="fold")
    for c in shown:
        cats = [f"+{x}" for x in c.new_categories] + [f"-{x}" for x in c.missing_categories]
        pii = (
            f"{','.join(c.entities[0]) or '-'} → {','.join(c.entities[1]) or '-'}"
            if c.entities[0] != c.entities[1] or c.sensitivity[0] != c.sensitivity[1]
            else ",".join(c.entities[0]) or "-"
        )
        table.add_row(
            escape(c.name),
            f"{c.null_share[0]:.1%} → {c.null_share[1]:.1%}",
            f"{_number(c.mean[0])} → {_number(c.mean[1])}" if c.mean else "-",
            f"{c.shift:.2f}" if c.mean else "-",
            escape(" ".join(cats)) or "-",
            pii,
            style=None if c.changed else "dim",
        )
    console.print(table)


def diff(
    a: Annotated[str, typer.Argument(help="First version, NAME[@VERSION|@TAG].")],
    b: Annotated[str, typer.Argument(help="Second version, NAME[@VERSION|@TAG].")],
    every: Annotated[bool, typer.Option("--all", help="List unchanged columns too.")] = False,
    format: FormatOption = None,
) -> None:
    """Compare two versions: schema, row count, nulls, distributions, categories, PII labels."""
    from mlward.data.catalog import diff_datasets

    result = diff_datasets(STATE.workspace(), a, b)
    if resolve_format(format) is OutputFormat.json:
        emit_json(result.to_dict())
        return
    _print_diff(result, every)


def checkout(
    dataset: Annotated[str, typer.Argument(help="NAME[@VERSION|@TAG].")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File or (new or empty) directory to write.")
    ],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file (single-file datasets).")] = False,
    format: FormatOption = None,
) -> None:
    """Write a version back to disk, byte-identical; every file's digest is verified."""
    from mlward.data.catalog import checkout_dataset

    result = checkout_dataset(STATE.workspace(), dataset, output, force=force)
    if resolve_format(format) is OutputFormat.json:
        emit_json(
            {
                "ref": result.version.ref,
                "path": str(result.path),
                "files": result.files,
                "bytes": result.bytes,
            }
        )
        return
    console.print(
        f"checked out {escape(result.version.ref)} to {escape(str(result.path))}: "
        f"{result.files} file(s), {_size(result.bytes)}, every digest verified"
    )


def search(
    text: Annotated[str | None, typer.Argument(help="Free text: names, descriptions, tags, columns.")] = None,
    label: Annotated[
        str | None, typer.Option(help="Entity type (EMAIL, US_SSN...) or sensitivity (at least that label).")
    ] = None,
    column: Annotated[str | None, typer.Option(help="Column name contains this.")] = None,
    tag: Annotated[str | None, typer.Option(help="Has this tag.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owned by.")] = None,
    all_versions: Annotated[bool, typer.Option("--all", "-a", help="Every matching version.")] = False,
    format: FormatOption = None,
) -> None:
    """Find datasets by name, tag, description, column name, PII entity or sensitivity."""
    from mlward.data.catalog import search_datasets

    hits = search_datasets(
        STATE.workspace(), text, label=label, column=column, tag=tag, owner=owner, all_versions=all_versions
    )
    if resolve_format(format) is OutputFormat.json:
        emit_json([{**h.version.to_dict(), "matched": list(h.reasons)} for h in hits])
        return
    console.print(
        _versions_table(
            f"datasets matching ({len(hits)})",
            [h.version for h in hits],
            ["; ".join(h.reasons) for h in hits],
        )
    )


def tag(
    dataset: Annotated[str, typer.Argument(help="NAME@VERSION.")],
    name: Annotated[str, typer.Argument(help="The tag.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the tag off instead.")] = False,
    format: FormatOption = None,
) -> None:
    """Tag a version (select it later as NAME@TAG), or remove a tag."""
    from mlward.data.catalog import tag_dataset

    version = tag_dataset(STATE.workspace(), dataset, name, remove=remove)
    if resolve_format(format) is OutputFormat.json:
        emit_json(version.to_dict())
        return
    action = "removed tag" if remove else "tagged"
    console.print(f"{action} {escape(name)} {'from' if remove else 'on'} {escape(version.ref)}")
