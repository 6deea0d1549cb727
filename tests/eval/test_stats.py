"""medseg.eval.stats against independent computations (statistics module, exact sign-flip enumeration)."""

import itertools
import math
import statistics

import numpy as np
import pytest

from medseg.eval.stats import mean_std, paired, wilcoxon_p


def exact_signed_rank_p(d):
    """Two-sided exact p: fraction of the 2^n sign flips with min(W+, W-) <= observed (no ties, no zeros)."""
    ranks = {v: r for r, v in enumerate(sorted(abs(x) for x in d), start=1)}
    r = [ranks[abs(x)] for x in d]
    w_plus = sum(ri for ri, x in zip(r, d) if x > 0)
    observed = min(w_plus, sum(r) - w_plus)
    hits = 0
    for signs in itertools.product([0, 1], repeat=len(d)):
        wp = sum(ri for ri, s in zip(r, signs) if s)
        hits += min(wp, sum(r) - wp) <= observed
    return hits / 2 ** len(d)


def test_mean_std_is_mean_and_sample_std_ignoring_nan():
    values = [0.7, 0.6, 0.5, 0.8, float("nan"), 0.4]
    m, s = mean_std(values)
    finite = [v for v in values if not math.isnan(v)]
    assert m == pytest.approx(statistics.fmean(finite))
    assert s == pytest.approx(statistics.stdev(finite))


def test_mean_std_degenerate():
    assert math.isnan(mean_std([0.5])[1]) and mean_std([0.5])[0] == 0.5
    assert all(math.isnan(v) for v in mean_std([]))


@pytest.mark.parametrize("d", [[0.05, -0.02, 0.03, 0.01, 0.07, -0.04], [0.3, 0.1, -0.2, 0.4, 0.5, 0.6, 0.7, -0.8]])
def test_wilcoxon_p_matches_exact_enumeration(d):
    y = np.linspace(0.3, 0.6, len(d))
    assert wilcoxon_p(y + np.array(d), y) == pytest.approx(exact_signed_rank_p(d), rel=1e-9)


def test_wilcoxon_p_undefined_when_no_difference():
    assert math.isnan(wilcoxon_p([0.5, 0.6], [0.5, 0.6]))


def test_wilcoxon_p_rejects_unpaired_lengths():
    with pytest.raises(ValueError, match="equal length"):
        wilcoxon_p([0.1, 0.2, 0.3], [0.1, 0.2])


def test_paired_keeps_common_finite_subjects_sorted():
    ids, x, y = paired({"b": 2.0, "a": 1.0, "c": float("nan"), "d": 4.0}, {"a": 10.0, "b": 20.0, "c": 30.0})
    assert ids == ["a", "b"] and x.tolist() == [1.0, 2.0] and y.tolist() == [10.0, 20.0]
