"""The one-file metric: ``word_count`` through the registry, validate and a real diff."""

from __future__ import annotations

import asyncio

import pytest

from evalbot.errors import ConfigError
from evalbot.inputs.config import MetricConfig
from evalbot.records import Completion, Example, MetricKind
from evalbot.score import ScoreSetup, build_scorer, judged_types, spec_for

EX = Example(id="e1", vars={}, expected="x")


def _build(make_tree, **spec):
    metric = MetricConfig.model_validate({"name": "words", "type": "word_count", **spec})
    return build_scorer(metric, ScoreSetup(tree=make_tree({})), where="evalbot.yml")


def test_counts_words_and_errored_outputs_score_none(make_tree):
    scorer = _build(make_tree)
    assert scorer.kind == MetricKind.HEAVY_TAILED and scorer.higher_is_better is False
    words = asyncio.run(scorer.score(EX, Completion(text="  Refunds take\n30 days. ")))
    assert words.value == 4.0
    errored = asyncio.run(scorer.score(EX, Completion(error="HTTP 500", latency_ms=1.0)))
    assert errored.value is None and errored.details == {"error": "HTTP 500"}


def test_registered_as_deterministic_with_its_direction(make_tree):
    spec = spec_for("word_count")
    assert spec is not None and not spec.needs_judge and not spec.proportion
    assert "word_count" not in judged_types()
    assert _build(make_tree, higher_is_better=True).higher_is_better is True


def test_rejects_options(make_tree):
    with pytest.raises(ConfigError, match="unknown option 'max'"):
        _build(make_tree, max=3)


def test_validate_does_not_ask_a_judge_for_it(make_tree):
    from evalbot.inputs.validate import validate

    config = (
        "version: 1\nsuites:\n  - name: s\n    prompt: p.md\n    model: m.yaml\n"
        "    dataset: d.jsonl\n    metrics:\n      - {name: words, type: word_count}\n"
        "    thresholds:\n      words: {max: 50}\n"
    )
    files = {"evalbot.yml": config, "p.md": "{{q}}", "m.yaml": "provider: mock\nmodel: m\n"}
    report = validate(make_tree({**files, "d.jsonl": '{"id": "a", "q": "hi"}\n'}))
    assert report.problems == []
