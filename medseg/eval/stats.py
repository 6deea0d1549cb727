"""Summary statistics for result tables: mean ± sample std, paired Wilcoxon signed-rank test, and the
confidence intervals of cells aggregated over test subjects × seeds.

The Wilcoxon test follows the scSE paper's practice of testing each attention variant against the
network without attention, paired by test subject (two-sided; scipy's exact null distribution for
small n without ties, the normal approximation otherwise). With several seeds it is run on the
seed-averaged per-subject scores.

Confidence intervals (``bootstrap_ci``, ``paired_bootstrap_ci``): a crossed (two-way) percentile
bootstrap over subjects × seeds. A cell's scores form a matrix ``S[subject, seed]`` (NaN where a run did
not test a subject, e.g. other folds); one resample draws subjects with replacement and, independently,
seeds with replacement, and takes the mean of the drawn rows × columns (NaN ignored). The 95 % CI is
the 2.5 / 97.5 % percentile of ``B = 10,000`` resamples from a fixed generator (``numpy`` PCG64, seed
0), so a report is reproducible. Both sources of variation are covered: which subjects were tested and
which seeds were trained. With one seed it is the ordinary subject bootstrap. With few seeds (n) the
bootstrap understates the seed variance by the factor (n − 1)/n, which is why reports also show the
seed-to-seed standard deviation (``seed_std``). For a difference to the baseline the subjects are
resampled jointly (paired) and each cell's seeds independently.

Minimal detectable effect (``minimal_detectable_effect``): the smallest true |Δ| that a two-sided test at
level α detects with the given power, from the normal approximation
``MDE = (z_{1-α/2} + z_{power}) · SE``, ``SE² = s_d² / n + s_a² / k_a + s_b² / k_b``, where ``s_d`` is the
sample std of the n paired per-subject differences (seed-averaged scores) and ``s_a``, ``s_b`` the two
cells' seed stds over ``k_a``, ``k_b`` seeds (the seed term does not average out over subjects: a seed moves
every subject of its run). With α = 0.05 and 80 % power the factor is 1.960 + 0.842 = 2.802.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
MDE_ALPHA = 0.05
MDE_POWER = 0.80


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


def _matrix(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(f"scores must be a subjects × seeds matrix, got shape {s.shape}")
    return s


def seed_std(scores: np.ndarray) -> float:
    """Sample std (ddof = 1) over seeds of each seed's mean over its subjects; NaN for < 2 seeds."""
    s = _matrix(scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_seed = np.nanmean(s, axis=0)
    return mean_std(per_seed)[1]


def _resampled_means(s: np.ndarray, subjects: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Mean of ``s[subjects[b]][:, seeds[b]]`` per resample b, NaN entries ignored (counted by weight)."""
    finite = np.isfinite(s)
    values, counts = np.where(finite, s, 0.0), finite.astype(np.float64)
    # one-hot counts of the drawn seeds: (B, n_seeds); sum over drawn subjects of row sums weighted by them
    seed_weights = np.stack([np.bincount(r, minlength=s.shape[1]) for r in seeds]).astype(np.float64)
    total = np.einsum("bk,bk->b", values[subjects].sum(axis=1), seed_weights)
    n = np.einsum("bk,bk->b", counts[subjects].sum(axis=1), seed_weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / n


def _percentiles(x: np.ndarray, level: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def bootstrap_ci(
    scores: np.ndarray, level: float = CI_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """Mean of the finite scores and its percentile CI by the crossed bootstrap over subjects × seeds.

    ``scores``: subjects × seeds (a 1-D array is one seed). Subjects with no finite score are dropped.
    """
    s = _matrix(scores)
    s = s[np.isfinite(s).any(axis=1)]
    if s.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    subjects = rng.integers(0, s.shape[0], size=(resamples, s.shape[0]))
    seeds = rng.integers(0, s.shape[1], size=(resamples, s.shape[1]))
    lo, hi = _percentiles(_resampled_means(s, subjects, seeds), level)
    return float(np.nanmean(s)), lo, hi


def paired_bootstrap_ci(
    a: np.ndarray, b: np.ndarray, level: float = CI_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Mean difference (mean of a − mean of b over the subjects both have) and its crossed-bootstrap CI.

    ``a``, ``b``: subjects × seeds of two cells, rows = the same subjects in the same order (the seed
    counts may differ). Subjects are resampled jointly; each cell's seeds independently.
    """
    a, b = _matrix(a), _matrix(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired_bootstrap_ci: a has {a.shape[0]} subjects, b has {b.shape[0]}")
    keep = np.isfinite(a).any(axis=1) & np.isfinite(b).any(axis=1)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    subjects = rng.integers(0, a.shape[0], size=(resamples, a.shape[0]))
    seeds_a = rng.integers(0, a.shape[1], size=(resamples, a.shape[1]))
    seeds_b = rng.integers(0, b.shape[1], size=(resamples, b.shape[1]))
    diffs = _resampled_means(a, subjects, seeds_a) - _resampled_means(b, subjects, seeds_b)
    lo, hi = _percentiles(diffs, level)
    return float(np.nanmean(a) - np.nanmean(b)), lo, hi


def minimal_detectable_effect(
    differences: Sequence[float], seed_std_a: float = math.nan, seeds_a: int = 1, seed_std_b: float = math.nan,
    seeds_b: int = 1, alpha: float = MDE_ALPHA, power: float = MDE_POWER,
) -> float:
    """Smallest true |Δ| detected with ``power`` by a two-sided level-``alpha`` test (module docstring).

    ``differences``: paired per-subject differences (NaN dropped; NaN result for < 2). A seed std that is
    NaN (one seed: unknown) contributes nothing, so the MDE of a one-seed cell is optimistic."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return math.nan
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"minimal_detectable_effect: alpha and power must lie in (0, 1), got {alpha}, {power}")
    variance = float(d.var(ddof=1)) / d.size
    for std, k in ((seed_std_a, seeds_a), (seed_std_b, seeds_b)):
        if math.isfinite(std):
            variance += std**2 / max(int(k), 1)
    factor = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    return factor * math.sqrt(variance)
