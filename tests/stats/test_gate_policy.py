"""The gate policy is resolved in one place: ``Threshold.margin``/``implicit_margin`` turn an unset
``max_drop`` into the margin the analysis, the gate and the base/head merge all use, and the gate's
own defaults are the config's."""

from __future__ import annotations

import inspect

import pytest

from evalbot.inputs.config import GateConfig, Threshold
from evalbot.pipeline.strictest import stricter_thresholds
from evalbot.stats.gate import apply_gate


@pytest.mark.parametrize(
    ("threshold", "margin", "implicit"),
    [
        (Threshold(), 0.0, True),
        (Threshold(min=0.8), 0.0, True),
        (Threshold(max_drop=0), 0.0, False),
        (Threshold(max_drop=0.02), 0.02, False),
    ],
)
def test_an_unset_max_drop_is_resolved_once(threshold, margin, implicit):
    assert threshold.margin == margin
    assert isinstance(threshold.margin, float)
    assert threshold.implicit_margin is implicit


def test_the_gate_defaults_are_the_config_defaults():
    params = inspect.signature(apply_gate).parameters
    config = GateConfig()
    assert params["alpha"].default == config.alpha
    assert params["on_inconclusive"].default == config.on_inconclusive


def test_an_explicit_zero_margin_beats_an_unset_one_between_base_and_head():
    merged, notes = stricter_thresholds(
        {"accuracy": Threshold(max_drop=0)}, {"accuracy": Threshold()}
    )
    assert merged["accuracy"].max_drop == 0
    assert not merged["accuracy"].implicit_margin
    assert any("max_drop" in n for n in notes)
