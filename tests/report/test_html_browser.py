"""Open the data-trust report in headless Debian Chromium and check what it renders.

Needs ``apt-get install chromium`` and the ``playwright`` Python package (its own browser
download is never used: the system Chromium is launched by path).
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pyarrow as pa
import pytest

from mlward.data.drift import DriftDetector
from mlward.data.fairness import data_fairness
from mlward.data.outliers import OutlierDetector
from mlward.report.html import render_html, write_html

CHROMIUM = os.environ.get("MLWARD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _report(path) -> None:
    rng = np.random.default_rng(0)
    n = 5_000

    def frame(shift: float) -> pa.Table:
        return pa.table(
            {
                "age": rng.normal(40 + shift * 5, 10, n),
                "income": rng.lognormal(10, 0.5 + shift * 0.3, n),
                "city": rng.choice(
                    ["paris", "lyon", "nice"], n, p=[0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]
                ),
                "tenure": rng.integers(0, 30, n),
                "sex": rng.choice(["f", "m"], n),
                "approved": rng.random(n) < 0.4,
            }
        )

    ref, cur = frame(0.0), frame(1.0)
    drift = DriftDetector().fit(ref).compare(cur)
    outliers = OutlierDetector().fit(ref).score(cur)
    fairness = data_fairness(cur, ["sex", "city"], "approved")
    write_html(path, render_html(drift=drift, outliers=outliers, fairness=fairness))


@pytest.mark.browser
def test_report_renders_in_chromium(tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"install Debian chromium at {CHROMIUM} (apt-get install chromium)"
    report = tmp_path / "report.html"
    _report(report)
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            rows = page.locator("#drift-table tbody tr.drift-row")
            assert rows.count() == 6
            assert page.locator("#drift-table tbody tr.drifted").count() >= 3
            assert page.locator("svg rect.drift-bar").count() == 6
            assert page.locator("svg").count() >= 6 + 1 + 1 + 2
            box = page.locator("#drift-table svg").first.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50
            assert page.locator("svg rect.group-bar").count() == 5  # 2 sexes + 3 cities
            page.check("#only-drifted")  # the inline filter hides stable columns
            visible = [r for r in rows.all() if r.is_visible()]
            assert len(visible) == page.locator("#drift-table tbody tr.drifted").count()
            page.uncheck("#only-drifted")
            page.screenshot(path=str(shot), full_page=True)
            assert requests == [report.as_uri()]  # nothing but the file itself
        finally:
            browser.close()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 1500
