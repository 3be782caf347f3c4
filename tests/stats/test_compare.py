"""compare_metric: test selection, units and direction, verdicts and edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from evalbot.records import MetricKind, Verdict
from evalbot.stats import compare_metric
from evalbot.stats._prepare import InfiniteScoreError
from evalbot.stats.intervals import hodges_lehmann

B, C, H, P = MetricKind.BINARY, MetricKind.CONTINUOUS, MetricKind.HEAVY_TAILED, MetricKind.PAIRWISE


def binary_pairs(worse: int, better: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1] * worse + [0] * better + [1] * both + [0] * neither, dtype=float)
    head = np.array([0] * worse + [1] * better + [1] * both + [0] * neither, dtype=float)
    return base, head


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


def test_infinite_scores_are_never_dropped():
    # −inf on a higher-is-better score is the worst value: kept, counted as the worst.
    c = compare_metric("s", [1.0, 2.0, 2.0, 3.0], [1.5, 2.5, -np.inf, 2.0], kind=C)
    assert c.n == 4 and c.n_dropped == 0
    assert any("counted as the worst value" in note for note in c.notes)
    # +inf would be the best value: it cannot be valued honestly, so it is an error.
    with pytest.raises(InfiniteScoreError):
        compare_metric("s", [1.0, 2.0, np.inf, 3.0], [1.5, 2.5, 1.0, 2.0], kind=C)


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


def test_samples_are_averaged_per_example_and_missing_pairs_dropped():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, size=(60, 3)).astype(float)
    head = rng.integers(0, 2, size=(60, 3)).astype(float)
    base[0] = np.nan  # every sample errored: the example is dropped
    head[1, 0] = np.nan  # one sample errored: the mean of the other two is kept
    c = compare_metric("correct", base, head, kind=B)
    assert c.samples == 3 and c.n == 59 and c.n_dropped == 1
    assert c.test.startswith("sign-flip permutation") and "betting test" in c.test
    head_means = np.nanmean(head[1:], axis=1)
    assert c.head_mean == pytest.approx(head_means.mean())
    assert any("dropped" in note for note in c.notes)


def test_seeded_and_order_invariant():
    rng = np.random.default_rng(9)
    base = rng.normal(size=80)
    head = base + rng.normal(-0.1, 1, 80)
    groups = [f"g{i % 12}" for i in range(80)]
    pairs = binary_pairs(9, 3, 50, 38)
    # Scores without groups are not in the list: the betting test reads rows in a seeded order
    # of the rows, which must not depend on the values, so it moves with the row order.
    cases = [
        (C, base, head, groups),
        (B, *pairs, None),
        (H, base, head, None),
    ]
    for kind, b, h, g in cases:
        one = compare_metric("m", b, h, kind=kind, groups=g, seed=3)
        assert one == compare_metric("m", b, h, kind=kind, groups=g, seed=3)
        perm = rng.permutation(b.size)
        other = compare_metric(
            "m", b[perm], h[perm], kind=kind, seed=3,
            groups=None if g is None else [g[i] for i in perm],
        )  # fmt: skip
        assert (other.p_value, other.ci_low, other.ci_high) == pytest.approx(
            (one.p_value, one.ci_low, one.ci_high)
        )
        assert other.verdict == one.verdict


def test_heavy_tailed_reports_hodges_lehmann_shift():
    rng = np.random.default_rng(3)
    base = rng.lognormal(6, 1, 300)
    head = base * rng.lognormal(0.1, 0.3, 300)
    c = compare_metric("latency_ms", base, head, kind=H, higher_is_better=False)
    d = head - base
    estimate, low, high = hodges_lehmann(d, 0.90)
    assert c.delta == pytest.approx(estimate)
    assert (c.ci_low, c.ci_high) == pytest.approx((low, high))
    assert c.interval_method == "Hodges–Lehmann" and c.test.startswith("signed-rank")
    assert c.extra["mean_delta_good"] == pytest.approx(-d.mean())
    assert c.verdict == Verdict.REGRESSED
    # Without ties the Walsh-count test is the signed-rank test: same p as scipy's.
    assert c.p_two_sided == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-3)
