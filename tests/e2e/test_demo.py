"""`make demo` end to end, on a copy of the example with fewer rows."""

from __future__ import annotations


def test_demo_runs_the_pipeline_fails_drift_on_purpose_and_serves(demo_run) -> None:
    demo, proc = demo_run
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "as planned: every stage ok; drift failed only its no-drift gate" in output
    assert "gate no-drift failed on stage drift" in output
    assert "credit-risk@1 -> production" in output
    assert "(signed)" in output and "row 0:" in output  # the signed prediction round trip
    assert "HTTP 401" in output  # an anonymous request is refused
    assert "audit trail verified" in output
    assert list((demo / ".mlward" / "reports").glob("run-*.html"))
    assert (demo / "reports" / "sbom.cdx.json").exists()
