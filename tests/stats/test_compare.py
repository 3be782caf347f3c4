"""compare_metric: test selection, units and direction, verdicts and edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from evalbot.records import MetricKind, Verdict
from evalbot.stats import compare_metric
from evalbot.stats.clustered import clustered_t_interval
from evalbot.stats.intervals import hodges_lehmann, tango_interval, tango_z, wilson_interval

B, C, H, P = MetricKind.BINARY, MetricKind.CONTINUOUS, MetricKind.HEAVY_TAILED, MetricKind.PAIRWISE


def binary_pairs(worse: int, better: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1] * worse + [0] * better + [1] * both + [0] * neither, dtype=float)
    head = np.array([0] * worse + [1] * better + [1] * both + [0] * neither, dtype=float)
    return base, head


def test_binary_mcnemar_reference_counts():
    base, head = binary_pairs(12, 4, 150, 34)
    c = compare_metric("correct", base, head, kind=B)
    assert c.test == "McNemar mid-p" and c.interval_method == "Tango score"
    assert c.p_two_sided == pytest.approx(0.049042, abs=1e-6)
    assert c.p_value == pytest.approx(0.049042 / 2, abs=1e-6)
    assert (c.extra["b"], c.extra["c"], c.n_discordant) == (12, 4, 16)
    assert c.delta == pytest.approx(-8 / 200)
    assert (c.ci_low, c.ci_high) == pytest.approx(tango_interval(12, 4, 200, 0.90))
    assert c.confidence == pytest.approx(0.90)
    assert c.verdict == Verdict.REGRESSED
    assert c.base_mean == pytest.approx(162 / 200) and c.head_mean == pytest.approx(154 / 200)
    assert c.mde is not None and 0 < c.mde < 0.1


def test_binary_margin_uses_tango_at_the_margin():
    base, head = binary_pairs(12, 4, 150, 34)
    c = compare_metric("correct", base, head, kind=B, max_drop=0.05)
    assert c.p_value == pytest.approx(stats.norm.cdf(tango_z(12, 4, 200, -0.05)))
    assert "Tango" in c.test
    # −4 pts observed, margin 5 pts: not shown worse than the margin, not shown within it.
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.p_two_sided == pytest.approx(0.049042, abs=1e-6)  # the p column stays "any change"


def test_lower_is_better_flips_the_good_direction():
    # "error" metric: 1 = errored. Head errors on 12 more examples.
    base, head = binary_pairs(4, 12, 10, 174)
    c = compare_metric("error", base, head, kind=B, higher_is_better=False)
    assert c.delta == pytest.approx(8 / 200)
    assert c.ci_low > 0  # head − base interval, in metric units
    assert c.verdict == Verdict.REGRESSED
    assert (c.extra["worse"], c.extra["better"]) == (12, 4)
    assert (c.extra["b"], c.extra["c"]) == (4, 12)  # raw: base 1 → head 0, base 0 → head 1
    same = compare_metric("error", base, head, kind=B, higher_is_better=True)
    assert same.verdict == Verdict.IMPROVED


def test_samples_are_averaged_per_example_and_missing_pairs_dropped():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, size=(60, 3)).astype(float)
    head = rng.integers(0, 2, size=(60, 3)).astype(float)
    base[0] = np.nan  # every sample errored: the example is dropped
    head[1, 0] = np.nan  # one sample errored: the mean of the other two is kept
    c = compare_metric("correct", base, head, kind=B)
    assert c.samples == 3 and c.n == 59 and c.n_dropped == 1
    assert c.test.startswith("sign-flip permutation") and c.interval_method == "paired t"
    head_means = np.nanmean(head[1:], axis=1)
    assert c.head_mean == pytest.approx(head_means.mean())
    assert any("dropped" in note for note in c.notes)


def test_continuous_large_n_paired_t_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(3, 1, 200)
    head = base + rng.normal(-0.3, 0.5, 200)
    c = compare_metric("helpful", base, head, kind=C)
    d = head - base
    se = d.std(ddof=1) / np.sqrt(200)
    t = stats.t.ppf(0.95, 199)
    assert (c.ci_low, c.ci_high) == pytest.approx((d.mean() - t * se, d.mean() + t * se))
    assert c.verdict == Verdict.REGRESSED and c.p_value < 0.001
    assert c.mde == pytest.approx((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * se * np.sqrt(1))
    assert "corr" in c.extra


def test_continuous_small_n_uses_bca_and_says_so():
    rng = np.random.default_rng(2)
    base = rng.integers(1, 6, 12).astype(float)
    head = np.clip(base + rng.integers(-1, 2, 12), 1, 5)
    c = compare_metric("helpful", base, head, kind=C)
    assert c.test == "sign-flip permutation (exact)"
    assert "approximate" in c.interval_method
    assert any("small sample" in note for note in c.notes)


def test_heavy_tailed_reports_hodges_lehmann_shift():
    rng = np.random.default_rng(3)
    base = rng.lognormal(6, 1, 300)
    head = base * rng.lognormal(0.1, 0.3, 300)
    c = compare_metric("latency_ms", base, head, kind=H, higher_is_better=False)
    d = head - base
    estimate, low, high = hodges_lehmann(d, 0.90)
    assert c.delta == pytest.approx(estimate)
    assert (c.ci_low, c.ci_high) == pytest.approx((low, high))
    assert c.test == "Wilcoxon signed-rank (Pratt)" and c.interval_method == "Hodges–Lehmann"
    assert any("Hodges–Lehmann" in note for note in c.notes)
    assert c.extra["mean_delta_good"] == pytest.approx(-d.mean())
    assert c.verdict == Verdict.REGRESSED
    assert c.p_two_sided == pytest.approx(stats.wilcoxon(d, zero_method="pratt").pvalue)


def test_pairwise_sign_test_and_wilson_interval():
    prefs = np.array([1] * 70 + [0] * 60 + [-1] * 70 + [-1] * 0, dtype=float)
    prefs[:10] = -1  # 60 wins, 60 ties, 80 losses
    c = compare_metric("preferred", None, prefs, kind=P)
    assert c.extra["wins"] == 60 and c.extra["ties"] == 60 and c.extra["losses"] == 80
    w = (60 + 30) / 200
    assert c.base_mean == 0.5 and c.head_mean == pytest.approx(w)
    assert c.delta == pytest.approx(w - 0.5)
    assert c.p_two_sided == pytest.approx(stats.binomtest(60, 140).pvalue)
    assert c.p_value == pytest.approx(stats.binomtest(60, 140, alternative="less").pvalue)
    low, high = wilson_interval(w, 200, 0.90)
    assert (c.ci_low, c.ci_high) == pytest.approx((low - 0.5, high - 0.5))
    assert c.test == "exact sign test" and c.n_discordant == 140


def test_pairwise_with_margin_and_samples():
    prefs = np.tile(np.array([[1, 1, -1], [0, 0, 0], [-1, 1, 1], [1, -1, -1]]), (30, 1))
    c = compare_metric("preferred", None, prefs, kind=P, max_drop=0.1)
    assert c.samples == 3 and "Wilson" in c.test
    assert any("averaged over samples" in note for note in c.notes)


def test_clustered_analysis_replaces_the_kind_test():
    rng = np.random.default_rng(4)
    groups = [f"conv{i // 10}" for i in range(200)]
    base = rng.normal(size=200)
    head = base + np.repeat(rng.normal(0, 0.5, 20), 10) + rng.normal(0, 0.3, 200)
    c = compare_metric("helpful", base, head, kind=C, groups=groups)
    assert c.clusters == 20 and c.test.startswith("cluster sign-flip")
    codes = np.repeat(np.arange(20), 10)
    low, high, _ = clustered_t_interval(head - base, codes, 0.90)
    assert (c.ci_low, c.ci_high) == pytest.approx((low, high))
    assert c.extra["design_effect"] > 2
    binary = compare_metric(
        "correct", (base > 0).astype(float), (head > 0).astype(float), kind=B, groups=groups
    )
    assert binary.test.startswith("cluster sign-flip") and binary.clusters == 20


@pytest.mark.parametrize("groups", [[None] * 50, [f"g{i}" for i in range(50)]])
def test_groups_all_none_or_unique_are_not_clustered(groups):
    rng = np.random.default_rng(5)
    c = compare_metric("s", rng.normal(size=50), rng.normal(size=50), kind=C, groups=groups)
    assert c.clusters is None and c.test.startswith("sign-flip")


def test_single_cluster_is_inconclusive_with_a_note():
    rng = np.random.default_rng(6)
    c = compare_metric("s", rng.normal(size=40), rng.normal(size=40) - 1, kind=C, groups=["a"] * 40)
    assert c.verdict == Verdict.INCONCLUSIVE and c.p_value is None and c.clusters == 1
    assert any("single cluster" in note for note in c.notes)


def test_identical_outputs_are_unchanged_without_a_test_claim():
    scores = np.random.default_rng(7).integers(0, 2, 100).astype(float)
    c = compare_metric("correct", scores, scores.copy(), kind=B)
    assert c.verdict == Verdict.UNCHANGED and c.delta == 0 and c.n_discordant == 0
    assert c.p_value == 0.5 and c.p_two_sided == 1.0 and c.mde is None
    assert any("no discordant pairs" in note for note in c.notes)
    assert any("identical" in note for note in c.notes)
    for kind in (C, H):
        other = compare_metric("s", scores * 3, scores * 3, kind=kind)
        assert other.verdict == Verdict.UNCHANGED and other.delta == 0
    ties = compare_metric("pref", None, np.zeros(30), kind=P)
    assert ties.verdict == Verdict.UNCHANGED and ties.delta == 0


def test_zero_variance_nonzero_change():
    base = np.full(40, 4.0)
    c = compare_metric("s", base, base - 1, kind=C)
    assert c.verdict == Verdict.REGRESSED and c.ci_low == c.ci_high == -1
    assert any("same amount" in note for note in c.notes)


@pytest.mark.parametrize("kind", [B, C, H])
def test_no_pairs_and_single_pair(kind):
    nan = np.full(5, np.nan)
    empty = compare_metric("m", nan, np.ones(5), kind=kind)
    assert empty.verdict == Verdict.NOT_COMPARED and empty.n == 0 and empty.n_dropped == 5
    assert compare_metric("m", [], [], kind=kind).verdict == Verdict.NOT_COMPARED
    one = compare_metric("m", [1.0, np.nan], [0.0, 1.0], kind=kind)
    assert one.verdict == Verdict.INCONCLUSIVE and one.n == 1 and one.delta == -1
    assert any("single example" in note for note in one.notes)
    two = compare_metric("m", [1.0, 0.0], [0.0, 1.0], kind=kind)
    assert two.verdict in (Verdict.INCONCLUSIVE, Verdict.UNCHANGED)
    json.loads(two.model_dump_json())


def test_new_suite_without_base_is_not_compared():
    c = compare_metric("correct", None, np.ones(10), kind=B)
    assert c.verdict == Verdict.NOT_COMPARED and c.head_mean == 1.0
    assert any("no base side" in note for note in c.notes)


def test_small_discordance_caveat():
    base, head = binary_pairs(5, 1, 150, 44)
    c = compare_metric("correct", base, head, kind=B)
    assert any("6 discordant" in note for note in c.notes)


def test_verdict_states():
    rng = np.random.default_rng(8)
    n = 4000
    base = rng.normal(0, 1, n)

    def run(shift: float, margin: float) -> Verdict:
        head = base + shift + rng.normal(0, 0.5, n)
        return compare_metric("s", base, head, kind=C, max_drop=margin).verdict

    assert run(+0.1, 0.0) == Verdict.IMPROVED
    assert run(-0.1, 0.0) == Verdict.REGRESSED
    assert run(-0.01, 0.05) == Verdict.UNCHANGED  # a drop, but shown within the margin
    assert run(-0.05, 0.05) == Verdict.INCONCLUSIVE  # right at the margin
    assert run(-0.2, 0.05) == Verdict.REGRESSED  # worse than the margin


def test_seeded_and_order_invariant():
    rng = np.random.default_rng(9)
    base = rng.normal(size=80)
    head = base + rng.normal(-0.1, 1, 80)
    first = compare_metric("s", base, head, kind=C, seed=3)
    assert first == compare_metric("s", base, head, kind=C, seed=3)
    order = rng.permutation(80)
    shuffled = compare_metric("s", base[order], head[order], kind=C, seed=3)
    assert shuffled.ci_low == pytest.approx(first.ci_low)
    assert shuffled.p_value == pytest.approx(first.p_value, abs=0.02)  # Monte Carlo error
    for kind, b, h in [(B, *binary_pairs(9, 3, 50, 38)), (H, base, head)]:
        one = compare_metric("m", b, h, kind=kind)
        perm = rng.permutation(b.size)
        other = compare_metric("m", b[perm], h[perm], kind=kind)
        assert (other.p_value, other.ci_low, other.ci_high) == pytest.approx(
            (one.p_value, one.ci_low, one.ci_high)
        )


def test_infinite_scores_are_missing():
    c = compare_metric("s", [1.0, 2.0, np.inf, 3.0], [1.5, 2.5, 1.0, 2.0], kind=C)
    assert c.n == 3 and c.n_dropped == 1
    assert any("infinite" in note for note in c.notes)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        compare_metric("s", [1.0, 2.0], [1.0], kind=C)
    with pytest.raises(ValueError):
        compare_metric("s", [1.0, 2.0], [1.0, 2.0], kind=C, alpha=0.6)
    with pytest.raises(ValueError):
        compare_metric("s", [1.0, 2.0], [1.0, 2.0], kind=C, max_drop=-0.1)
    with pytest.raises(ValueError):
        compare_metric("s", [1.0, 2.0], [1.0, 2.0], kind=C, groups=["a"])
    with pytest.raises(ValueError):
        compare_metric("p", None, [2.0, 0.0], kind=P)
    with pytest.raises(ValueError):
        compare_metric("s", np.ones((2, 2, 2)), np.ones((2, 2, 2)), kind=C)


def test_records_serialize_to_strict_json():
    base, head = binary_pairs(0, 0, 5, 5)
    for kind in (B, C, H):
        json.loads(compare_metric("m", base, head, kind=kind).model_dump_json())


def test_public_api_shape():
    import inspect

    import evalbot.stats as stats_pkg

    assert stats_pkg.__all__ == sorted(stats_pkg.__all__)
    params = inspect.signature(compare_metric).parameters
    assert list(params) == [
        "metric", "base", "head", "kind", "higher_is_better", "groups",
        "alpha", "max_drop", "seed", "blocking",
    ]  # fmt: skip
    assert all(params[name].kind == inspect.Parameter.KEYWORD_ONLY for name in list(params)[3:])
