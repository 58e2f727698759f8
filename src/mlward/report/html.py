"""Self-contained HTML reports for data trust: drift, outliers and fairness.

One file, no network: CSS and a few lines of JavaScript are inline, plots are inline SVG
drawn here. Only aggregates are embedded (bin masses from profiles, statistics, group
rates, score histograms), never rows, so a report can be shared where the data cannot;
each feature costs a few kilobytes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from mlward.data.drift.interface import ColumnDrift, DriftReport
from mlward.data.fairness import FairnessReport, FairnessThresholds
from mlward.data.outliers import OutlierScan, OutlierScores
from mlward.data.profile import ColumnProfile

REF_COLOR = "#4c72b0"
CUR_COLOR = "#dd8452"
BAD_COLOR = "#c44e52"
OK_COLOR = "#55a868"
HIST_BINS = 20
TOP_CATEGORIES = 10
MIN_CATEGORY_ROWS = 5


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    # Every text and attribute that can carry user data (column, group and category
    # names) goes through ``escape`` where ``body`` is built; numbers are formatted here.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def svg_paired_bars(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    title: str,
    *,
    width: int = 360,
    height: int = 120,
) -> Markup:
    """Reference vs current masses per bin (a histogram pair or category shares)."""
    top, bottom, left = 8, 28, 6
    plot_h = height - top - bottom
    peak = max([*reference, *current, 1e-12])
    slot = (width - 2 * left) / max(len(labels), 1)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" stroke="#999"/>']
    for i, (name, r, c) in enumerate(zip(labels, reference, current, strict=True)):
        x = left + i * slot
        for j, (value, color) in enumerate(((r, REF_COLOR), (c, CUR_COLOR))):
            h = plot_h * value / peak
            body.append(
                f'<rect x="{x + 1 + j * (slot - 2) / 2:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{max((slot - 2) / 2, 0.5):.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(name)}: reference {r:.3f}, current {c:.3f}</title></rect>"
            )
    if labels:
        first, last = escape(labels[0]), escape(labels[-1])
        body.append(f'<text x="{left}" y="{height - 10}" class="tick">{first}</text>')
        body.append(
            f'<text x="{width - left}" y="{height - 10}" class="tick" text-anchor="end">{last}</text>'
        )
    return _svg(width, height, body, title)


def _severity(entry: ColumnDrift) -> float:
    """Statistic relative to its threshold: 1 is the threshold, above is drift."""
    if entry.p_value is not None:
        p = max(entry.p_value, 1e-300)
        return math.log(p) / math.log(entry.threshold) if 0 < entry.threshold < 1 else 0.0
    return entry.statistic / entry.threshold if entry.threshold > 0 else float(entry.drifted)


def svg_drift_bars(columns: Sequence[ColumnDrift], *, width: int = 640) -> Markup:
    """One horizontal bar per column: statistic over threshold, with the threshold line."""
    row, label_w, cap = 20, 170, 4.0
    height = row * len(columns) + 30
    plot_w = width - label_w - 130
    x_threshold = label_w + plot_w / cap
    body = []
    for i, entry in enumerate(columns):
        y = 10 + i * row
        value = _severity(entry)
        w = plot_w * min(value, cap) / cap
        color = BAD_COLOR if entry.drifted else OK_COLOR
        body.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" class="lbl">'
            f"{escape(entry.column[:28])}</text>"
        )
        body.append(
            f'<rect class="drift-bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row - 6}" fill="{color}"><title>{escape(entry.column)}: '
            f"{escape(entry.test)} {_fmt(entry.statistic)} (threshold "
            f"{_fmt(entry.threshold)})</title></rect>"
        )
        shown = entry.p_value if entry.p_value is not None else entry.statistic
        body.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" class="tick">'
            f"{escape(entry.test)} {_fmt(shown)}</text>"
        )
    body.append(
        f'<line x1="{x_threshold:.1f}" y1="4" x2="{x_threshold:.1f}" y2="{height - 16}" '
        'stroke="#333" stroke-dasharray="4 3"/>'
    )
    body.append(
        f'<text x="{x_threshold:.1f}" y="{height - 4}" text-anchor="middle" class="tick">threshold</text>'
    )
    return _svg(width, height, body, "drift statistic relative to threshold per column")


def svg_histogram(
    counts: Sequence[float],
    edges: Sequence[float],
    marker: float | None,
    title: str,
    *,
    width: int = 640,
    height: int = 160,
) -> Markup:
    """A histogram with an optional vertical marker (e.g. the outlier threshold)."""
    top, bottom, left = 8, 26, 6
    plot_h, plot_w = height - top - bottom, width - 2 * left
    lo, hi = float(edges[0]), float(edges[-1])
    span = (hi - lo) or 1.0
    peak = max([*counts, 1e-12])
    body = []
    for i, c in enumerate(counts):
        x0 = left + plot_w * (edges[i] - lo) / span
        x1 = left + plot_w * (edges[i + 1] - lo) / span
        h = plot_h * c / peak
        body.append(
            f'<rect x="{x0:.1f}" y="{top + plot_h - h:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{REF_COLOR}"><title>{edges[i]:.3f}–{edges[i + 1]:.3f}: '
            f"{int(c)}</title></rect>"
        )
    if marker is not None:
        xm = left + plot_w * (min(max(marker, lo), hi) - lo) / span
        body.append(
            f'<line x1="{xm:.1f}" y1="2" x2="{xm:.1f}" y2="{top + plot_h}" stroke="{BAD_COLOR}" '
            'stroke-width="2"/>'
        )
        body.append(f'<text x="{xm + 4:.1f}" y="14" class="tick">threshold {marker:.3f}</text>')
    body.append(f'<text x="{left}" y="{height - 8}" class="tick">{lo:.3f}</text>')
    body.append(f'<text x="{width - left}" y="{height - 8}" class="tick" text-anchor="end">{hi:.3f}</text>')
    return _svg(width, height, body, title)


def svg_group_rates(
    labels: Sequence[str], rates: Sequence[float | None], title: str, *, width: int = 420
) -> Markup:
    """Horizontal bars of a rate (0–1) per group."""
    row, label_w = 22, 120
    height = row * len(labels) + 12
    plot_w = width - label_w - 50
    body = []
    for i, (name, rate) in enumerate(zip(labels, rates, strict=True)):
        y = 6 + i * row
        w = plot_w * (rate or 0.0)
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">{escape(name[:20])}</text>'
        )
        body.append(
            f'<rect class="group-bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{REF_COLOR}"><title>{escape(name)}: {_fmt(rate)}</title></rect>'
        )
        body.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" class="tick">{_fmt(rate)}</text>')
    return _svg(width, height, body, title)


def column_distribution(reference: ColumnProfile, current: ColumnProfile, kind: str) -> Markup:
    """Reference vs current distribution of one column, from profiles only."""
    if kind == "numeric":
        lo = float(min(reference.quantiles([0.01])[0], current.quantiles([0.01])[0]))
        hi = float(max(reference.quantiles([0.99])[0], current.quantiles([0.99])[0]))
        if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
            lo, hi = (reference.minimum or 0.0), (reference.maximum or 0.0) + 1.0
        edges = np.linspace(lo, hi, HIST_BINS + 1)
        edges_open = np.concatenate([[-np.inf], edges[1:-1], [np.inf]])
        labels = [f"{e:.3g}" for e in edges[:-1]]
        labels[-1] = f"{edges[-1]:.3g}"
        return svg_paired_bars(
            labels,
            reference.histogram(edges_open).tolist(),
            current.histogram(edges_open).tolist(),
            f"{reference.name} distribution",
        )
    ref_counts = reference.category_counts()[0]
    cur_counts = current.category_counts()[0]
    ref_total, cur_total = max(reference.n, 1), max(current.n, 1)
    # A category seen fewer than MIN_CATEGORY_ROWS times could identify a row: lump it.
    keys = sorted(
        (
            k
            for k in set(ref_counts) | set(cur_counts)
            if ref_counts.get(k, 0) + cur_counts.get(k, 0) >= MIN_CATEGORY_ROWS
        ),
        key=lambda k: -(ref_counts.get(k, 0) / ref_total + cur_counts.get(k, 0) / cur_total),
    )
    shown = keys[:TOP_CATEGORIES]
    ref = [ref_counts.get(k, 0) / ref_total for k in shown]
    cur = [cur_counts.get(k, 0) / cur_total for k in shown]
    ref_rest = max(1.0 - sum(ref), 0.0)
    cur_rest = max(1.0 - sum(cur), 0.0)
    if ref_rest > 1e-12 or cur_rest > 1e-12:
        shown = [*shown, "(other)"]
        ref.append(ref_rest)
        cur.append(cur_rest)
    return svg_paired_bars(shown, ref, cur, f"{reference.name} categories")


@dataclass(frozen=True)
class OutlierSummary:
    """What a report shows about outlier scores: aggregates only."""

    counts: tuple[float, ...]
    """Rows per score bin."""
    edges: tuple[float, ...]
    """Bin edges."""
    threshold: float
    """Forest score threshold."""
    rows: int
    """Rows scored."""
    flagged: int
    """Rows flagged as outliers."""
    top_features: tuple[tuple[str, int], ...]
    """Columns most often named in explanations of flagged rows, with counts."""

    @classmethod
    def from_scores(cls, scores: OutlierScores, bins: int = 40, top: int = 3) -> OutlierSummary:
        """Aggregate per-row scores into a histogram and explanation counts."""
        values = scores.scores
        lo = float(min(values.min(initial=1.0), scores.threshold))
        hi = float(max(values.max(initial=0.0), scores.threshold))
        counts, edges = np.histogram(values, bins=bins, range=(lo - 0.01, hi + 0.01))
        tally: dict[str, int] = {}
        for row in np.flatnonzero(scores.is_outlier):
            for name, _ in scores.explain(int(row), top):
                tally[name] = tally.get(name, 0) + 1
        ranked = tuple(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
        return cls(
            tuple(float(c) for c in counts),
            tuple(float(e) for e in edges),
            scores.threshold,
            int(scores.scores.size),
            int(scores.is_outlier.sum()),
            ranked,
        )

    @classmethod
    def from_scan(cls, scan: OutlierScan) -> OutlierSummary:
        """Trim a dataset scan's fixed [0, 1] histogram to the scores actually seen."""
        counts = np.asarray(scan.histogram, dtype=float)
        edges = np.linspace(0.0, 1.0, counts.size + 1)
        seen = np.flatnonzero(counts)
        marker = int(np.searchsorted(edges, scan.threshold)) - 1
        lo = max(min(seen.min(initial=marker), marker) - 1, 0)
        hi = min(max(seen.max(initial=marker), marker) + 2, counts.size)
        return cls(
            tuple(counts[lo:hi].tolist()),
            tuple(edges[lo : hi + 1].tolist()),
            scan.threshold,
            scan.rows,
            scan.flagged,
            scan.explained,
        )


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("mlward.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(
    *,
    drift: DriftReport | None = None,
    outliers: OutlierScores | OutlierScan | OutlierSummary | None = None,
    fairness: FairnessReport | None = None,
    fairness_thresholds: FairnessThresholds | None = None,
    title: str = "mlward data trust report",
) -> str:
    """Render one self-contained HTML page with the sections given."""
    context: dict[str, Any] = {
        "title": title,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "fmt": _fmt,
    }
    if drift is not None:
        features = []
        ordered = drift.columns_by_verdict()
        for entry in ordered:
            ref = drift.reference_profile.columns.get(entry.column) if drift.reference_profile else None
            cur = drift.current_profile.columns.get(entry.column) if drift.current_profile else None
            plot = None
            if ref and cur and cur.n and not entry.withheld:
                plot = column_distribution(ref, cur, entry.kind)
            features.append({"entry": entry, "plot": plot})
        context["drift"] = {"report": drift, "features": features, "bars": svg_drift_bars(ordered)}
    if outliers is not None:
        if isinstance(outliers, OutlierScan):
            summary = OutlierSummary.from_scan(outliers)
        elif isinstance(outliers, OutlierScores):
            summary = OutlierSummary.from_scores(outliers)
        else:
            summary = outliers
        context["outliers"] = {
            "summary": summary,
            "plot": svg_histogram(
                summary.counts, summary.edges, summary.threshold, "outlier score distribution"
            ),
        }
    if fairness is not None:
        context["fairness"] = {
            "report": fairness,
            "violations": fairness.violations(fairness_thresholds),
            "attributes": [
                {
                    "a": a,
                    "plot": svg_group_rates(
                        [g.group for g in a.groups],
                        [g.positive_rate for g in a.groups],
                        f"{a.attribute} positive rate per group",
                    ),
                }
                for a in fairness.attributes
            ],
        }
    return _environment().get_template("data_trust.html").render(**context)


def write_html(path: str | os.PathLike[str], html: str) -> None:
    """Write a report atomically."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(html)
    os.replace(tmp, path)
