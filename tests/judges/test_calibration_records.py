"""Which calibration record a judge metric may use: `check_record` on a real work tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalbot.inputs.tree import WorkTree
from evalbot.pipeline.judge_calibration import JudgedMetric, check_record, judge_prompt_version
from evalbot.score.rubric import RubricScorer
from tests.judges import calibrated_world as world

HELPFUL = JudgedMetric(
    name="helpful",
    type="llm_rubric",
    judge_model="judge-model",
    rubric_sha256=json.loads(world.record(world.labels()))["rubric_sha256"],
    prompt_version=judge_prompt_version(RubricScorer),
)


def _tree(tmp_path: Path, files: dict[str, str]) -> WorkTree:
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    return WorkTree(tmp_path)


def _check(tmp_path: Path, files: dict[str, str], judged=(HELPFUL,)):
    return check_record(_tree(tmp_path, files), "cal.json", source="head", judged=list(judged))


def test_usable_record_pairs_stored_judge_values_with_the_labels_ratings(tmp_path):
    labels = world.labels()
    use = _check(tmp_path, {"cal.json": world.record(labels), world.LABELS: labels})
    assert use is not None and use.status == "usable"
    assert len(use.judge) == len(use.human) == world.N_LABELS
    rows = [json.loads(line) for line in labels.splitlines()]
    assert use.human == [float(r["human"]) for r in rows]  # read from the labels, not the record
    assert use.ids[0] == "l0"


@pytest.mark.parametrize(
    ("labels_path", "reason"),
    [("../outside.jsonl", "not in the repository"), ("missing.jsonl", "not in the repository")],
)
def test_labels_outside_or_missing_are_stale(tmp_path, labels_path, reason):
    record = world.record(world.labels(), labels=labels_path)
    use = _check(tmp_path / "repo", {"cal.json": record})
    assert use is not None and use.status == "stale" and reason in (use.reason or "")


def test_unreadable_record_is_stale_and_another_metrics_record_does_not_apply(tmp_path):
    use = _check(tmp_path / "a", {"cal.json": "{not json"})
    assert use is not None and use.status == "stale" and "not valid JSON" in (use.reason or "")
    other = world.record(world.labels(), metric="tone")
    assert _check(tmp_path / "b", {"cal.json": other, world.LABELS: world.labels()}) is None


def test_prompt_version_change_is_stale(tmp_path):
    labels = world.labels()
    record = world.record(labels, prompt_version="rubric-steps/0+rubric-score/1+data-rule/1")
    use = _check(tmp_path, {"cal.json": record, world.LABELS: labels})
    assert use is not None and use.status == "stale"
    assert "judge prompt version changed" in (use.reason or "")
