"""pairwise: position swap, identical-output short cut, bias diagnostics."""

from __future__ import annotations

import asyncio

import pytest

from evalbot.records import Completion, Example, MetricKind
from evalbot.score.pairwise import pairwise_diagnostics
from tests.fakes.openai_server import FakeOpenAI
from tests.judges.helpers import Harness, fenced, reply_json

PAIRS = [
    (f"Answer {i}: " + "short" * (i % 3 + 1), f"Answer {i}: " + "detailed " * (2 * i + 1))
    for i in range(12)
]
"""(base, head) outputs; head is longer for even i, shorter never: lengths differ everywhere."""


def _compare(harness: Harness, pairs: list[tuple[str, str]], **metric: object):
    async def main():
        async with harness.setup() as setup:
            scorer = harness.build(setup, name="preferred", type="pairwise", **metric)
            assert scorer.kind == MetricKind.PAIRWISE
            return await asyncio.gather(
                *(
                    scorer.compare(
                        Example(id=f"e{i}", vars={"question": "Q?"}),
                        Completion(text=base),
                        Completion(text=head),
                    )
                    for i, (base, head) in enumerate(pairs)
                )
            )

    return asyncio.run(main())


def always_first(body: dict) -> str:
    return reply_json(reason="A is better.", winner="A")


def prefers_longer(body: dict) -> str:
    a, b = fenced(body, "answer")
    return reply_json(reason="More detail.", winner="A" if len(a) > len(b) else "B")


def test_always_first_judge__zero_consistency_all_ties(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = always_first
    scores = _compare(harness, PAIRS)
    assert [s.value for s in scores] == [0.0] * len(PAIRS)
    assert all(s.details["consistent"] is False for s in scores)
    assert len(fake.requests) == 2 * len(PAIRS)
    diagnostics = pairwise_diagnostics([s.details for s in scores])
    assert diagnostics["position_consistency"] == 0.0
    assert diagnostics["first_slot_rate"] == 1.0
    assert diagnostics["pairs"] == len(PAIRS)


def test_both_orders_are_sent(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = always_first
    _compare(harness, PAIRS[:1])
    orders = sorted(tuple(fenced(b, "answer")) for b in fake.requests)
    base, head = PAIRS[0]
    assert orders == sorted([(base, head), (head, base)])


def test_length_biased_judge__flagged(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = prefers_longer
    pairs = [(b, h) if i % 2 == 0 else (h, b) for i, (b, h) in enumerate(PAIRS)]
    scores = _compare(harness, pairs)
    # Consistent across orders, so each verdict stands: the longer side always wins.
    assert [s.value for s in scores] == [1.0 if i % 2 == 0 else -1.0 for i in range(len(pairs))]
    diagnostics = pairwise_diagnostics([s.details for s in scores])
    assert diagnostics["position_consistency"] == 1.0
    assert diagnostics["longer_win_rate"] == 1.0
    assert diagnostics["length_corr"] == pytest.approx(1.0, abs=0.2)
    assert diagnostics["length_bias"] is True


def test_identical_outputs__tie_without_a_call(harness: Harness, fake: FakeOpenAI) -> None:
    scores = _compare(harness, [("Thirty  days.\n", " Thirty days.")])
    assert scores[0].value == 0.0 and scores[0].details["identical"] is True
    assert fake.requests == []


def test_consistent_verdicts_and_ties(harness: Harness, fake: FakeOpenAI) -> None:
    def judge(body: dict) -> str:
        a, b = fenced(body, "answer")
        if "good" in a and "good" not in b:
            return reply_json(reason="", winner="A")
        if "good" in b and "good" not in a:
            return reply_json(reason="", winner="b")  # lower case is accepted
        return reply_json(reason="", winner="tie")

    fake.responder = judge
    scores = _compare(harness, [("bad", "good"), ("good", "bad"), ("meh", "meh too")])
    assert [s.value for s in scores] == [1.0, -1.0, 0.0]
    first = scores[0].details
    assert first["verdict_ab"] == "B" and first["verdict_ba"] == "A" and first["consistent"]
    assert first["first_slot_chosen"] == [False, True]
    assert first["length_diff"] == 1


def test_judge_error__none(harness: Harness, fake: FakeOpenAI) -> None:
    fake.responder = lambda body: "no verdict"
    scores = _compare(harness, PAIRS[:1])
    assert scores[0].value is None and "invalid judge reply" in scores[0].details["error"]


def test_rubric_option_is_fenced(harness: Harness, fake: FakeOpenAI) -> None:
    harness.files["rubrics/pref.md"] = "Prefer the answer that cites the policy."
    fake.responder = always_first
    _compare(harness, PAIRS[:1], rubric="rubrics/pref.md")
    assert fenced(fake.requests[0], "criteria") == ["Prefer the answer that cites the policy."]


def test_diagnostics__skips_errors_and_identical() -> None:
    details = [
        {"identical": True, "length_diff": 0},
        {"error": "an output errored"},
        {},
        {
            "verdict_ab": "B",
            "verdict_ba": "tie",
            "head_pref_ab": 1,
            "head_pref_ba": 0,
            "consistent": False,
            "first_slot_chosen": [False, False],
            "decisive": [True, False],
            "length_diff": 10,
        },
    ]
    diagnostics = pairwise_diagnostics(details)
    assert (diagnostics["pairs"], diagnostics["identical"], diagnostics["errors"]) == (1, 1, 1)
    assert diagnostics["position_consistency"] == 0.0
    assert diagnostics["first_slot_rate"] == 0.0
    assert diagnostics["tie_rate"] == 0.5
    assert diagnostics["length_corr"] is None and diagnostics["length_bias"] is False
    assert pairwise_diagnostics([])["position_consistency"] is None
