"""Isolation Forest trees as arrays, scored in numpy exactly as scikit-learn does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful BST search in ``n`` points (c(n) in the paper)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class Forest:
    """Isolation Forest trees as padded arrays (trees x nodes), scored in numpy."""

    def __init__(self, arrays: Mapping[str, np.ndarray], max_samples: int) -> None:
        self.left = arrays["children_left"].astype(np.int64)
        self.right = arrays["children_right"].astype(np.int64)
        self.feature = arrays["feature"].astype(np.int64)
        self.threshold = arrays["threshold"].astype(np.float64)
        self.n_node_samples = arrays["n_node_samples"].astype(np.int64)
        self.max_samples = max_samples
        _check_tree_arrays(self.left, self.right, self.feature, self.threshold, self.n_node_samples)
        trees, nodes = self.left.shape
        depth = np.zeros((trees, nodes))
        for node in range(nodes):  # children always have larger ids than their parent
            inner = self.left[:, node] >= 0
            rows = np.flatnonzero(inner)
            depth[rows, self.left[rows, node]] = depth[rows, node] + 1
            depth[rows, self.right[rows, node]] = depth[rows, node] + 1
        # sklearn adds node depth (root = 1) + c(leaf size) - 1 per tree
        self.leaf_value = (depth + average_path_length(self.n_node_samples)).ravel()
        self.max_depth = int(depth.max()) + 1
        self.offsets = (np.arange(trees) * nodes)[:, None]
        # Flat, branch-free walk: a leaf points to itself on both sides with an infinite
        # threshold, so every row can take max_depth steps without checking for leaves.
        own = np.arange(trees * nodes).reshape(trees, nodes)
        leaf = self.left < 0
        self.child = np.stack(
            [
                np.where(leaf, own, self.left + self.offsets),
                np.where(leaf, own, self.right + self.offsets),
            ],
            axis=-1,
        ).reshape(-1)
        self.split_feature = np.where(leaf, 0, self.feature).ravel()
        self.split_threshold = np.where(leaf, np.inf, self.threshold).ravel()
        self.denominator = trees * float(average_path_length(np.array([max_samples]))[0])

    @classmethod
    def from_sklearn(cls, forest: Any) -> Forest:
        trees = [est.tree_ for est in forest.estimators_]
        nodes = max(t.node_count for t in trees)

        def pad(get: Any, fill: float, dtype: Any) -> np.ndarray:
            out = np.full((len(trees), nodes), fill, dtype=dtype)
            for i, tree in enumerate(trees):
                out[i, : tree.node_count] = get(i, tree)
            return out

        feats = forest.estimators_features_
        arrays = {
            "children_left": pad(lambda i, t: t.children_left, -1, np.int32),
            "children_right": pad(lambda i, t: t.children_right, -1, np.int32),
            # features are stored in the forest's column numbering, not the tree's subset
            "feature": pad(
                lambda i, t: np.where(t.feature >= 0, feats[i][np.maximum(t.feature, 0)], -2), -2, np.int32
            ),
            "threshold": pad(lambda i, t: t.threshold, 0.0, np.float64),
            "n_node_samples": pad(lambda i, t: t.n_node_samples, 1, np.int64),
        }
        return cls(arrays, int(forest.max_samples_))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "children_left": self.left.astype(np.int32),
            "children_right": self.right.astype(np.int32),
            "feature": self.feature.astype(np.int32),
            "threshold": self.threshold,
            "n_node_samples": self.n_node_samples,
        }

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Same as ``IsolationForest.score_samples`` (negative; lower is more anomalous)."""
        x = np.asarray(x, dtype=np.float32).astype(np.float64)  # sklearn splits on float32
        n = x.shape[0]
        node = np.repeat(self.offsets, n, axis=1)
        cells = np.arange(n)[None, :] * x.shape[1]
        flat_x = x.ravel()
        for _ in range(self.max_depth):
            right = flat_x[cells + self.split_feature[node]] > self.split_threshold[node]
            node = self.child[2 * node + right]
        depths = self.leaf_value[node].sum(axis=0)
        return np.asarray(-np.exp2(-depths / self.denominator))


def _check_tree_arrays(left: np.ndarray, right: np.ndarray, *others: np.ndarray) -> None:
    """Refuse arrays a scorer could walk out of: wrong shapes, or children not after parents."""
    if left.ndim != 2 or any(a.shape != left.shape for a in (right, *others)):
        raise ValueError("tree arrays must all have the same (trees, nodes) shape")
    nodes = left.shape[1]
    inner = left >= 0
    index = np.broadcast_to(np.arange(nodes), left.shape)
    if np.any((left >= nodes) | (right >= nodes) | (inner != (right >= 0))):
        raise ValueError("tree children out of range")
    if np.any(inner & ((left <= index) | (right <= index))):
        raise ValueError("tree children must come after their parent")
