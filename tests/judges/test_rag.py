"""Claim-level RAG metrics: formulas, undefined cases (None, never a free 1.0), counts."""

from __future__ import annotations

import asyncio
import json

import pytest

from evalbot.errors import ConfigError
from evalbot.records import Completion, Example
from evalbot.score.rag import context_precision
from tests.fakes.openai_server import FakeOpenAI
from tests.judges.helpers import Harness, fenced, prompt_of, reply_json

POLICY = [
    "§2.1 Returns are accepted within 30 days of delivery.",
    "§4.1 Gift cards never expire.",
    "§2.2 A $5.99 label fee is deducted from refunds.",
]
EXAMPLE = Example(
    id="returns",
    vars={"question": "How long do I have to return something, and does it cost anything?"},
    expected="30 days; a $5.99 label fee",
    context=POLICY,
)


def scripted(
    claims: dict[str, list[str]], verdicts: dict[str, str], useful: set[str] | None = None
):
    """A judge: claims/statements per fenced text, a verdict per claim, useful passages."""

    def respond(body: dict) -> str:
        prompt = prompt_of(body)
        if prompt == "claims/1":
            return reply_json(claims=claims[fenced(body, "text")[0]])
        if prompt == "statements/1":
            return reply_json(statements=claims[fenced(body, "text")[0]])
        if prompt in ("claim-verdicts/1", "relevance-verdicts/1"):
            key = "claims" if prompt == "claim-verdicts/1" else "statements"
            items = [line.split(". ", 1)[1] for line in fenced(body, key)[0].splitlines()]
            return reply_json(
                verdicts=[{"reason": "", "verdict": verdicts.get(c, "no")} for c in items]
            )
        if prompt == "context-useful/1":
            passage = fenced(body, "passage")[0]
            return reply_json(reason="", verdict="yes" if passage in (useful or set()) else "no")
        raise AssertionError(f"unexpected prompt {prompt}")

    return respond


def _score(harness: Harness, metric_type: str, text: str, example: Example = EXAMPLE, **opts):
    async def main():
        async with harness.setup() as setup:
            scorer = harness.build(setup, name=metric_type, type=metric_type, **opts)
            return await scorer.score(example, Completion(text=text))

    return asyncio.run(main())


ANSWER = "You have 30 days. Returns are free. Gift cards expire after a year."


def test_faithfulness__supported_share(harness: Harness, fake: FakeOpenAI) -> None:
    claims = ["Returns are accepted within 30 days.", "Returns are free.", "Gift cards expire."]
    fake.responder = scripted({ANSWER: claims}, {claims[0]: "yes", claims[1]: "idk"})
    score = _score(harness, "faithfulness", ANSWER)
    assert score.value == pytest.approx(1 / 3)
    assert score.details["supported"] == 1 and score.details["total"] == 3
    assert score.details["contradicted"] == 1 and score.details["unknown"] == 1
    assert score.details["contradicted_claims"] == [claims[2]]
    verdict_call = fake.requests[-1]
    assert all(passage in fenced(verdict_call, "context")[0] for passage in POLICY)


def test_faithfulness__idk_counts_option(harness: Harness, fake: FakeOpenAI) -> None:
    claims = ["Returns are accepted within 30 days.", "Returns are free."]
    fake.responder = scripted({ANSWER: claims}, {claims[0]: "yes", claims[1]: "idk"})
    assert _score(harness, "faithfulness", ANSWER, idk_counts=True).value == 1.0


def test_faithfulness__none_on_zero_claims(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = scripted({"Happy to help!": []}, {})
    score = _score(harness, "faithfulness", "Happy to help!")
    assert score.value is None
    assert score.details["total"] == 0 and "no claim" in score.details["note"]
    assert [prompt_of(b) for b in fake.requests] == ["claims/1"]  # no verdict call


def test_faithfulness__no_context_is_none_without_calls(harness: Harness, fake: FakeOpenAI) -> None:
    example = Example(id="x", vars={"question": "Q?"})
    score = _score(harness, "faithfulness", ANSWER, example=example)
    assert score.value is None and "no context" in score.details["note"]
    assert fake.requests == []


def test_faithfulness__context_from_json_output(harness: Harness, fake: FakeOpenAI) -> None:
    output = json.dumps({"answer": "You have 30 days.", "retrieved": ["30 days to return."]})
    fake.responder = scripted({"You have 30 days.": ["30 days."]}, {"30 days.": "yes"})
    score = _score(harness, "faithfulness", output, answer_key="answer", context_key="retrieved")
    assert score.value == 1.0
    assert fenced(fake.requests[-1], "context") == ["[1] 30 days to return."]
    bad = _score(harness, "faithfulness", "plain text", answer_key="answer")
    assert bad.value is None and "not a JSON object" in bad.details["error"]


def test_verdict_count_mismatch__retried(harness: Harness, fake: FakeOpenAI) -> None:
    claims = ["A.", "B."]
    good = scripted({ANSWER: claims}, {"A.": "yes", "B.": "yes"})
    fake.responder = good
    fake.enqueue(reply_json(claims=claims), reply_json(verdicts=[{"verdict": "yes"}]))
    score = _score(harness, "faithfulness", ANSWER)
    assert score.value == 1.0
    assert [prompt_of(b) for b in fake.requests] == ["claims/1"] + ["claim-verdicts/1"] * 2


def test_answer_relevance(harness: Harness, fake: FakeOpenAI) -> None:
    statements = ["You have 30 days.", "Our stores open at 9.", "Keep the tags on."]
    fake.responder = scripted({ANSWER: statements}, {statements[0]: "yes", statements[2]: "idk"})
    score = _score(harness, "answer_relevance", ANSWER)
    assert score.value == pytest.approx(2 / 3)  # "idk" (supporting) counts as relevant
    assert score.details["irrelevant_statements"] == ["Our stores open at 9."]
    assert fenced(fake.requests[0], "question") == [EXAMPLE.vars["question"]]


def test_answer_relevance__question_var_and_missing(harness: Harness, fake: FakeOpenAI) -> None:
    example = Example(id="x", vars={"ask": "Q?"}, context=POLICY)
    fake.responder = scripted({"A.": ["A."]}, {"A.": "yes"})
    assert _score(harness, "answer_relevance", "A.", example, question_var="ask").value == 1.0
    missing = _score(harness, "answer_relevance", "A.", example)
    assert missing.value is None and "'question'" in missing.details["note"]


@pytest.mark.parametrize(
    ("useful", "expected"),
    [
        ([True, False, True], (1 / 1 + 2 / 3) / 2),
        ([False, True], (1 / 2) / 1),
        ([True, True, True], 1.0),
        ([False, False], None),
        ([], None),
    ],
)
def test_context_precision__ragas_formula(useful: list[bool], expected: float | None) -> None:
    result = context_precision(useful)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_context_precision__over_http(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = scripted({}, {}, useful={POLICY[0], POLICY[2]})
    score = _score(harness, "context_precision", "ignored")
    assert score.value == pytest.approx((1 + 2 / 3) / 2)
    assert score.details == {"useful": 2, "total": 3, "verdicts": [1, 0, 1]}


def test_context_precision__none_when_nothing_useful(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = scripted({}, {}, useful=set())
    score = _score(harness, "context_precision", "ignored")
    assert score.value is None and score.details["useful"] == 0


def test_context_recall(harness: Harness, fake: FakeOpenAI) -> None:
    reference_claims = ["Returns are accepted for 30 days.", "A $5.99 label fee applies."]
    fake.responder = scripted(
        {"30 days; a $5.99 label fee": reference_claims}, {reference_claims[0]: "yes"}
    )
    score = _score(harness, "context_recall", "ignored")
    assert score.value == 0.5
    assert score.details == {"attributable": 1, "total": 2}


def test_context_metrics__need_expected(harness: Harness, fake: FakeOpenAI) -> None:
    example = Example(id="x", vars={"question": "Q?"}, context=POLICY)
    for metric in ("context_precision", "context_recall"):
        score = _score(harness, metric, "A.", example)
        assert score.value is None and "no expected" in score.details["note"]
    assert fake.requests == []


def test_rag__option_validation(harness: Harness) -> None:
    async def main(**opts):
        async with harness.setup() as setup:
            harness.build(setup, name="m", **opts)

    with pytest.raises(ConfigError, match="unknown option"):
        asyncio.run(main(type="context_recall", idk_counts=True))
    with pytest.raises(ConfigError, match="question_var"):
        asyncio.run(main(type="faithfulness", question_var=3))
