"""llm_rubric: logprob-weighted scores, frozen steps, cache reuse, configuration errors."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from evalbot.errors import ConfigError
from evalbot.records import Completion, Example, TokenLogprob
from evalbot.score.rubric import FrozenSteps, weighted_score
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.judges.helpers import Harness, fenced, prompt_of, reply_json

EXAMPLE = Example(
    id="returns",
    vars={"question": "How long do I have to return something?"},
    expected="30 days",
    context=["§2.1 Return window: 30 days from delivery."],
)
STEPS = ["Check the answer states the return window.", "Check it matches the policy."]

# The score token's top alternatives: p(4)=.60, p(5)=.30, p(3)=.05 are valid; "four" is not an
# integer, "7" is off the 1–5 scale and p(2)=.005 is under the 0.01 floor: all dropped.
SCORE_ALTERNATIVES = [
    ("4", math.log(0.60)),
    ("5", math.log(0.30)),
    (" 3", math.log(0.05)),
    ("four", math.log(0.02)),
    ("7", math.log(0.015)),
    ("2", math.log(0.005)),
]
HAND_COMPUTED = (4 * 0.60 + 5 * 0.30 + 3 * 0.05) / (0.60 + 0.30 + 0.05)  # = 4.2631578…


def _reply_with_logprobs() -> Reply:
    tokens = ['{"', "score", '":', " "]
    logprobs = [(t, -0.01, [(t, -0.01)]) for t in tokens]
    logprobs.append(("4", math.log(0.60), SCORE_ALTERNATIVES))
    logprobs += [(t, -0.02, [(t, -0.02)]) for t in [',"', "reason", '":"', "Exact.", '"}']]
    return Reply(content=reply_json(score=4, reason="Exact."), logprobs=logprobs)


def _responder(score_reply: Reply | str):
    def respond(body: dict) -> Reply | str:
        if prompt_of(body) == "rubric-steps/1":
            return reply_json(steps=STEPS)
        return score_reply

    return respond


def _score(harness: Harness, text: str = "You have 30 days.", **metric: object):
    async def main():
        async with harness.setup() as setup:
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md", **metric
            )
            return await scorer.score(EXAMPLE, Completion(text=text))

    return asyncio.run(main())


def test_weighted_score__equals_hand_computation() -> None:
    position = [TokenLogprob(token=t, logprob=lp) for t, lp in SCORE_ALTERNATIVES]
    before = [TokenLogprob(token='{"', logprob=0.0)]
    result = weighted_score([before, position], raw=4, lo=1, hi=5)
    assert result is not None
    assert result.value == pytest.approx(HAND_COMPUTED, abs=1e-12)
    assert result.probs == pytest.approx({3: 0.05 / 0.95, 4: 0.60 / 0.95, 5: 0.30 / 0.95})
    assert result.confidence == pytest.approx(0.60 / 0.95)


def test_weighted_score__none_without_logprobs() -> None:
    assert weighted_score(None, raw=3, lo=1, hi=5) is None
    assert weighted_score([[TokenLogprob(token="x", logprob=0.0)]], raw=3, lo=1, hi=5) is None


def test_llm_rubric__logprob_weighted_over_http(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = _responder(_reply_with_logprobs())
    score = _score(harness)
    assert score.value == pytest.approx(HAND_COMPUTED, abs=1e-9)
    assert score.details["raw"] == 4
    assert score.details["weighted"] == pytest.approx(HAND_COMPUTED, abs=1e-6)
    assert score.details["confidence"] == pytest.approx(0.60 / 0.95, abs=1e-6)
    assert score.details["reason"] == "Exact."
    grading = fake.requests[-1]
    assert grading["logprobs"] is True and grading["top_logprobs"] == 20
    assert fenced(grading, "reference") == ["30 days"]
    assert fenced(grading, "steps") == ["1. " + STEPS[0] + "\n2. " + STEPS[1]]


def test_llm_rubric__parsed_integer_without_logprobs(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = _responder(reply_json(score=3, reason="Vague."))
    score = _score(harness, logprobs=False)
    assert score.value == 3.0 and score.details["weighted"] is None
    assert "logprobs" not in fake.requests[-1]


def test_llm_rubric__steps_frozen_once_and_reused(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = _responder(reply_json(score=5, reason="Good."))
    first = _score(harness)
    steps_file = Path(first.details["steps_file"])
    frozen = FrozenSteps.model_validate_json(steps_file.read_text())
    assert frozen.steps == STEPS and frozen.judge_model == "judge-model"
    assert frozen.version == 1 and len(frozen.rubric_sha256) == 64
    assert steps_file.parent == harness.tmp / "artefacts" / "judge-steps"
    assert first.details["steps"] == "generated"

    # A later run with an empty response cache still reuses the frozen steps file.
    fake.reset()

    async def later():
        async with harness.setup(cache="other-cache") as setup:
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md"
            )
            return await asyncio.gather(
                scorer.score(EXAMPLE, Completion(text="base answer")),
                scorer.score(EXAMPLE, Completion(text="head answer")),
            )

    base, head = asyncio.run(later())
    assert [prompt_of(b) for b in fake.requests] == ["rubric-score/1"] * 2
    assert base.details["steps"] == head.details["steps"] == "frozen"
    # The frozen steps are what the judge sees.
    assert all(STEPS[0] in fenced(b, "steps")[0] for b in fake.requests)


def test_llm_rubric__concurrent_scores_generate_steps_once(
    harness: Harness, fake: FakeOpenAI
) -> None:
    fake.responder = _responder(reply_json(score=4, reason="ok"))

    async def main():
        async with harness.setup() as setup:
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md"
            )
            outputs = [Completion(text=f"answer {i}") for i in range(6)]
            return await asyncio.gather(*(scorer.score(EXAMPLE, o) for o in outputs))

    scores = asyncio.run(main())
    assert all(s.value == 4.0 for s in scores)
    assert [prompt_of(b) for b in fake.requests].count("rubric-steps/1") == 1


def test_llm_rubric__user_steps_file(harness: Harness, fake: FakeOpenAI) -> None:
    harness.files["rubrics/helpful.steps.md"] = "# Steps\n\n1. Read the answer.\n2. Compare.\n"
    fake.responder = _responder(reply_json(score=2, reason="Off."))
    score = _score(harness, steps="rubrics/helpful.steps.md")
    assert score.value == 2.0 and score.details["steps"] == "user"
    assert [prompt_of(b) for b in fake.requests] == ["rubric-score/1"]
    assert fenced(fake.requests[0], "steps") == ["1. Read the answer.\n2. Compare."]


def test_llm_rubric__second_run_makes_no_judge_call(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = _responder(_reply_with_logprobs())
    first = _score(harness)
    sent = len(fake.requests)
    assert sent == 2  # steps + grading

    async def again():
        async with harness.setup() as setup:
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md"
            )
            score = await scorer.score(EXAMPLE, Completion(text="You have 30 days."))
            return score, setup.judge.runner.usage("judge")  # type: ignore[union-attr]

    second, usage = asyncio.run(again())
    assert len(fake.requests) == sent
    assert usage.sent == 0 and usage.cache_hits == 1
    assert second.value == first.value  # logprobs survive the cache


def test_llm_rubric__errored_output_is_not_judged(harness: Harness, fake: FakeOpenAI) -> None:
    async def main():
        async with harness.setup() as setup:
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md"
            )
            return await scorer.score(EXAMPLE, Completion(error="timeout"))

    assert asyncio.run(main()).value is None
    assert fake.requests == []


def test_llm_rubric__judge_error_gives_none(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = lambda body: Reply(status=500, content="boom")
    score = _score(harness)
    assert score.value is None and "steps" in score.details["error"]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({}, "needs 'rubric"),
        ({"rubric": "rubrics/missing.md"}, "not found"),
        ({"rubric": "rubrics/helpful.md", "scale": [5, 1]}, "scale"),
        ({"rubric": "rubrics/helpful.md", "scale": [1, 5.5]}, "scale"),
        ({"rubric": "rubrics/helpful.md", "rubrik": "x"}, "unknown option"),
        ({"rubric": "rubrics/helpful.md", "steps": "none.md"}, "not found"),
    ],
)
def test_llm_rubric__config_errors(harness: Harness, metric: dict, message: str) -> None:
    async def main():
        async with harness.setup() as setup:
            harness.build(setup, name="helpful", type="llm_rubric", **metric)

    with pytest.raises(ConfigError, match=message):
        asyncio.run(main())


def test_llm_rubric__needs_a_judge(harness: Harness) -> None:
    async def main():
        async with harness.setup() as setup:
            setup.judge = None
            harness.build(setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md")

    with pytest.raises(ConfigError, match="needs an LLM judge"):
        asyncio.run(main())


def test_llm_rubric__judge_option_overrides_model(harness: Harness, fake: FakeOpenAI) -> None:
    harness.files["models/strong.yaml"] = "provider: openai\nmodel: strong-judge\n"
    fake.responder = _responder(reply_json(score=5, reason="ok"))
    score = _score(harness, judge="models/strong.yaml")
    assert score.details["judge"] == "strong-judge"
    assert {b["model"] for b in fake.requests} == {"strong-judge"}
    assert json.loads(Path(score.details["steps_file"]).read_text())["judge_model"] == (
        "strong-judge"
    )


def test_check_judge_metric__validates_without_a_judge(harness: Harness) -> None:
    from evalbot.inputs.config import MetricConfig
    from evalbot.score import check_judge_metric
    from tests.judges.helpers import DictTree

    tree = DictTree(harness.files)
    good = MetricConfig(name="helpful", type="llm_rubric", rubric="rubrics/helpful.md")
    check_judge_metric(good, tree, where="evalbot.yml")
    for metric in (
        MetricConfig(name="helpful", type="llm_rubric", rubric="rubrics/nope.md"),
        MetricConfig(name="f", type="faithfulness", answer_key=""),
        MetricConfig(name="p", type="pairwise", rubric="x.md"),
    ):
        with pytest.raises(ConfigError, match=f"metric '{metric.name}'"):
            check_judge_metric(metric, tree, where="evalbot.yml")


def test_llm_rubric__steps_frozen_next_to_response_cache_by_default(
    harness: Harness, fake: FakeOpenAI
) -> None:
    fake.responder = _responder(reply_json(score=5, reason="ok"))

    async def main():
        async with harness.setup() as setup:
            setup.cache_dir = None
            scorer = harness.build(
                setup, name="helpful", type="llm_rubric", rubric="rubrics/helpful.md"
            )
            return await scorer.score(EXAMPLE, Completion(text="x"))

    score = asyncio.run(main())
    assert Path(score.details["steps_file"]).parent == harness.tmp / "cache" / "judge-steps"


def test_weighted_score__finds_the_score_key_not_a_digit_in_the_reason() -> None:
    def certain(token: str) -> list[TokenLogprob]:
        return [TokenLogprob(token=token, logprob=0.0)]

    tokens = ['{"', "reason", '":"', "Within", " 5", " days", '."', ',"', "score", '":']
    rows = [certain(t) for t in tokens]
    rows.append(
        [
            TokenLogprob(token=" 5", logprob=math.log(0.7)),
            TokenLogprob(token=" 4", logprob=math.log(0.3)),
        ]
    )
    rows.append(certain("}"))
    result = weighted_score(rows, raw=5, lo=1, hi=5)
    assert result is not None and result.value == pytest.approx(4.7)
