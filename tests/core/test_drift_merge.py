"""The drift record of a sharded run: ``merge`` retests the shards' baseline scores as one run,
so the verdict is the one a single run would give (not a vote of under-powered shards)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evalbot.inputs.config import EvalbotConfig, GateConfig
from evalbot.pipeline.drift import drift_verdicts, merge_drift
from evalbot.records import (
    DriftResult,
    GateStatus,
    MetricInfo,
    MetricKind,
    SideRun,
    SuiteResult,
    SuiteStatus,
    Verdict,
)

N = 200
METRICS = [MetricInfo(name="correct", type="contains", kind=MetricKind.BINARY)]


def _head(ids: list[str], lost: set[str]) -> SideRun:
    return SideRun(
        side="head",
        rev="HEAD",
        sha="h" * 40,
        prompt_path="p.md",
        prompt_sha256="x",
        model_path="m.yaml",
        model_sha256="y",
        model="m",
        provider="openai",
        example_ids=ids,
        outputs=[[] for _ in ids],
        scores={"correct": [[0.0 if i in lost else 1.0] for i in ids]},
    )


def _record(ids: list[str]) -> DriftResult:
    return DriftResult(
        baseline_rev="v1.0",
        baseline_sha="b" * 40,
        n=len(ids),
        n_head=len(ids),
        budgets={"correct": 0.03},
        example_ids=ids,
        scores={"correct": [[1.0] for _ in ids]},
    )


def test_merged_shards_give_the_single_run_verdict():
    ids = [f"e{i}" for i in range(N)]
    lost = {f"e{i}" for i in range(0, 24, 2)}  # 12 of 200: 6 points below the baseline
    gate = GateConfig()
    whole = drift_verdicts(_record(ids), _head(ids, lost), METRICS, gate=gate, seed=0)
    assert whole.gate == GateStatus.FAIL
    halves = [ids[: N // 2], ids[N // 2 :]]
    pieces = [SuiteResult(name="s", status=SuiteStatus.EVALUATED, drift=_record(h)) for h in halves]
    shard_alone = drift_verdicts(
        _record(halves[0]), _head(halves[0], lost), METRICS, gate=gate, seed=0
    )
    merged = merge_drift(pieces, _head(ids, lost), METRICS, gate=gate, seed=0)
    assert merged is not None
    assert merged.n == N and merged.gate == GateStatus.FAIL
    [c], [w] = merged.comparisons, whole.comparisons
    assert (c.delta, c.ci_low, c.p_value, c.verdict) == (w.delta, w.ci_low, w.p_value, w.verdict)
    assert c.verdict == Verdict.REGRESSED
    assert shard_alone.comparisons[0].p_value != c.p_value


def test_drift_pairs_by_id_only():
    ids = [f"e{i}" for i in range(50)]
    record = _record([*ids[10:], "gone"])
    out = drift_verdicts(record, _head(ids, set()), METRICS, gate=GateConfig(), seed=0)
    assert out.n == 40 and out.comparisons[0].n == 40


@pytest.mark.parametrize(
    ("gate", "threshold", "message"),
    [
        ({"baseline": "--upload-pack=x"}, {}, "baseline"),
        ({}, {"max_total_drop": 3}, "max_total_drop: 3 is not a fraction"),
    ],
)
def test_bad_drift_settings_are_refused(gate, threshold, message):
    suite = {
        "name": "s",
        "prompt": "p.md",
        "model": "m.yaml",
        "dataset": "d.jsonl",
        "metrics": [{"name": "correct", "type": "contains", "value": "x"}],
        "thresholds": {"correct": threshold},
    }
    with pytest.raises(ValidationError, match=message):
        EvalbotConfig.model_validate({"version": 1, "gate": gate, "suites": [suite]})
