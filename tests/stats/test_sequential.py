"""The sequential gate's error rates and savings (seeded simulation), and its decisions."""

from __future__ import annotations

import numpy as np
import pytest

from evalbot.stats.sequential import BET_GRID, Levels, capital_path, decide, first_crossing
from tests.stats import sequential_sim as sim

RUNS = 2000
BOUND = sim.ALPHA + 3 * sim.mcse(RUNS)


@pytest.mark.parametrize("kind,margin", [("binary", 0.02), ("likert", 0.2)])
def test_error_rates_hold_at_the_margin(kind, margin):
    aa = sim.simulate(sim.Design("aa", kind, 0.0, margin), runs=RUNS, n=400, batch=50, seed=1)
    boundary = sim.Design("boundary", kind, -margin, margin)
    at_margin = sim.simulate(boundary, runs=RUNS, n=400, batch=50, seed=2)
    assert aa["regressed"] <= BOUND
    assert at_margin["passed"] <= BOUND
    assert at_margin["regressed"] > 0.01  # the test is not blind at its boundary
    assert aa["max_used"] <= 1.0 and at_margin["max_used"] <= 1.0


def test_a_large_drop_stops_early_and_power_at_the_mde_is_kept():
    design = sim.Design("drop", "binary", -0.10, 0.02)
    r = sim.simulate(design, runs=RUNS, n=1000, batch=50, seed=3)
    assert r["regressed"] == pytest.approx(1.0, abs=0.005)
    assert r["used"] <= 0.5
    base = sim.Design("mde", "binary", 0.0, 0.02)
    mde = sim.fixed_mde(base, 1000)
    at_mde = sim.simulate(
        sim.Design("mde", "binary", -mde, 0.02), runs=RUNS, n=1000, batch=50, seed=4
    )
    assert at_mde["fixed_regressed"] - at_mde["regressed"] <= 0.05


def test_no_change_with_a_five_point_margin_is_shown_within_it_on_under_60_percent():
    # The bound for a true Δ of 0 and margin 5 points, at 20 % discordance (the hard
    # case: the plug-in bet used 66 % here; the mixture of fixed bets about 59 %).
    design = sim.Design("no change", "binary", 0.0, 0.05, discordance=0.2)
    r = sim.simulate(design, runs=RUNS, n=1000, batch=50, seed=7)
    assert r["used"] <= 0.6
    assert r["regressed"] == 0 and r["passed"] > 0.85
    assert r["max_used"] <= 1.0


def test_the_capital_is_the_average_of_the_fixed_bets_capitals():
    d = np.array([1.0, 0.0, -1.0, np.nan, 1.0, 0.0])
    got = np.exp(capital_path(d, -1, 1, -0.05, "greater")[0])
    seen = d[~np.isnan(d)]
    for t, upto in enumerate([1, 2, 3, 3, 4, 5]):
        # "greater" at δ0 = −0.05: the losing edge is 0.95 below δ0.
        factors = [np.prod(1 + c / 0.95 * (seen[:upto] + 0.05)) for c in BET_GRID]
        assert got[t] == pytest.approx(np.mean(factors))
    # "less" bets the other way, from the other edge (1.05 above δ0).
    less = np.exp(capital_path(d, -1, 1, -0.05, "less")[0, -1])
    assert less == pytest.approx(np.mean([np.prod(1 - c / 1.05 * (seen + 0.05)) for c in BET_GRID]))


def test_peeking_at_a_fixed_n_test_would_inflate_what_the_betting_test_holds():
    # The control: a 5 % one-sided z-test looked at every 50 examples stops on noise far more
    # often than 5 %; the betting test's "regressed" stays under its share of α.
    rng = np.random.default_rng(5)
    d = sim.deltas(sim.Design("aa", "binary", 0.0, 0.0), 2000, 1000, rng)
    looks = np.arange(50, 1001, 50)
    sums = np.cumsum(d, axis=1)[:, looks - 1]
    sd = np.sqrt(0.2)
    naive = (sums / (sd * np.sqrt(looks)) < -1.645).any(axis=1).mean()
    assert naive > 0.12
    crossed = first_crossing(capital_path(d, -1, 1, 0.0, "less"), 0.05)
    assert (crossed < 1000).mean() <= 0.05


def test_decide_names_the_verdict_and_keeps_the_row_consistent():
    levels = Levels(0.05)
    rng = np.random.default_rng(6)
    worse = rng.choice([-1.0, 0.0, 1.0], size=400, p=[0.2, 0.75, 0.05])
    state = decide(worse, low=-1, high=1, max_drop=0.02, levels=levels)
    assert state.decision == "regressed"
    assert state.upper is not None and state.upper <= -0.02
    same = np.zeros(400)
    state = decide(same, low=-1, high=1, max_drop=0.05, levels=levels)
    assert state.decision == "within_margin"
    assert state.lower is not None and state.lower >= -0.05
    few = decide(same[:5], low=-1, high=1, max_drop=0.05, levels=levels)
    assert few.decision is None  # five identical examples show nothing yet
    # Errored examples (NaN) are skipped, not counted as zeros.
    gaps = decide(np.full(50, np.nan), low=-1, high=1, max_drop=0.05, levels=levels)
    assert gaps.decision is None and gaps.n == 0 and gaps.lower is None
