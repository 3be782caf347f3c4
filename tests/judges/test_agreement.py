"""κ, weighted κ and α against published values and reference implementations."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evalbot.stats.agreement import bootstrap_ci, cohen_kappa, krippendorff_alpha, spearman

# Two raters grading 12 answers on a 1–5 scale: κ = 11/19 = 0.579, linear 0.776, quadratic 0.904.
RATER_1 = [2, 5, 3, 2, 1, 3, 4, 1, 4, 2, 5, 3]
RATER_2 = [1, 4, 3, 2, 1, 3, 4, 2, 5, 2, 5, 3]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units.
nan = math.nan
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]


@pytest.mark.parametrize(
    ("weights", "published"), [(None, 0.579), ("linear", 0.776), ("quadratic", 0.904)]
)
def test_cohen_kappa__fixed_example(weights: str | None, published: float) -> None:
    ours = cohen_kappa(RATER_1, RATER_2, weights=weights)  # type: ignore[arg-type]
    assert ours == pytest.approx(cohen_kappa_score(RATER_1, RATER_2, weights=weights), abs=1e-12)
    assert round(ours, 3) == published


def test_cohen_kappa__unused_category_with_explicit_scale() -> None:
    a, b = [1, 2, 2, 5], [1, 2, 5, 5]
    labels = [1, 2, 3, 4, 5]
    ours = cohen_kappa(a, b, weights="quadratic", categories=labels)
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights="quadratic", labels=labels))


def test_cohen_kappa__degenerate() -> None:
    assert math.isnan(cohen_kappa([3, 3, 3], [3, 3, 3]))
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_alpha__2011_example(level: str, published: float) -> None:
    ours = krippendorff_alpha(KRIPPENDORFF_2011, level=level)  # type: ignore[arg-type]
    reference = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
    assert ours == pytest.approx(reference, abs=1e-12)
    assert round(ours, 3) == published


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_krippendorff_alpha__random_data_matches_reference(level: str) -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 6, 40)
    data = np.clip(truth + rng.integers(-1, 2, (3, 40)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.15] = np.nan
    ours = krippendorff_alpha(data, level=level)  # type: ignore[arg-type]
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert ours == pytest.approx(reference, abs=1e-10)


def test_krippendorff_alpha__undefined_without_variation() -> None:
    assert math.isnan(krippendorff_alpha([[2, 2, 2], [2, 2, 2]], level="ordinal"))
    assert math.isnan(krippendorff_alpha([[1, nan], [nan, 2]], level="nominal"))


def test_spearman_and_bootstrap_ci__seeded() -> None:
    x = np.arange(30, dtype=float)
    y = x + np.random.default_rng(1).normal(0, 5, 30)
    assert spearman(x, x) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    first = bootstrap_ci(lambda idx: spearman(x[idx], y[idx]), 30, seed=3)
    assert first == bootstrap_ci(lambda idx: spearman(x[idx], y[idx]), 30, seed=3)
    low, high = first
    assert low is not None and high is not None
    assert low < spearman(x, y) < high <= 1.0
    assert bootstrap_ci(lambda idx: 1.0, 1) == (None, None)
