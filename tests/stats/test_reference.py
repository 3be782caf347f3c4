"""Reference values: our tests and intervals against published figures, scipy and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from evalbot.stats.clustered import cluster_robust_se, clustered_t_interval
from evalbot.stats.gate import holm
from evalbot.stats.intervals import (
    hodges_lehmann,
    signed_rank_critical,
    tango_interval,
    tango_z,
    walsh_order_statistics,
    wilson_interval,
)
from evalbot.stats.paired import mcnemar_exact, mcnemar_midp, sign_test, signflip_pvalues


def test_mcnemar_b12_c4_matches_published_and_statsmodels():
    _, exact_two = mcnemar_exact(12, 4)
    mid_one, mid_two = mcnemar_midp(12, 4)
    assert exact_two == pytest.approx(0.076813, abs=1e-6)
    assert exact_two == pytest.approx(sm_mcnemar([[0, 12], [4, 0]], exact=True).pvalue)
    assert exact_two == pytest.approx(stats.binomtest(4, 16).pvalue)
    assert mid_two == pytest.approx(0.049042, abs=1e-6)
    assert mid_one == pytest.approx(mid_two / 2)
    asymptotic = sm_mcnemar([[0, 12], [4, 0]], exact=False, correction=False).pvalue
    assert asymptotic == pytest.approx(0.045500, abs=1e-6)


def test_mcnemar_midp_one_sided_is_directional_and_vectorized():
    one, two = mcnemar_midp(np.array([12, 4, 0]), np.array([4, 12, 0]))
    assert one[0] < 0.05 < one[1]
    assert two[0] == pytest.approx(two[1])
    assert (one[2], two[2]) == (0.5, 1.0)  # no discordant pairs


def test_tango_interval_fagerland_airway_example():
    # Fagerland et al. 2014, AHR data: n11=1, n12=1, n21=7, n22=12 (n=21), difference
    # (n12 − n21)/n = −6/21. In evalbot's terms: 7 examples got worse (b), 1 better (c).
    low, high = tango_interval(b=7, c=1, n=21, confidence=0.95)
    assert low == pytest.approx(-0.5172, abs=1e-4)
    assert high == pytest.approx(-0.0260, abs=1e-4)
    # Relabelling the sides mirrors the interval.
    assert tango_interval(b=1, c=7, n=21, confidence=0.95) == pytest.approx((-high, -low))


def test_tango_z_at_zero_is_mcnemar_z():
    for b, c, n in [(12, 4, 50), (3, 9, 200), (20, 20, 100)]:
        assert tango_z(b, c, n, 0.0) == pytest.approx((c - b) / math.sqrt(b + c))


def test_tango_interval_without_discordant_pairs_is_finite():
    z = stats.norm.ppf(0.95)
    low, high = tango_interval(0, 0, 200, 0.90)
    assert high == pytest.approx(z**2 / (200 + z**2))
    assert low == pytest.approx(-high)


def test_tango_interval_extremes_stay_in_range():
    assert tango_interval(10, 0, 10, 0.9)[0] == -1.0
    assert tango_interval(0, 10, 10, 0.9)[1] == 1.0
    low, high = tango_interval(0, 10, 10, 0.9)
    assert 0 < low < high


def test_wilson_matches_statsmodels():
    for count, n in [(0, 20), (7, 21), (150, 200)]:
        ours = wilson_interval(count / n, n, 0.90)
        ref = proportion_confint(count, n, alpha=0.10, method="wilson")
        assert ours == pytest.approx(ref, abs=1e-12)


def test_holm_and_bh_match_statsmodels_and_scipy():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12))
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
        q = stats.false_discovery_control(p, method="bh")
        assert q == pytest.approx(multipletests(p, method="fdr_bh")[1])


def test_cluster_robust_se_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 15, size=25)
    codes = np.repeat(np.arange(25), sizes)
    y = rng.normal(size=25)[codes] + rng.normal(size=codes.size)
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": codes})
    assert cluster_robust_se(y, codes) == pytest.approx(float(fit.bse[0]), rel=1e-12)
    low, high, se = clustered_t_interval(y, codes, 0.90)
    t = stats.t.ppf(0.95, 24)
    assert (low, high) == pytest.approx((y.mean() - t * se, y.mean() + t * se))


def test_cluster_robust_se_single_cluster_is_nan():
    assert math.isnan(cluster_robust_se(np.arange(5.0), np.zeros(5, dtype=int)))


def test_signflip_exact_matches_scipy_permutation_test():
    rng = np.random.default_rng(11)
    d = rng.normal(0.3, 1, size=12)
    p_less, p_two, method = signflip_pvalues(d)
    assert method == "exact"
    mean = lambda x, axis: np.mean(x, axis=axis)  # noqa: E731
    ref_two = stats.permutation_test((d,), mean, permutation_type="samples").pvalue
    ref_less = stats.permutation_test(
        (d,), mean, permutation_type="samples", alternative="less"
    ).pvalue
    assert p_two[0] == pytest.approx(ref_two)
    assert p_less[0] == pytest.approx(ref_less)


def test_signflip_monte_carlo_close_to_scipy_and_seeded():
    rng = np.random.default_rng(12)
    d = rng.normal(0.2, 1, size=60)
    p_less, p_two, method = signflip_pvalues(d, rng=5)
    assert method == "monte-carlo"
    mean = lambda x, axis: np.mean(x, axis=axis)  # noqa: E731
    ref = stats.permutation_test((d,), mean, permutation_type="samples", rng=1).pvalue
    assert p_two[0] == pytest.approx(ref, abs=0.01)
    again = signflip_pvalues(d, rng=5)
    assert (again[0][0], again[1][0]) == (p_less[0], p_two[0])


def test_signflip_normal_limit_matches_permutation_distribution():
    rng = np.random.default_rng(13)
    d = rng.exponential(size=5000) - 1.0 + 0.03
    mc_less, mc_two, method = signflip_pvalues(d, rng=1)
    assert method == "monte-carlo"
    z = d.sum() / math.sqrt((d**2).sum())
    assert mc_two[0] == pytest.approx(2 * stats.norm.sf(abs(z)), abs=0.01)
    assert mc_less[0] == pytest.approx(stats.norm.cdf(z), abs=0.01)
    bigger = np.concatenate([d, d[:1000]])
    p_less, p_two, method = signflip_pvalues(bigger)
    assert method == "normal"
    z = bigger.sum() / math.sqrt((bigger**2).sum())
    assert (p_less[0], p_two[0]) == pytest.approx((stats.norm.cdf(z), 2 * stats.norm.sf(abs(z))))


def test_sign_test_matches_binomtest():
    assert sign_test(3, 12) == pytest.approx(
        (
            stats.binomtest(3, 15, alternative="less").pvalue,
            stats.binomtest(3, 15).pvalue,
        )
    )
    assert sign_test(0, 0) == (1.0, 1.0)


def _brute_walsh(x: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(x.size)
    return np.sort((x[i] + x[j]) / 2)


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).standard_t(2, size=2500),
        np.random.default_rng(2).integers(-5, 6, size=2200).astype(float),  # heavy ties
        np.random.default_rng(3).lognormal(3, 1.5, size=1800),
        (np.random.default_rng(4).poisson(302, 3000) - np.random.default_rng(5).poisson(300, 3000))
        * 1.0,
    ],
)
def test_walsh_order_statistics_large_n_path_matches_enumeration(values):
    total = values.size * (values.size + 1) // 2
    ranks = np.array([1, 17, total // 3, total // 2, total // 2 + 1, total - 5, total])
    assert walsh_order_statistics(values, ranks) == pytest.approx(_brute_walsh(values)[ranks - 1])


def test_hodges_lehmann_estimate_and_interval_small_n():
    x = np.array([1.5, -0.3, 2.2, 0.7, 3.1, -1.0, 0.4, 1.9, 2.8, 0.1])
    walsh = _brute_walsh(x)
    estimate, low, high = hodges_lehmann(x, 0.90)
    assert estimate == pytest.approx(np.median(walsh))
    k = signed_rank_critical(10, 0.05)
    assert k == 11  # tables: P(T+ <= 10) = 0.042, P(T+ <= 11) = 0.053 for n = 10
    assert (low, high) == pytest.approx((walsh[k - 1], walsh[walsh.size - k]))


def test_signed_rank_critical_exact_and_normal_agree_near_50():
    exact = signed_rank_critical(50, 0.05)
    mean, sd = 50 * 51 / 4, math.sqrt(50 * 51 * 101 / 24)
    normal = math.floor(mean + 0.5 - stats.norm.ppf(0.95) * sd)
    assert abs(exact - normal) <= 2
    assert signed_rank_critical(4, 0.05) == 0  # 1/16 > 0.05: no 90 % interval at n = 4
