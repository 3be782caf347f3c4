"""Issue 8.8: spend and volume caps the PR cannot lift."""

from __future__ import annotations

from tests.security.conftest import VAGUE, N, run_action

UNPRICED = "provider: openai\nmodel: brand-new-model\nprice: {input: 0, output: 0}\n"


def test_max_requests_stops_sending(attack):
    ws = attack.push({"prompts/answers.md": VAGUE})
    out = run_action(
        attack.env(ws, inputs={"max-requests": "10", "concurrency": "1"}), ws, attack.github
    )
    assert out.code == 3, out.log
    assert "request cap of 10 reached" in out.result.summary
    assert len(attack.llm.requests) == 10


def test_an_unpriced_model_is_capped_at_the_conservative_default_price(attack):
    ws = attack.push(
        {
            "prompts/answers.md": VAGUE,
            "models/chat.yaml": UNPRICED,
        }
    )
    inputs = {"max-cost-usd": "0.0002", "concurrency": "1", "allow-provider-change": "true"}
    out = run_action(attack.env(ws, inputs=inputs), ws, attack.github)
    assert out.code == 3, out.log
    assert "cost cap" in out.result.summary
    assert len(attack.llm.requests) < 2 * N


def test_max_examples_refuses_before_any_call(attack):
    ws = attack.push({"prompts/answers.md": VAGUE})
    out = run_action(attack.env(ws, inputs={"max-examples": "5"}), ws, attack.github)
    assert out.code == 2, out.log
    assert "more than this workflow allows (5)" in out.result.summary
    assert attack.llm.requests == []


def test_params_that_multiply_spend_are_refused(attack):
    ws = attack.push(
        {
            "prompts/answers.md": VAGUE,
            "models/chat.yaml": "provider: openai\nmodel: gpt-4o-mini\nparams: {n: 50}\n",
        }
    )
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 2, out.log
    assert "params.n" in out.result.summary
    assert attack.llm.requests == []
