"""Each column verdict in words: what changed, for people reading a table or a report.

* not drifted: ``no change beyond noise``;
* numeric: ``mean +0.1 sd`` (the mean's move in reference standard deviations) and, when the
  spread changed by at least ``SD_RATIO_NOTED``, ``sd ×1.5`` (current sd / reference sd);
* categorical: the largest new category with its current share (``new category 'crypto'
  12%``), else the category whose share moved most (``'retail' 40% → 12%``);
* null rate: ``null rate 0% → 30%`` (``NullRateDrift.summary``) when it drifted;
* withheld columns (``data/sensitive.py``): ``values withheld (EMAIL)`` and at most the null
  rate, never a value, a category or a moment.
"""

from __future__ import annotations

from mlward.data.drift.interface import ColumnDrift, percent
from mlward.data.profile import CATEGORICAL, ColumnProfile

NO_CHANGE = "no change beyond noise"
SD_RATIO_NOTED = 0.1
"""``sd ×r`` is said when |r - 1| reaches this."""
MEAN_SHIFT_NOTED = 0.05
"""Below this (in reference sd) the mean is left out when the spread says what changed."""
LABEL_CHARS = 40


def describe_change(entry: ColumnDrift, reference: ColumnProfile, current: ColumnProfile | None) -> str:
    """Return what changed in ``entry``'s column, in words (``NO_CHANGE`` when nothing drifted)."""
    nulls = entry.null_rate
    null_words = [nulls.summary] if nulls is not None and nulls.drifted else []
    if entry.withheld:
        said = null_words[0] if null_words else NO_CHANGE
        return f"values withheld ({', '.join(entry.withheld)}): {said}"
    if entry.test == "missing":
        return "no values in the current data"
    if entry.test == "type_changed":
        return f"type {reference.dtype} → {current.dtype if current else '?'}"
    if not entry.drifted:
        return NO_CHANGE
    words: list[str] = []
    if entry.distribution_drifted is not False and current is not None:
        words.append(
            _categorical_change(entry, reference, current)
            if entry.kind == CATEGORICAL
            else _numeric_change(reference, current)
        )
    return "; ".join([*words, *null_words]) or NO_CHANGE


def _numeric_change(reference: ColumnProfile, current: ColumnProfile) -> str:
    ref_sd, cur_sd = reference.std, current.std
    if ref_sd <= 0:
        # A constant reference has no sd to measure in: say the move in the column's units.
        return f"mean {reference.mean:.4g} → {current.mean:.4g}"
    shift = (current.mean - reference.mean) / ref_sd
    ratio = cur_sd / ref_sd
    words = []
    spread_changed = abs(ratio - 1) >= SD_RATIO_NOTED
    if abs(shift) >= MEAN_SHIFT_NOTED or not spread_changed:
        words.append(f"mean {shift:+.1f} sd" if abs(shift) >= 0.095 else f"mean {shift:+.2f} sd")
    if spread_changed:
        shown = f"{ratio:.2g}" if ratio < 1 else f"{ratio:.1f}" if ratio < 10 else f"{ratio:.0f}"
        words.append(f"sd ×{shown}")
    if not spread_changed and abs(shift) < MEAN_SHIFT_NOTED:
        words.append("shape changed")
    return ", ".join(words)


def _categorical_change(entry: ColumnDrift, reference: ColumnProfile, current: ColumnProfile) -> str:
    if entry.new_categories:
        label, share = entry.new_categories[0]
        more = len(entry.new_categories) - 1
        extra = f" (+{more} more new)" if more else ""
        return f"new category {_quoted(label)} {percent(share)}{extra}"
    ref_counts, _ = reference.category_counts()
    cur_counts, _ = current.category_counts()
    ref_n, cur_n = max(reference.n, 1), max(current.n, 1)
    moves = {
        k: (ref_counts.get(k, 0.0) / ref_n, cur_counts.get(k, 0.0) / cur_n)
        for k in set(ref_counts) | set(cur_counts)
    }
    if not moves:
        return "category shares changed"
    label = min(moves, key=lambda k: (-abs(moves[k][1] - moves[k][0]), k))
    before, after = moves[label]
    return f"{_quoted(label)} {percent(before)} → {percent(after)}"


def _quoted(label: str) -> str:
    text = str(label)
    return f"'{text[:LABEL_CHARS]}…'" if len(text) > LABEL_CHARS else f"'{text}'"
