"""Synthetic data with planted drift and known ground truth.

``make_frame(n, seed, **plants)`` draws the same mixed-type schema each time; the plants
change one column each, so every test knows exactly which columns must drift:

* ``shift``: ``income`` mean moves by one standard deviation;
* ``scale``: ``latency`` standard deviation doubles (same mean);
* ``new_category``: ``channel`` gains a category ``api`` holding 30 % of rows;
* ``drop_category``: ``region`` loses category ``south`` (was 30 %).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

PLANTED = {"shift": "income", "scale": "latency", "new_category": "channel", "drop_category": "region"}
STABLE = ["age", "score", "plan", "rating"]


def make_frame(
    n: int,
    seed: int,
    *,
    shift: bool = False,
    scale: bool = False,
    new_category: bool = False,
    drop_category: bool = False,
) -> pa.Table:
    rng = np.random.default_rng(seed)
    channel_p = [0.35, 0.35, 0.0, 0.3] if new_category else [0.5, 0.5, 0.0, 0.0]
    region_p = [0.5, 0.5, 0.0] if drop_category else [0.4, 0.3, 0.3]
    return pa.table(
        {
            "income": rng.normal(50_000 + (10_000 if shift else 0), 10_000, n),
            "latency": rng.normal(100.0, 20.0 * (2 if scale else 1), n),
            "age": rng.integers(18, 80, n),
            "score": rng.beta(2, 5, n),
            "channel": rng.choice(["web", "store", "phone", "api"], n, p=channel_p),
            "region": rng.choice(["north", "east", "south"], n, p=region_p),
            "plan": rng.choice(["free", "pro", "team", "enterprise"], n, p=[0.6, 0.25, 0.1, 0.05]),
            "rating": rng.integers(1, 6, n),
        }
    )


@pytest.fixture(scope="session")
def frames() -> dict[str, pa.Table]:
    """Small (exact tests) and large (distance tests) reference / same / drifted frames."""
    planted = dict.fromkeys(PLANTED, True)
    return {
        "small_ref": make_frame(800, 1),
        "small_same": make_frame(800, 2),
        "small_drift": make_frame(800, 3, **planted),
        "large_ref": make_frame(60_000, 11),
        "large_same": make_frame(60_000, 12),
        "large_drift": make_frame(60_000, 13, **planted),
    }
