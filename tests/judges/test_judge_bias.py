"""Judge bias checks on a diff: length bias within examples, self-preference by model family."""

from __future__ import annotations

import numpy as np
import pytest

from evalbot.pipeline.judge_bias import model_family, with_judge_bias
from evalbot.records import Completion, MetricComparison, MetricInfo, MetricKind, SideRun

N = 30


def _side(name: str, texts: list[str], scores: list[float], *, model: str, judge: str) -> SideRun:
    return SideRun(
        side=name,  # type: ignore[arg-type]
        rev=name,
        sha=None,
        prompt_path="p.md",
        prompt_sha256="0",
        model_path="m.yaml",
        model_sha256="0",
        model=model,
        provider="openai",
        example_ids=[f"e{i}" for i in range(len(texts))],
        outputs=[[Completion(text=t)] for t in texts],
        scores={"helpful": [[s] for s in scores]},
        score_details={"helpful": [[{"judge": judge}] for _ in texts]},
    )


def _bias(base: SideRun, head: SideRun) -> dict:
    comparison = MetricComparison(metric="helpful", kind=MetricKind.CONTINUOUS, test="t", n=N)
    info = MetricInfo(name="helpful", kind=MetricKind.CONTINUOUS, type="llm_rubric")
    [out] = with_judge_bias([comparison], base=base, head=head, metrics=[info])
    return out.extra["judge_bias"]


def test_a_judge_that_rewards_length_is_flagged():
    rng = np.random.default_rng(0)
    base_len = rng.integers(50, 300, N)
    head_len = base_len + rng.integers(-120, 120, N)
    base_texts = ["x" * int(k) for k in base_len]
    head_texts = ["x" * int(k) for k in head_len]

    def longer_is_better(lengths):  # same content, graded by length
        return list(1 + 4 * np.clip(lengths / 400, 0, 1))

    base = _side("base", base_texts, longer_is_better(base_len), model="claude-3", judge="gpt-4o")
    head = _side("head", head_texts, longer_is_better(head_len), model="claude-3", judge="gpt-4o")
    length = _bias(base, head)["length"]
    assert length["flagged"] and length["rho"] > 0.9 and length["n"] > 20


def test_a_judge_blind_to_length_is_not_flagged():
    rng = np.random.default_rng(1)
    base_texts = ["x" * int(k) for k in rng.integers(50, 300, N)]
    head_texts = ["x" * int(k) for k in rng.integers(50, 300, N)]
    scores = list(rng.integers(1, 6, N).astype(float))
    noise = list(rng.integers(1, 6, N).astype(float))
    base = _side("base", base_texts, scores, model="m", judge="j")
    head = _side("head", head_texts, noise, model="m", judge="j")
    assert not _bias(base, head)["length"]["flagged"]


def test_same_family_judge_is_a_self_preference_risk():
    texts, scores = ["a"] * N, [3.0] * N
    base = _side("base", texts, scores, model="gpt-4o-mini-2024-07-18", judge="gpt-4o-2024-08-06")
    head = _side("head", texts, scores, model="gpt-4o-mini-2024-07-18", judge="gpt-4o-2024-08-06")
    same = _bias(base, head)["self_preference"]
    assert same == {
        "judge": "gpt-4o-2024-08-06",
        "generators": ["gpt-4o-mini-2024-07-18"],
        "family": "OpenAI GPT",
    }
    other = _side("head", texts, scores, model="claude-3-5-sonnet", judge="gpt-4o-2024-08-06")
    assert _bias(other.model_copy(update={"side": "base"}), other)["self_preference"] is None


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o-mini", "OpenAI GPT"),
        ("openai/o3-mini", "OpenAI GPT"),
        ("anthropic/claude-3-5-sonnet-20241022", "Anthropic Claude"),
        ("gemini-1.5-pro", "Google Gemini"),
        ("meta-llama/Llama-3.1-70B", "Meta Llama"),
        ("llama-3.1-70b", "Meta Llama"),
        ("mixtral-8x7b", "Mistral"),
        ("my-fine-tune", None),
        (None, None),
    ],
)
def test_model_family(model, family):
    assert model_family(model) == family
