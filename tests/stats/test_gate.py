"""apply_gate, absolute_checks and suite_gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evalbot.inputs.config import Threshold
from evalbot.records import AbsoluteCheck, GateStatus, MetricComparison, MetricKind, Verdict
from evalbot.stats import absolute_checks, apply_gate, compare_metric, suite_gate
from evalbot.stats.gate import IMPLICIT_MARGIN_NOTE, decide_verdict


def comparison(metric: str, p: float | None, ci: tuple[float, float], **fields: Any):
    verdict = decide_verdict(
        p_value=p, lower_good=ci[0], max_drop=fields.get("max_drop", 0.0), alpha=0.05
    )
    values = {
        "metric": metric,
        "kind": MetricKind.CONTINUOUS,
        "test": "sign-flip permutation",
        "n": 200,
        "delta": sum(ci) / 2,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_value": p,
        "p_two_sided": None if p is None else min(1.0, 2 * p),
        "verdict": verdict,
    }
    values.update(fields)
    return MetricComparison(**values)


def test_holm_over_the_blocking_family():
    records = [
        comparison("a", 0.01, (-0.30, -0.05)),
        comparison("b", 0.03, (-0.25, -0.01)),
        comparison("c", 0.04, (-0.20, -0.005)),
        comparison("info", 0.001, (-0.5, -0.2)),
    ]
    thresholds = {name: Threshold(max_drop=0.0) for name in "abc"}
    out = apply_gate(records, thresholds)
    assert [c.p_adjusted for c in out[:3]] == pytest.approx(
        multipletests([0.01, 0.03, 0.04], method="holm")[1]
    )
    regressed, inconclusive = Verdict.REGRESSED, Verdict.INCONCLUSIVE
    assert [c.verdict for c in out[:3]] == [regressed, inconclusive, inconclusive]
    assert [c.gate for c in out[:3]] == [GateStatus.FAIL, GateStatus.WARN, GateStatus.WARN]
    assert all(c.blocking for c in out[:3])
    assert out[3].gate == GateStatus.INFO and not out[3].blocking
    assert out[3].verdict == Verdict.REGRESSED  # informational verdicts are not adjusted
    # Frozen inputs are untouched; copies come back in order.
    assert records[1].verdict == Verdict.REGRESSED and records[1].gate == GateStatus.INFO
    assert [c.metric for c in out] == ["a", "b", "c", "info"]


def test_on_inconclusive_fail_and_passing_states():
    records = [
        comparison("inc", 0.3, (-0.1, 0.05)),
        comparison("same", 0.9, (-0.01, 0.05), max_drop=0.02),
        comparison("better", 0.99, (0.01, 0.2)),
    ]
    thresholds = {"inc": Threshold(max_drop=0), "same": Threshold(max_drop=0.02)}
    thresholds["better"] = Threshold(max_drop=0)
    out = apply_gate(records, thresholds, on_inconclusive="fail")
    assert [c.verdict for c in out] == [Verdict.INCONCLUSIVE, Verdict.UNCHANGED, Verdict.IMPROVED]
    assert [c.gate for c in out] == [GateStatus.FAIL, GateStatus.PASS, GateStatus.PASS]


def test_informational_metrics_get_bh_q_values():
    ps = [0.01, 0.2, 0.03, 0.5]
    records = [comparison(f"m{i}", p / 2, (-0.1, 0.1)) for i, p in enumerate(ps)]
    records.append(comparison("none", None, (-0.1, 0.1)))
    out = apply_gate(records, {"m1": Threshold(max_drop=0.1, blocking=False)})
    expected = stats.false_discovery_control(ps, method="bh")
    assert [c.p_adjusted for c in out[:4]] == pytest.approx(expected)
    assert out[4].p_adjusted is None
    assert all(c.gate == GateStatus.INFO and not c.blocking for c in out)


def test_min_only_threshold_implicit_zero_margin():
    records = [comparison("acc", 0.3, (-0.1, 0.05)), comparison("acc2", 0.001, (-0.3, -0.1))]
    out = apply_gate(records, {"acc": Threshold(min=0.8), "acc2": Threshold(max=0.9)})
    assert out[0].verdict == Verdict.INCONCLUSIVE and out[0].gate == GateStatus.PASS
    assert out[0].blocking and out[0].max_drop == 0.0 and IMPLICIT_MARGIN_NOTE in out[0].notes
    assert out[1].verdict == Verdict.REGRESSED and out[1].gate == GateStatus.FAIL


def test_not_compared_and_untestable_blocking_metrics_warn():
    records = [
        comparison(
            "new", None, (-0.1, 0.1), verdict=Verdict.NOT_COMPARED, ci_low=None, ci_high=None
        ),
        comparison("single", None, (-0.1, 0.1), ci_low=None, ci_high=None),
    ]
    out = apply_gate(records, {"new": Threshold(max_drop=0.0), "single": Threshold(max_drop=0.0)})
    assert [c.gate for c in out] == [GateStatus.WARN, GateStatus.WARN]
    assert out[0].verdict == Verdict.NOT_COMPARED and out[1].verdict == Verdict.INCONCLUSIVE
    assert out[0].p_adjusted is None


def test_lower_is_better_bounds_are_read_in_the_good_direction():
    base = np.random.default_rng(0).normal(100, 10, 400)
    head = base - 5 + np.random.default_rng(1).normal(0, 2, 400)
    record = compare_metric(
        "latency_ms", base, head, kind=MetricKind.CONTINUOUS, higher_is_better=False, max_drop=1.0
    )
    [out] = apply_gate([record], {"latency_ms": Threshold(max_drop=1.0)})
    assert out.verdict == Verdict.IMPROVED and out.gate == GateStatus.PASS


def test_mismatched_margin_or_alpha_raise():
    record = comparison("a", 0.2, (-0.1, 0.1))
    with pytest.raises(ValueError, match="max_drop"):
        apply_gate([record], {"a": Threshold(max_drop=0.05)})
    with pytest.raises(ValueError, match="confidence"):
        apply_gate([record], {"a": Threshold(max_drop=0.0)}, alpha=0.025)


def test_absolute_checks():
    thresholds = {
        "acc": Threshold(min=0.85, max_drop=0.02),
        "lat": Threshold(max=4000),
        "both": Threshold(min=1, max=5),
        "soft": Threshold(min=0.99, blocking=False),
        "drop_only": Threshold(max_drop=0.1),
        "gone": Threshold(min=0.5),
    }
    values = {"acc": 0.80, "lat": 3999.0, "both": 5.0, "soft": 0.1, "gone": None}
    checks = {(c.metric, c.bound): c for c in absolute_checks(values, thresholds)}
    assert set(checks) == {
        ("acc", "min"),
        ("lat", "max"),
        ("both", "min"),
        ("both", "max"),
        ("gone", "min"),
    }
    assert not checks[("acc", "min")].passed and checks[("lat", "max")].passed
    assert checks[("both", "max")].passed  # bounds are inclusive
    assert not checks[("gone", "min")].passed and "no value" in checks[("gone", "min")].note
    assert checks[("acc", "min")].value == 0.80 and checks[("acc", "min")].limit == 0.85


def _with_gate(gate: GateStatus) -> MetricComparison:
    return comparison("m", 0.5, (-0.1, 0.1), gate=gate)


def test_suite_gate_order_of_precedence():
    ok = AbsoluteCheck(metric="a", bound="min", limit=0.5, value=0.6, passed=True)
    bad = AbsoluteCheck(metric="a", bound="min", limit=0.5, value=0.4, passed=False)

    def gate(status: GateStatus, checks: list[AbsoluteCheck], head_errors: float = 0.01):
        rates = {"base": 0.0, "head": head_errors}
        return suite_gate([_with_gate(status)], checks, error_rates=rates, max_error_rate=0.05)

    assert gate(GateStatus.PASS, [ok]) == GateStatus.PASS
    assert gate(GateStatus.INFO, []) == GateStatus.PASS
    assert gate(GateStatus.WARN, [ok]) == GateStatus.WARN
    assert gate(GateStatus.WARN, [bad]) == GateStatus.FAIL
    assert gate(GateStatus.FAIL, [ok]) == GateStatus.FAIL
    assert gate(GateStatus.FAIL, [bad], head_errors=0.2) == GateStatus.ERROR
    assert gate(GateStatus.PASS, [ok], head_errors=0.05) == GateStatus.PASS  # at the budget
    assert suite_gate([], [], error_rates={}, max_error_rate=0.0) == GateStatus.PASS
