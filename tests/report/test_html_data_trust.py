"""The data-trust HTML report: one self-contained file, aggregates only, kilobytes per feature."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

from mlward.data.drift import DriftDetector
from mlward.data.fairness import data_fairness
from mlward.data.outliers import OutlierDetector
from mlward.report.html import render_html, write_html

SECRET = "secret-4242-unique-value"


def _frames(features: int, n: int = 4_000) -> tuple[pa.Table, pa.Table]:
    def make(seed: int, shift: float) -> pa.Table:
        rng = np.random.default_rng(seed)
        cols = {f"num_{i}": rng.normal(shift * (i % 2), 1, n) for i in range(features // 2)}
        for i in range(features - features // 2):
            cols[f"cat_{i}"] = rng.choice(["a", "b", "c", "d"], n)
        return pa.table(cols)

    return make(0, 0.0), make(1, 1.0)


@pytest.fixture(scope="module")
def report_html() -> str:
    ref, cur = _frames(8)
    rng = np.random.default_rng(2)
    ids = [f"user-{i}" for i in range(ref.num_rows)]
    ids[17] = SECRET  # a value that appears once: it must not reach the report
    ref = ref.append_column("user_id", pa.array(ids))
    cur = cur.append_column("user_id", pa.array(ids))
    cur = cur.append_column("<script>alert(1)</script>", pa.array(rng.normal(size=cur.num_rows)))
    ref = ref.append_column("<script>alert(1)</script>", pa.array(rng.normal(size=ref.num_rows)))
    drift = DriftDetector(multivariate=True, sample_rows=500).fit(ref).compare(cur)
    outliers = OutlierDetector().fit(ref.drop(["user_id"])).score(cur.drop(["user_id"]))
    fairness = data_fairness(cur.append_column("y", pa.array(rng.random(cur.num_rows) < 0.4)), ["cat_0"], "y")
    return render_html(drift=drift, outliers=outliers, fairness=fairness, title="test report")


def test_report_has_every_section_and_plot(report_html) -> None:
    for anchor in ('id="drift"', 'id="outliers"', 'id="fairness"', 'id="drift-table"'):
        assert anchor in report_html
    assert report_html.count('class="drift-row') == 10
    # a plot per feature but user_id (an identifier: values withheld), bars, scores, groups
    assert report_html.count("<svg") >= 9 + 1 + 1 + 1
    assert "values withheld (IDENTIFIER)" in report_html
    assert "drift detected" in report_html and "Domain classifier AUC" in report_html


def test_report_is_self_contained(report_html) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report_html)
    assert "<link" not in report_html and "@import" not in report_html
    assert "default-src 'none'" in report_html  # the CSP forbids any fetch
    assert "<script src" not in report_html


def test_report_embeds_no_row_values_and_escapes_names(report_html) -> None:
    assert SECRET not in report_html
    assert "user-17" not in report_html and 'user-1"' not in report_html
    assert "<script>alert(1)</script>" not in report_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report_html


def test_size_is_kilobytes_per_feature(tmp_path) -> None:
    sizes = {}
    for features in (10, 40):
        ref, cur = _frames(features, 20_000)
        html = render_html(drift=DriftDetector().fit(ref).compare(cur))
        sizes[features] = len(html.encode())
        path = tmp_path / f"r{features}.html"
        write_html(path, html)
        assert path.read_text(encoding="utf-8") == html
    per_feature = (sizes[40] - sizes[10]) / 30
    assert per_feature < 8_000, per_feature
    assert sizes[40] < 400_000
