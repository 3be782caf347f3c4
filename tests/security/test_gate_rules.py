"""The stricter-of rule itself, setting by setting (the attacks are in the other test_gate_*)."""

from __future__ import annotations

import pytest

from evalbot.inputs.config import GateConfig, SuiteConfig, Threshold
from evalbot.pipeline.strictest import stricter_gate, stricter_suite, stricter_thresholds


def _t(**fields) -> Threshold:
    return Threshold(**fields)


@pytest.mark.parametrize(
    ("base", "head", "applied", "loosened"),
    [
        (_t(max_drop=0.02), _t(max_drop=0.5), _t(max_drop=0.02), "max_drop 0.02 → 0.5"),
        (_t(max_drop=0.5), _t(max_drop=0.02), _t(max_drop=0.02), None),
        (_t(min=0.8), _t(min=0.6), _t(min=0.8), "min 0.8 → 0.6"),
        (_t(min=0.6), _t(min=0.8), _t(min=0.8), None),
        (_t(min=0.8), _t(max_drop=0.1), _t(min=0.8), "min 0.8 → none"),
        (_t(max=0.1), _t(max=0.3), _t(max=0.1), "max 0.1 → 0.3"),
        (_t(max_drop=0.1), _t(max_drop=0.1, blocking=False), _t(max_drop=0.1), "blocking"),
        (_t(min=0.5), _t(min=0.5, max_drop=0.1), _t(min=0.5), "max_drop none → 0.1"),
        (_t(min=0.5), _t(min=0.5, max_drop=0), _t(min=0.5, max_drop=0), None),
        (_t(max_drop=0), _t(), _t(max_drop=0), "max_drop 0 → none"),
        (None, _t(max_drop=0.3), _t(max_drop=0.3), None),
        (_t(max_drop=0.02), None, _t(max_drop=0.02), "removes the threshold of m"),
    ],
)
def test_each_threshold_setting_is_the_stricter(base, head, applied, loosened):
    merged, notes = stricter_thresholds({"m": base} if base else {}, {"m": head} if head else {})
    assert merged["m"] == applied
    if loosened is None:
        assert notes == []
    else:
        assert any(loosened in note for note in notes), notes
        assert all("applies until it is merged" in note for note in notes)


def test_gate_settings_are_the_stricter_and_alpha_waits_for_the_merge():
    base = GateConfig(alpha=0.05, on_inconclusive="fail", max_error_rate=0.05)
    head = GateConfig(alpha=0.01, on_inconclusive="warn", max_error_rate=0.2)
    gate, notes = stricter_gate(base, head)
    assert (gate.alpha, gate.on_inconclusive, gate.max_error_rate) == (0.05, "fail", 0.05)
    assert len(notes) == 3
    tighter = GateConfig(alpha=0.05, on_inconclusive="fail", max_error_rate=0.01)
    gate, notes = stricter_gate(GateConfig(), tighter)
    assert (gate.on_inconclusive, gate.max_error_rate, notes) == ("fail", 0.01, [])


@pytest.mark.parametrize("base_on", [False, True])
def test_a_pr_switching_sequential_waits_for_the_merge(base_on):
    gate, notes = stricter_gate(GateConfig(sequential=base_on), GateConfig(sequential=not base_on))
    assert gate.sequential is base_on
    assert notes and "gate sequential" in notes[0]


def test_fewer_samples_waits_for_the_merge():
    files = {"prompt": "p.md", "model": "m.yaml", "dataset": "g.jsonl"}
    base = SuiteConfig(name="s", samples=5, **files)
    held, notes = stricter_suite(SuiteConfig(name="s", samples=1, **files), base)
    assert held.samples == 5
    assert notes == [
        "s: This PR loosens samples 5 → 1: the base's setting applies until it is merged."
    ]
    more, notes = stricter_suite(SuiteConfig(name="s", samples=8, **files), base)
    assert (more.samples, notes) == (8, [])
