"""Summary statistics for result tables: mean ± sample std, paired Wilcoxon signed-rank test.

The Wilcoxon test follows the scSE paper's practice of testing each attention variant against the
network without attention, paired by test subject (two-sided; scipy's exact null distribution for
small n without ties, the normal approximation otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) of the finite values; std is NaN for n < 2."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan


def paired(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Subjects present (with finite values) in both ``a`` and ``b``, sorted, and their paired values."""
    ids = sorted(k for k in a.keys() & b.keys() if np.isfinite(a[k]) and np.isfinite(b[k]))
    return ids, np.array([a[k] for k in ids], dtype=np.float64), np.array([b[k] for k in ids], dtype=np.float64)


def wilcoxon_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``x - y`` (pairs with zero difference dropped).

    NaN when no pair differs (the test is undefined), so tables show "n/a" rather than a fake p.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"wilcoxon_p: paired samples must have equal length, got {x.shape} and {y.shape}")
    if not np.any(x - y != 0):
        return math.nan
    return float(stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue)
