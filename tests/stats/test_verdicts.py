"""Issue 10: every verdict keeps its error rate. One test per case of the issue, with its numbers.

"Boundary" = the true drop equals the margin. Rates are of verdicts (tests/stats/verdict_sim.py),
exact by enumeration where the data are discrete (limit 0.0505), else seeded simulation
(limit 0.05 + 3·MCSE). The full table is benchmarks/verdict_error_rates.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalbot.inputs.config import GateConfig, Threshold
from evalbot.records import GateStatus, MetricInfo, MetricKind, SideRun, Verdict
from evalbot.stats import apply_gate, compare_metric
from evalbot.stats.exact_binary import ExactBinary, p_values_all, tango_z_array
from evalbot.stats.intervals import tango_z
from evalbot.stats.inversion import flip_bounds
from evalbot.stats.power import margin_power, mcnemar_mde
from tests.stats import verdict_sim as sim

B, C, H, P = MetricKind.BINARY, MetricKind.CONTINUOUS, MetricKind.HEAVY_TAILED, MetricKind.PAIRWISE
EXACT_LIMIT = 0.0505
SIM_LIMIT = sim.ALPHA + 3 * sim.mcse(2000)


def binary_pairs(worse: int, better: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1] * worse + [0] * better + [1] * both + [0] * neither, dtype=float)
    head = np.array([0] * worse + [1] * better + [1] * both + [0] * neither, dtype=float)
    return base, head


def good_bounds(c) -> tuple[float | None, float | None]:
    if c.ci_low is None or c.ci_high is None:
        return None, None
    return (c.ci_low, c.ci_high) if c.higher_is_better else (-c.ci_high, -c.ci_low)


def assert_row_agrees(c) -> None:
    """The verdict is what the printed interval says at its stated level."""
    low, high = good_bounds(c)
    regressed = high is not None and high < -c.max_drop
    passed = low is not None and low > -c.max_drop
    improved = low is not None and low > 0
    expected = (
        Verdict.REGRESSED
        if regressed
        else Verdict.IMPROVED
        if improved
        else Verdict.UNCHANGED
        if passed
        else Verdict.INCONCLUSIVE
    )
    assert c.verdict == expected, (c.verdict, low, high, c.max_drop, c.p_value)
    assert (c.p_value is not None and c.p_value < 0.05) == regressed


# 1. Unbalanced clusters --------------------------------------------------------------------


@pytest.mark.parametrize("design", list(sim.CLUSTER_DESIGNS))
@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_clusters_hold_the_level_balanced_and_unbalanced(design, margin):
    # Before: 30 singles + one 30-turn conversation gave 19.6 % false "improved" (A/A) and
    # 19.6 % false pass at the boundary; sizes [2,2,3,5,10,30] 14 %; 10 singles + one 40, 36 %.
    rates = sim.clustered(sim.CLUSTER_DESIGNS[design], margin, runs=2000, seed=3)
    assert rates.regressed_aa <= SIM_LIMIT
    assert rates.regressed_boundary <= SIM_LIMIT
    assert rates.passed_boundary <= SIM_LIMIT


def test_few_clusters_warning_counts_effective_clusters():
    rng = np.random.default_rng(0)
    groups = [f"s{i}" for i in range(30)] + ["conversation"] * 30
    base, head = rng.normal(size=60), rng.normal(size=60)
    c = compare_metric("m", base, head, kind=C, groups=groups)
    assert c.clusters == 31
    assert c.extra["effective_clusters"] == pytest.approx(60**2 / (30 + 30**2))  # 3.87
    assert any("few effective clusters (3.9 of 31" in note for note in c.notes)
    assert c.test.startswith("cluster sign-flip permutation")
    balanced = compare_metric(
        "m",
        rng.normal(size=400),
        rng.normal(size=400),
        kind=C,
        groups=[f"g{i // 10}" for i in range(400)],
    )
    assert not any("few effective" in note for note in balanced.notes)


# 2. Continuous scores with n < 30 ------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 8, 15, 29])
def test_continuous_small_n_boundary_pass_rate(n):
    # Before (BCa interval): the gate passed 11.9 / 10.8 / 8.4 / 7.3 % at n = 5 / 8 / 15 / 29.
    rates = sim.simulated("symmetric", n, 0.2, runs=2000, seed=4)
    assert rates.passed_boundary <= SIM_LIMIT
    assert rates.regressed_boundary <= SIM_LIMIT


def test_continuous_degenerate_small_samples():
    # Before: n = 2, Δ = (+1, +0.5) "improved" with two-sided p = 0.5; n = 3 all +1 "improved"
    # but all −1 "inconclusive". With 2^n = 4 or 8 sign patterns no claim reaches 5 %.
    two = compare_metric("m", [0.0, 0.0], [1.0, 0.5], kind=C)
    assert two.verdict == Verdict.INCONCLUSIVE and two.p_two_sided >= 0.5
    up = compare_metric("m", [0.0] * 3, [1.0] * 3, kind=C)
    down = compare_metric("m", [1.0] * 3, [0.0] * 3, kind=C)
    assert up.verdict == down.verdict == Verdict.INCONCLUSIVE
    assert min(up.p_two_sided, down.p_two_sided) >= 0.25  # sign-flip alone: 2 × 1/8


def test_signflip_inversion_matches_scipy_permutation_test():
    rng = np.random.default_rng(5)
    d = rng.normal(0.3, 1, 12)
    bounds = flip_bounds(d, np.ones(12), 0.05)
    assert bounds.method == "exact"
    for delta0 in (-0.2, 0.0, 0.4):
        reference = stats.permutation_test(
            (d - delta0,), np.mean, permutation_type="samples", alternative="less"
        ).pvalue
        assert bounds.p_less(delta0) == pytest.approx(reference)
    # The bounds are the shifts where the one-sided p crosses α.
    assert bounds.p_less(bounds.upper + 1e-6) < 0.05 <= bounds.p_less(bounds.upper)
    assert bounds.p_greater(bounds.lower - 1e-6) < 0.05 <= bounds.p_greater(bounds.lower)


# 3. Binary and pairwise with max_drop > 0 at small n ----------------------------------------


@pytest.mark.parametrize(
    ("n", "margin", "before"), [(20, 0.10, 0.073), (30, 0.10, 0.082), (20, 0.05, 0.062)]
)
def test_binary_margin_exact_boundary_rates(n, margin, before):
    rates = sim.binary_exact(n, margin, 0.2)  # ψ = 0.2, exact enumeration
    assert rates.regressed_boundary <= EXACT_LIMIT < before
    assert rates.passed_boundary <= EXACT_LIMIT


@pytest.mark.parametrize("n", [2, 3, 5, 8, 15, 29, 30, 50])
@pytest.mark.parametrize("margin", [0.0, 0.10])
def test_binary_level_holds_at_every_discordance(n, margin):
    worst = sim.binary_exact_worst(n, margin)
    assert max(worst.regressed_aa, worst.regressed_boundary, worst.passed_boundary) <= EXACT_LIMIT


@pytest.mark.parametrize("margin", [0.05, 0.10])
def test_pairwise_n30_exact_boundary_rates(margin):
    # Before (Wilson score test): 6.9 % / 7.1 %. W − ½ = θ/2, so the W margin doubles in θ.
    rates = sim.binary_exact(30, 2 * margin, 0.6)
    assert rates.regressed_boundary <= EXACT_LIMIT
    assert rates.passed_boundary <= EXACT_LIMIT


def test_exact_unconditional_p_matches_brute_force_supremum():
    # Independent reference: scipy's multinomial pmf over a fine nuisance grid, full sum.
    n, theta = 12, -0.1
    b, c, p = p_values_all(n, theta, "less")
    z = tango_z_array(b, c, n, theta)
    outcomes = np.stack([b, c, n - b - c], axis=1)
    for i in (5, 17, 40):
        worst = 0.0
        for psi in np.linspace(abs(theta), 1, 2001):
            pmf = stats.multinomial.pmf(outcomes, n, [(psi - theta) / 2, (psi + theta) / 2,
                                                      1 - psi])  # fmt: skip
            worst = max(worst, pmf[z <= z[i] + 1e-9].sum())
        assert p[i] == pytest.approx(worst, abs=2e-3)
    assert ExactBinary(int(b[17]), int(c[17]), n).p_less(theta) == pytest.approx(p[17])


def test_tango_statistic_at_zero_is_mcnemar_z():
    assert tango_z(12, 4, 200, 0.0) == pytest.approx((4 - 12) / math.sqrt(16))
    assert tango_z_array(np.array([12]), np.array([4]), 200, -0.05)[0] == pytest.approx(
        tango_z(12, 4, 200, -0.05)
    )


def test_rows_name_the_test_actually_used():
    base, head = binary_pairs(12, 4, 150, 34)
    c = compare_metric("correct", base, head, kind=B, max_drop=0.05)
    assert c.test == "exact unconditional score test"
    assert c.interval_method == "exact score inversion"
    big = binary_pairs(12, 4, 300, 84)
    assert compare_metric("correct", *big, kind=B).test == "Tango score test (asymptotic)"
    prefs = np.array([1.0] * 10 + [0.0] * 30 + [-1.0] * 20)
    assert compare_metric("pref", None, prefs, kind=P).test.startswith(
        "exact unconditional score test (wins vs losses)"
    )


# 4. No "every example identical → unchanged" override ----------------------------------------


def test_identical_scores_need_evidence_for_unchanged():
    scores = np.array([1.0] * 14 + [0.0] * 6)
    c = compare_metric("correct", scores, scores.copy(), kind=B, max_drop=0.05)
    assert c.delta == 0 and c.n_discordant == 0
    assert c.ci_low < -0.05  # the interval still reaches past the 5-point margin
    assert c.verdict == Verdict.INCONCLUSIVE
    (gated,) = apply_gate([c], {"correct": Threshold(max_drop=0.05)})
    assert gated.gate == GateStatus.WARN
    # Before: exact false-pass rate 14.3 % at a true 5-pt drop with 10 % discordance.
    assert sim.binary_exact(20, 0.05, 0.10).passed_boundary <= EXACT_LIMIT
    # With enough examples, identical scores do show a small margin.
    many = np.array([1.0] * 300 + [0.0] * 100)
    assert compare_metric("c", many, many.copy(), kind=B, max_drop=0.05).verdict == (
        Verdict.UNCHANGED
    )


# 5. Sparse large drops -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [15, 30, 100])
def test_sparse_large_drops_keep_the_level(n):
    # Before (paired t bound): 10.2 % false pass at n = 30, 7.3 % at n = 100.
    rates = sim.simulated("sparse", n, 0.2, runs=2000, seed=6)
    assert rates.passed_boundary <= SIM_LIMIT
    assert rates.regressed_boundary <= SIM_LIMIT


@pytest.mark.parametrize("design", ["skewed-left", "skewed-right", "likert", "samples"])
def test_skewed_and_discrete_means_small_n(design):
    rates = sim.simulated(design, 8, sim.SIM_MARGINS[design], runs=2000, seed=7)
    assert max(rates.regressed_aa, rates.regressed_boundary, rates.passed_boundary) <= SIM_LIMIT


# 6. Units --------------------------------------------------------------------------------


def test_proportion_thresholds_take_fractions(tmp_path, capsys):
    from evalbot.cli import main
    from tests.inputs.test_validate import CONFIG, FILES

    for path, text in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    config = tmp_path / "evalbot.yml"
    config.write_text(CONFIG.replace("max_drop: 0.02", "max_drop: 2"), encoding="utf-8")
    assert main(["validate", "-C", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "thresholds.correct.max_drop: 2 is not a fraction" in out
    assert "did you mean 0.02?" in out
    config.write_text(CONFIG.replace("min: 0.8", "min: 85"), encoding="utf-8")
    assert main(["validate", "-C", str(tmp_path)]) == 2
    assert "did you mean 0.85?" in capsys.readouterr().out
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["validate", "-C", str(tmp_path)]) == 0


# 7. Infinite scores ----------------------------------------------------------------------


def test_infinite_latency_is_the_worst_value_not_missing():
    base = np.full(12, 100.0)
    head = np.full(12, 100.0)
    head[:10] = np.inf  # ten timeouts on head
    c = compare_metric("latency_ms", base, head, kind=H, higher_is_better=False)
    assert c.n == 12 and c.n_dropped == 0
    assert c.verdict == Verdict.REGRESSED
    assert any("counted as the worst value" in note for note in c.notes)
    from evalbot.stats._prepare import InfiniteScoreError

    with pytest.raises(InfiniteScoreError):
        compare_metric("latency_ms", base, -head, kind=H, higher_is_better=False)


# 8. A blocking metric that cannot be computed --------------------------------------------


def _side(name: str, values: list[float | None]) -> SideRun:
    return SideRun(
        side=name,  # type: ignore[arg-type]
        rev=name,
        sha=None,
        prompt_path="p",
        prompt_sha256="0",
        model_path="m",
        model_sha256="0",
        model="m",
        provider="mock",
        example_ids=[f"e{i}" for i in range(len(values))],
        outputs=[[] for _ in values],
        scores={"cost_usd": [[v] for v in values]},
    )


@pytest.mark.parametrize(
    ("policy", "status"), [("fail", GateStatus.FAIL), ("warn", GateStatus.WARN)]
)
def test_uncomputable_blocking_metric_follows_on_inconclusive(policy, status):
    from evalbot.pipeline.analyze import analyze_suite

    nothing = [None] * 20
    info = [MetricInfo(name="cost_usd", kind=H, higher_is_better=False)]
    result = analyze_suite(
        base=_side("base", nothing),
        head=_side("head", nothing),
        metrics=info,
        thresholds={"cost_usd": Threshold(max_drop=0.01)},
        gate=GateConfig(on_inconclusive=policy),  # type: ignore[arg-type]
    )
    (row,) = result.comparisons
    assert row.verdict == Verdict.NOT_COMPARED and row.gate == status
    assert result.gate == status
    informational = analyze_suite(
        base=_side("base", nothing), head=_side("head", nothing), metrics=info,
        thresholds={}, gate=GateConfig(on_inconclusive="fail"),
    )  # fmt: skip
    assert informational.comparisons == [] and informational.gate == GateStatus.PASS


# 9. Holm family ----------------------------------------------------------------------------


def test_holm_counts_only_tests_that_ran():
    rng = np.random.default_rng(9)
    base = rng.normal(3, 1, 200)
    # A real drop of ~0.25 whose one-sided p is about 0.03.
    ran = compare_metric("score", base, base + rng.normal(-0.2, 1, 200), kind=C, seed=1)
    missing = compare_metric("other", [np.nan] * 5, [np.nan] * 5, kind=C)
    assert missing.verdict == Verdict.NOT_COMPARED and missing.p_value is None
    thresholds = {"score": Threshold(max_drop=0.0), "other": Threshold(max_drop=0.1)}
    gated = apply_gate([ran, missing], thresholds)
    assert gated[0].p_adjusted == pytest.approx(ran.p_value)  # not doubled by the missing one
    assert gated[1].p_adjusted is None


def test_holm_example_from_the_issue():
    # p = 0.0327 with one uncomparable blocking metric: stays 0.0327 (before: 0.0654).
    from evalbot.records import MetricComparison

    def row(metric: str, p: float | None, verdict: Verdict) -> MetricComparison:
        return MetricComparison(
            metric=metric, kind=C, test="t", higher_is_better=True, max_drop=0.0, confidence=0.9,
            blocking=True, n=50, p_value=p, ci_low=-0.5, ci_high=-0.01, delta=-0.2,
            verdict=verdict,
        )  # fmt: skip

    gated = apply_gate(
        [row("a", 0.0327, Verdict.REGRESSED), row("b", None, Verdict.NOT_COMPARED)],
        {"a": Threshold(max_drop=0.0), "b": Threshold(max_drop=0.0)},
    )
    assert gated[0].p_adjusted == pytest.approx(0.0327)
    assert gated[0].verdict == Verdict.REGRESSED and gated[0].gate == GateStatus.FAIL


# 10. The MDE accounts for the margin ---------------------------------------------------------


def test_mde_accounts_for_the_margin():
    # b = 12, c = 4, n = 200: before, 4.95 pts at every margin; a true 4.95-pt drop was flagged
    # 5.5 % of the time at margin 0.05.
    assert mcnemar_mde(200, 0.08) == pytest.approx(0.0495, abs=5e-4)
    at_margin = mcnemar_mde(200, 0.20, max_drop=0.05)
    assert at_margin > 0.05
    assert margin_power(200, at_margin, 0.20, 0.05) == pytest.approx(0.80, abs=1e-6)
    base, head = binary_pairs(12, 4, 150, 34)
    zero = compare_metric("c", base, head, kind=B).mde
    wide = compare_metric("c", base, head, kind=B, max_drop=0.05).mde
    assert zero == pytest.approx(0.0495, abs=5e-4)
    assert wide is None  # 8 % discordance cannot show any drop beyond 5 pts with 80 % power


def test_power_cli_takes_max_drop(capsys):
    from evalbot.cli import main

    argv = ["power", "--drop", "0.10", "--discordance", "0.2", "--n", "200", "--max-drop", "0.05"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "margin (max_drop) 5 pts" in out
    assert f"{margin_power(200, 0.10, 0.2, 0.05):.3f}" in out
    assert "is beyond the 5-pt margin" in out
    assert main(["power", "--drop", "0.05", "--discordance", "0.2", "--max-drop", "0.05"]) == 2


# 11. The row never contradicts itself --------------------------------------------------------


def test_latency_with_many_unchanged_examples_agrees_with_its_interval():
    rng = np.random.default_rng(11)
    for run in range(30):
        base = 10 * np.round(rng.lognormal(4, 0.5, 80))
        head = base.copy()
        moved = rng.random(80) < 0.3
        head[moved] = base[moved] + 10 * np.round(rng.normal(0, 3, moved.sum()))
        c = compare_metric("latency_ms", base, head, kind=H, higher_is_better=False, seed=run)
        assert_row_agrees(c)


def test_three_worse_none_better_is_consistent():
    base, head = binary_pairs(3, 0, 60, 37)
    c = compare_metric("correct", base, head, kind=B)
    assert_row_agrees(c)


def test_pairwise_10_30_160_is_consistent():
    prefs = np.array([1.0] * 10 + [0.0] * 30 + [-1.0] * 160)
    c = compare_metric("pref", None, prefs, kind=P)
    assert_row_agrees(c)
    assert c.verdict == Verdict.REGRESSED and c.ci_high < 0


@pytest.mark.parametrize("kind", [B, C, H, P, "clustered"])
def test_property_verdict_agrees_with_printed_interval(kind):
    rng = np.random.default_rng(abs(hash(str(kind))) % 2**32)
    for run in range(25):
        n = int(rng.choice([2, 3, 5, 9, 14, 30, 80]))
        margin = float(rng.choice([0.0, 0.05, 0.2]))
        groups = None
        if kind == B:
            base = (rng.random(n) < 0.7).astype(float)
            head = np.where(rng.random(n) < 0.2, 1 - base, base)
            c = compare_metric("m", base, head, kind=B, max_drop=margin, seed=run)
        elif kind == P:
            prefs = rng.choice([-1.0, 0.0, 1.0], n, p=[0.4, 0.3, 0.3])
            c = compare_metric("m", None, prefs, kind=P, max_drop=margin / 2, seed=run)
        else:
            base = np.round(rng.uniform(1, 5, n))
            head = np.clip(base + rng.choice([-2, -1, 0, 0, 1], n), 1, 5)
            if kind == "clustered":
                groups = [f"g{i % max(2, n // 3)}" for i in range(n)]
            c = compare_metric(
                "m", base, head, kind=C if kind == "clustered" else kind,
                groups=groups, max_drop=margin, seed=run,
                higher_is_better=bool(run % 2),
            )  # fmt: skip
        if c.verdict != Verdict.NOT_COMPARED:
            assert_row_agrees(c)


# Issue 18, item 5: informational metrics get a practical floor ------------------------------


def _latency_side(name: str, values: np.ndarray) -> SideRun:
    side = _side(name, [float(v) for v in values])
    return side.model_copy(update={"scores": {"latency_ms": [[float(v)] for v in values]}})


@pytest.mark.parametrize(
    ("floor", "verdict"), [(0.05, Verdict.UNCHANGED), (0.0, Verdict.REGRESSED)]
)
def test_informational_latency_below_the_floor_reads_unchanged(floor, verdict):
    from evalbot.pipeline.analyze import analyze_suite

    rng = np.random.default_rng(18)
    base = 50 + rng.normal(0, 0.1, 200)  # a fixed 50 ms latency
    head = base + 0.6  # 0.6 ms slower: detectable, but 1.2 % of base
    result = analyze_suite(
        base=_latency_side("base", base),
        head=_latency_side("head", head),
        metrics=[MetricInfo(name="latency_ms", kind=H, higher_is_better=False)],
        thresholds={},
        gate=GateConfig(informational_floor=floor),
    )
    (row,) = result.comparisons
    assert row.gate == GateStatus.INFO and row.verdict == verdict
    assert row.ci_low == pytest.approx(0.6, abs=0.05)
    assert any("below the floor" in note for note in row.notes) == (floor > 0)
    assert result.gate == GateStatus.PASS
    # A change beyond the floor stays visible.
    far = analyze_suite(
        base=_latency_side("base", base), head=_latency_side("head", base + 5.0),
        metrics=[MetricInfo(name="latency_ms", kind=H, higher_is_better=False)],
        thresholds={}, gate=GateConfig(informational_floor=floor),
    )  # fmt: skip
    assert far.comparisons[0].verdict == Verdict.REGRESSED


def test_informational_floor_is_validated():
    with pytest.raises(ValueError):
        GateConfig(informational_floor=1.5)
