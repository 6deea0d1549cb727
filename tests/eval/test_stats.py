"""medseg.eval.stats against independent computations (statistics module, exact sign-flip enumeration)."""

import itertools
import math
import statistics

import numpy as np
import pytest

from medseg.eval.stats import mean_std, minimal_detectable_effect, paired, wilcoxon_p


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


# ---------------------------------------------------------------- crossed bootstrap over subjects × seeds
from scipy import stats as scipy_stats  # noqa: E402

from medseg.eval.stats import _resampled_means, bootstrap_ci, paired_bootstrap_ci, seed_std  # noqa: E402


def test_resampled_means_equal_the_mean_of_the_drawn_submatrix():
    rng = np.random.default_rng(3)
    s = rng.uniform(0.3, 0.9, (5, 3))
    s[1, 2] = s[4, 0] = np.nan  # runs that did not test a subject (folds)
    subjects, seeds = rng.integers(0, 5, (50, 5)), rng.integers(0, 3, (50, 3))
    naive = [np.nanmean(s[np.ix_(subjects[b], seeds[b])]) for b in range(50)]
    np.testing.assert_allclose(_resampled_means(s, subjects, seeds), naive, rtol=1e-12)


def test_one_seed_ci_matches_scipy_percentile_bootstrap():
    x = np.array([0.71, 0.64, 0.80, 0.55, 0.77, 0.69, 0.73, 0.60, 0.82, 0.66])
    mean, lo, hi = bootstrap_ci(x)
    ref = scipy_stats.bootstrap((x,), np.mean, method="percentile", n_resamples=20000,
                                random_state=np.random.default_rng(1)).confidence_interval
    width = ref.high - ref.low
    assert mean == pytest.approx(x.mean())
    assert lo == pytest.approx(ref.low, abs=0.05 * width) and hi == pytest.approx(ref.high, abs=0.05 * width)


def test_seed_only_variation_gives_the_hand_computed_interval():
    # every subject scores 0.6 with seed A and 0.8 with seed B: resampled means are 0.6, 0.7, 0.8 with
    # probabilities 1/4, 1/2, 1/4, so the 2.5 % and 97.5 % percentiles are exactly 0.6 and 0.8
    s = np.tile([0.6, 0.8], (6, 1))
    mean, lo, hi = bootstrap_ci(s)
    assert (mean, lo, hi) == pytest.approx((0.7, 0.6, 0.8))
    assert seed_std(s) == pytest.approx(statistics.stdev([0.6, 0.8]))


def test_seed_std_is_std_of_seed_means():
    s = np.array([[0.5, 0.6, 0.9], [0.7, 0.6, np.nan], [0.6, 0.9, 0.6]])
    seed_means = [statistics.fmean([0.5, 0.7, 0.6]), statistics.fmean([0.6, 0.6, 0.9]), statistics.fmean([0.9, 0.6])]
    assert seed_std(s) == pytest.approx(statistics.stdev(seed_means))
    assert math.isnan(seed_std(s[:, :1]))


def test_paired_ci_is_degenerate_for_a_constant_shift_and_matches_scipy_for_one_seed():
    base = np.array([[0.70, 0.68], [0.60, 0.64], [0.50, 0.52], [0.80, 0.79], [0.40, 0.45], [0.65, 0.61]])
    delta, lo, hi = paired_bootstrap_ci(base + 0.05, base)
    assert delta == pytest.approx(0.05)
    # same subjects in every resample, but seeds drawn independently per cell → small spread around 0.05
    assert lo <= 0.05 <= hi and hi - lo < 0.05
    d1, l1, h1 = paired_bootstrap_ci(base[:, :1] + 0.05, base[:, :1])
    assert (d1, l1, h1) == pytest.approx((0.05, 0.05, 0.05))  # one seed: fully paired, no spread
    a = base[:, 0] + np.array([0.05, -0.02, 0.03, 0.01, 0.07, -0.04])
    d, lo, hi = paired_bootstrap_ci(a, base[:, 0])
    ref = scipy_stats.bootstrap((a - base[:, 0],), np.mean, method="percentile", n_resamples=20000,
                                random_state=np.random.default_rng(1)).confidence_interval
    width = ref.high - ref.low
    assert d == pytest.approx(np.mean(a - base[:, 0]))
    assert lo == pytest.approx(ref.low, abs=0.05 * width) and hi == pytest.approx(ref.high, abs=0.05 * width)


def test_bootstrap_is_reproducible_and_handles_empty_and_bad_shapes():
    x = np.array([[0.1, 0.2], [0.3, 0.5], [0.4, 0.4]])
    assert bootstrap_ci(x) == bootstrap_ci(x)
    assert all(math.isnan(v) for v in bootstrap_ci(np.full((3, 2), np.nan)))
    with pytest.raises(ValueError, match="subjects"):
        paired_bootstrap_ci(x, x[:2])


def test_minimal_detectable_effect_has_the_stated_power():
    """At Δ = MDE a two-sided z-test at α = 0.05 rejects with probability 0.80 (hand-computed SE)."""
    from scipy.stats import norm

    d = [0.012, -0.004, 0.020, 0.007, -0.001, 0.015, 0.003, 0.009]
    se = math.sqrt(statistics.stdev(d) ** 2 / len(d) + 0.003**2 / 3 + 0.002**2 / 3)
    mde = minimal_detectable_effect(d, 0.003, 3, 0.002, 3)
    z = norm.ppf(0.975)
    power = norm.cdf(mde / se - z) + norm.cdf(-mde / se - z)
    assert power == pytest.approx(0.80, abs=1e-5)
    # a seed std that is unknown (one seed) adds nothing; fewer than two differences: undefined
    assert minimal_detectable_effect(d) == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * statistics.stdev(d) / math.sqrt(len(d)))
    assert math.isnan(minimal_detectable_effect([0.1])) and math.isnan(minimal_detectable_effect([0.1, math.nan]))
    with pytest.raises(ValueError, match="alpha and power"):
        minimal_detectable_effect(d, power=1.0)


def test_minimal_detectable_effect_by_simulation():
    """Monte Carlo: the function's MDE (given differences whose spread is the true one), then normal subject
    differences around Δ = MDE plus a shared seed offset per cell; the z-test with the true SE detects it in
    ~80 % of 4,000 experiments."""
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    n, k, sd, seed_sd = 8, 3, 0.01, 0.004
    unit = rng.normal(size=n)
    spread = (unit - unit.mean()) / unit.std(ddof=1) * sd  # sample std exactly sd: the function sees the true spread
    mde = minimal_detectable_effect(spread, seed_sd, k, seed_sd, k)
    hits = 0
    for _ in range(4000):
        diffs = mde + rng.normal(0, sd, n) + rng.normal(0, seed_sd, k).mean() - rng.normal(0, seed_sd, k).mean()
        se = math.sqrt(sd**2 / n + 2 * seed_sd**2 / k)
        hits += abs(diffs.mean() / se) > norm.ppf(0.975)
    assert hits / 4000 == pytest.approx(0.80, abs=0.025)
