import math

import pytest

from evalbot.records import MetricKind
from evalbot.report.formatting import MINUS, Unit, format_p, scale_for, unit_of


@pytest.mark.parametrize(
    ("metric", "kind", "unit"),
    [
        ("correct", MetricKind.BINARY, Unit.PERCENT),
        ("helpful", MetricKind.CONTINUOUS, Unit.SCORE),
        ("latency_ms", MetricKind.HEAVY_TAILED, Unit.MS),
        ("latency_p95_ms", None, Unit.MS),
        ("cost_usd", MetricKind.HEAVY_TAILED, Unit.USD),
        ("output_tokens", MetricKind.HEAVY_TAILED, Unit.TOKENS),
        ("error", None, Unit.PERCENT),
    ],
)
def test_unit_of(metric, kind, unit):
    assert unit_of(metric, kind) == unit


def test_percent__values_points_and_interval():
    s = scale_for(Unit.PERCENT, [0.9, 0.825])
    assert s.value(0.825) == "82.5%"
    assert s.delta(-0.075) == f"{MINUS}7.5 pts"
    assert s.delta(0.03) == "+3.0 pts"
    assert s.interval(-0.121, -0.029) == f"[{MINUS}12.1, {MINUS}2.9]"
    assert s.magnitude(0.05) == "5.0 pts"


def test_score__three_significant_digits_shared_by_the_row():
    assert scale_for(Unit.SCORE, [4.12, 4.2]).value(4.2) == "4.20"
    assert scale_for(Unit.SCORE, [0.812]).delta(-0.0412) == f"{MINUS}0.041"
    assert scale_for(Unit.SCORE, [85.3]).value(85.25) == "85.2"


def test_latency__ms_below_a_second_else_s():
    assert scale_for(Unit.MS, [850, 920]).value(850) == "850 ms"
    assert scale_for(Unit.MS, [850, 1200]).delta(350) == "+0.35 s"
    assert scale_for(Unit.MS, [2300]).interval(-150, 30) == f"[{MINUS}0.15, 0.03] s"


def test_cost_and_tokens():
    assert scale_for(Unit.USD, [0.0123]).value(0.0123) == "$0.0123"
    assert scale_for(Unit.USD, [12.3]).value(12.3) == "$12.30"
    assert scale_for(Unit.USD, [0.0123]).delta(-0.0012) == f"{MINUS}$0.0012"
    assert scale_for(Unit.TOKENS, [312.4]).value(1312.4) == "1,312"


def test_missing_and_non_finite_values_show_a_dash():
    s = scale_for(Unit.PERCENT, [None, math.nan])
    assert s.value(None) == "—" and s.delta(math.nan) == "—" and s.interval(None, 0.1) == "—"


def test_rounding_to_zero_has_no_sign():
    assert scale_for(Unit.PERCENT, []).delta(-0.0001) == "0.0 pts"


def test_format_p():
    assert format_p(0.004) == "0.004"
    assert format_p(0.0004) == "<0.001"
    assert format_p(0.31) == "0.310"
    assert format_p(None) == "—" and format_p(math.nan) == "—"


def test_totals_are_dollars_as_they_are_and_per_call_costs_say_per_1k_calls():
    from evalbot.report.formatting import Unit, scale_for, usd_total

    # A run total of $0.000124 used to read "$0.124 /1k" (per 1k of what?).
    assert usd_total(0.000124) == "$0.000124"
    assert usd_total(0.031) == "$0.0310"
    assert usd_total(0.12) == "$0.120"
    assert usd_total(12.5) == "$12.50"
    assert usd_total(0.0) == "$0.00"
    per_call = scale_for(Unit.USD, [0.00012])
    assert per_call.value(0.00012) == "$0.120 /1k calls"
