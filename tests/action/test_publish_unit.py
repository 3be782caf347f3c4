from __future__ import annotations

import evalbot.report as report
from evalbot.github.publish import CHECK_CONCLUSIONS, STATUS_STATES, annotations_for, headline
from evalbot.records import AbsoluteCheck, Verdict
from tests.report.factories import make_comparison, make_result, make_suite


def test_every_verdict_maps_to_a_conclusion_and_a_state():
    for verdict in ("pass", "fail", "neutral", "error"):
        assert CHECK_CONCLUSIONS[verdict] in ("success", "failure", "neutral")
        assert STATUS_STATES[verdict] in ("success", "failure", "error")
    assert CHECK_CONCLUSIONS["neutral"] == "neutral"
    assert STATUS_STATES["error"] == "error"


def test_headline_of_a_neutral_result_is_its_summary_clipped():
    result = make_result(verdict="neutral", summary="Not evaluated (fork PR): " + "x" * 300)
    line = headline(result, report)
    assert line.startswith("Not evaluated (fork PR)") and len(line) == 140


def test_annotations_only_on_changed_trigger_files_prompt_first():
    suite = make_suite(
        comparisons=[
            make_comparison(verdict=Verdict.INCONCLUSIVE, p=0.2),
            make_comparison("helpful", verdict=Verdict.UNCHANGED, p=0.8),
        ],
        triggers=["evals/support.jsonl", "prompts/support.yaml", "suite definition changed"],
    )
    result = make_result(suite, changed_files=["evals/support.jsonl", "prompts/support.yaml"])
    annotations = annotations_for(result, check_name="evalbot")
    assert [a["path"] for a in annotations] == ["prompts/support.yaml", "evals/support.jsonl"]
    assert {a["annotation_level"] for a in annotations} == {"warning"}
    assert annotations[0]["title"] == "evalbot: support-answers inconclusive"
    assert "helpful" not in annotations[0]["message"]


def test_crossed_absolute_threshold_is_a_failure_annotation():
    crossed = AbsoluteCheck(
        metric="latency_p95_ms", bound="max", limit=4000, value=5200, passed=False
    )
    suite = make_suite(comparisons=[], absolute=[crossed], triggers=["models/support.yaml"])
    result = make_result(suite, changed_files=["models/support.yaml"])
    [annotation] = annotations_for(result, check_name="gate")
    assert annotation["annotation_level"] == "failure"
    assert "latency_p95_ms: 5200 (needs max 4000)" in annotation["message"]
