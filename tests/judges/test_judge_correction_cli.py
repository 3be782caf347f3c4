"""`evalbot diff` with a calibrated judge: the corrected row, a stale record, a too-weak one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalbot.cli.app import main as cli_main
from evalbot.pipeline.judge_calibration import SEQUENTIAL_CALIBRATION_NOTE
from evalbot.records import MetricComparison, RunResult
from tests.fakes.openai_server import FakeOpenAI
from tests.judges import calibrated_world as world


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch):
    with FakeOpenAI(world.responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def _diff(
    tmp_path: Path, head_files: dict[str, str | None], *extra: str
) -> tuple[int, RunResult, str]:
    repo, _, _ = world.make_repo(tmp_path / "repo", head_files)
    out = tmp_path / "out"
    args = ["diff", "-C", str(repo.root), "--base", "main", "--out", str(out), "-q", *extra]
    code = cli_main(args)
    result = RunResult.model_validate_json((out / "results.json").read_text())
    return code, result, (out / "comment.md").read_text()


def _helpful(result: RunResult) -> MetricComparison:
    [suite] = result.suites
    return next(c for c in suite.comparisons if c.metric == "helpful")


def test_corrected_row_turns_a_compressed_judge_drop_into_a_regression(tmp_path, llm):
    code, result, comment = _diff(tmp_path, {})
    helpful = _helpful(result)
    correction = helpful.extra["judge_correction"]
    # The raw judge saw −0.67 and called it unchanged against the 0.9 margin ...
    assert correction["raw"]["verdict"] == "unchanged"
    assert correction["raw"]["delta"] == pytest.approx(-2 / 3)
    # ... the labels say the judge moves ~0.31 points per human point: ~−2.2 human points.
    [entry] = correction["records"]
    slope = entry["sensitivity"]["estimate"]
    assert 0.25 < slope < 0.4
    assert helpful.delta == pytest.approx(-2 / 3 / slope)
    assert helpful.ci_high is not None and helpful.ci_high < -0.9
    assert (helpful.verdict, helpful.gate) == ("regressed", "fail")
    assert code == 1
    assert "corrected" in comment and "40 labels" in comment
    assert "slope" in comment


@pytest.mark.parametrize(
    ("head_files", "reason"),
    [
        ({"rubrics/helpful.md": world.RUBRIC + "- 3: partly.\n"}, "rubric changed"),
        ({"models/judge.yaml": "provider: openai\nmodel: judge-model-2\n"}, "judge model changed"),
        ({"evals/helpful-labels.jsonl": world.labels(lambda q: min(5, q + 1))}, "labels changed"),
    ],
)
def test_stale_record_is_never_used(tmp_path, llm, head_files, reason):
    if "models/judge.yaml" in head_files:
        llm.models.append("judge-model-2")
        world_responder = llm.responder
        llm.responder = lambda body: world_responder({**body, "model": "judge-model"} if body[
            "model"] == "judge-model-2" else body)  # fmt: skip
    code, result, comment = _diff(tmp_path, head_files)
    helpful = _helpful(result)
    correction = helpful.extra["judge_correction"]
    assert correction["status"] == "uncalibrated"
    [entry] = correction["records"]
    assert entry["status"] == "stale" and reason in entry["reason"]
    assert "sensitivity" not in entry  # nothing was computed from it
    # Uncalibrated: no interval in human units, so it cannot read unchanged; on_inconclusive.
    assert (helpful.ci_low, helpful.ci_high) == (None, None)
    assert (helpful.verdict, helpful.gate) == ("inconclusive", "warn")
    assert code == 0
    assert f"stale: {reason}" in comment


def test_too_weak_calibration_is_uncalibrated(tmp_path, llm):
    """A judge whose labels show no relation to the humans' (slope ≈ 0): never divided by."""
    flat = {1: 5, 2: 4, 3: 4, 4: 4, 5: 5}
    text = world.labels()
    code, result, comment = _diff(
        tmp_path, {"judges/helpful.json": world.record(text, judge_of=flat)}
    )
    assert code == 0  # warn
    helpful = _helpful(result)
    correction = helpful.extra["judge_correction"]
    assert correction["status"] == "uncalibrated"
    [entry] = correction["records"]
    assert entry["status"] == "uncalibrated"
    assert entry["sensitivity"]["low"] <= 0.1 and not entry["sensitivity"]["calibrated"]
    assert (helpful.verdict, helpful.gate) == ("inconclusive", "warn")
    assert helpful.delta == pytest.approx(-2 / 3)  # the raw judge delta stays visible
    assert "uncalibrated" in comment


def test_merge_redoes_the_correction_from_the_results(tmp_path, llm):
    """Shards carry the label pairs in results.json: `evalbot merge` gives the same verdict."""
    repo, _, _ = world.make_repo(tmp_path / "repo", {})
    outs = []
    for shard in ("1/2", "2/2"):
        out = tmp_path / f"out{shard[0]}"
        args = ["diff", "-C", str(repo.root), "--base", "main", "--out", str(out), "-q"]
        cli_main([*args, "--shard", shard])
        outs.append(str(out))
    merged = tmp_path / "merged"
    assert cli_main(["merge", *outs, "--out", str(merged)]) == 1
    data = json.loads((merged / "results.json").read_text())
    [suite] = data["suites"]
    helpful = next(c for c in suite["comparisons"] if c["metric"] == "helpful")
    assert helpful["extra"]["judge_correction"]["status"] == "corrected"
    assert helpful["verdict"] == "regressed"


def test_agreement_only_record_of_an_older_evalbot_leaves_judge_units(tmp_path, llm):
    """A schema-1 record never corrected anything: the row stays as it was, with a hint."""
    old = json.loads(world.record(world.labels()))
    old["schema"] = "evalbot-calibration/1"
    del old["judge_values"]
    code, result, comment = _diff(tmp_path, {"judges/helpful.json": json.dumps(old)})
    helpful = _helpful(result)
    assert helpful.extra["judge_correction"]["status"] == "legacy"
    assert (helpful.verdict, helpful.delta) == ("unchanged", pytest.approx(-2 / 3))
    assert code == 0
    assert "made before corrections" in comment


def test_sequential_run_keeps_a_calibrated_suite_at_fixed_n(tmp_path, llm):
    """Early stopping gates in judge units; a suite with a calibration record is not stopped
    early, so its correction applies."""
    code, result, _ = _diff(tmp_path, {}, "--sequential")
    [suite] = result.suites
    assert suite.sequential is None
    assert SEQUENTIAL_CALIBRATION_NOTE in suite.notes
    helpful = _helpful(result)
    assert helpful.extra["judge_correction"]["status"] == "corrected"
    assert (helpful.verdict, code) == ("regressed", 1)
