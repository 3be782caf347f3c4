"""``pairwise``: head's output against base's, judged in both orders (MT-Bench position swap).

Per example the judge sees (A=base, B=head) and (A=head, B=base). Both orders must name the same
winner; otherwise the result is a tie (FastChat's conservative default, ``play_a_match_pair``).
Outputs identical after whitespace normalisation are a tie without any call, so an unchanged
answer can never move the metric. Value: +1 head wins, 0 tie, −1 head loses.

``pairwise_diagnostics`` summarises the judge's known biases over a run: position consistency,
first-slot preference, and the rank correlation between preference and length difference.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from evalbot.inputs.config import MetricConfig
from evalbot.records import Completion, Example, MetricKind
from evalbot.score.base import MetricOptions, Score, ScoreSetup, register
from evalbot.score.judge_io import (
    Judge,
    ask_judge,
    expected_text,
    fence,
    load_prompt,
    optional_fence,
    render_input,
    resolve_judge,
)

__all__ = [
    "LENGTH_BIAS_MIN_PAIRS",
    "LENGTH_BIAS_MIN_RHO",
    "PairwiseOptions",
    "PairwiseScorer",
    "build_pairwise",
    "pairwise_diagnostics",
]

LENGTH_BIAS_MIN_RHO = 0.5
LENGTH_BIAS_MIN_PAIRS = 10
Winner = Literal["A", "B", "tie"]


class _PairReply(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    reason: str = ""
    winner: Winner

    @field_validator("winner", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().strip("\"'[]").lower()
            return {"a": "A", "b": "B", "tie": "tie", "draw": "tie"}.get(text, value)
        return value


def _squash(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _head_preference(winner: Winner, head_slot: Literal["A", "B"]) -> int:
    if winner == "tie":
        return 0
    return 1 if winner == head_slot else -1


class PairwiseScorer:
    kind = MetricKind.PAIRWISE
    higher_is_better = True
    judge_prompts = ("pairwise",)
    """evalbot's prompts it renders: a new version makes a calibration record stale."""

    def __init__(self, name: str, *, judge: Judge, rubric: str | None = None) -> None:
        self.name = name
        self.judge = judge
        self.rubric = rubric

    async def _verdict(
        self, example: Example, first: str, second: str
    ) -> tuple[_PairReply | None, str | None]:
        messages = load_prompt("pairwise").render(
            rubric=optional_fence("criteria", self.rubric),
            input=fence("input", render_input(example)),
            reference=optional_fence("reference", expected_text(example)),
            answer_a=fence("answer", first),
            answer_b=fence("answer", second),
        )
        reply = await ask_judge(self.judge, messages, _PairReply)
        return reply.parsed, reply.error

    async def compare(self, example: Example, base: Completion, head: Completion) -> Score:
        if not (base.ok and head.ok):
            return Score(None, {"error": "an output errored; not judged"})
        base_text, head_text = base.text or "", head.text or ""
        length_diff = len(_squash(head_text)) - len(_squash(base_text))
        if _squash(base_text) == _squash(head_text):
            return Score(0.0, {"identical": True, "length_diff": 0})
        import asyncio  # here, not at import: `validate` builds scorers but never awaits one

        (ab, ab_error), (ba, ba_error) = await asyncio.gather(
            self._verdict(example, base_text, head_text),
            self._verdict(example, head_text, base_text),
        )
        if ab is None or ba is None:
            return Score(None, {"error": ab_error or ba_error, "length_diff": length_diff})
        pref_ab = _head_preference(ab.winner, "B")
        pref_ba = _head_preference(ba.winner, "A")
        consistent = pref_ab == pref_ba
        return Score(
            float(pref_ab) if consistent else 0.0,
            {
                "verdict_ab": ab.winner,
                "verdict_ba": ba.winner,
                "head_pref_ab": pref_ab,
                "head_pref_ba": pref_ba,
                "consistent": consistent,
                "first_slot_chosen": [ab.winner == "A", ba.winner == "A"],
                "decisive": [ab.winner != "tie", ba.winner != "tie"],
                "length_diff": length_diff,
                "reason_ab": ab.reason.strip()[:300],
                "reason_ba": ba.reason.strip()[:300],
            },
        )


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy import stats

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    rho = float(stats.spearmanr(x, y).statistic)
    return rho if math.isfinite(rho) else None


def pairwise_diagnostics(details: list[dict[str, Any]]) -> dict[str, Any]:
    """Judge-bias figures over a run's pairwise details (errored and identical pairs skipped).

    * ``position_consistency``: share of judged pairs whose two orders agree (MT-Bench reports
      65 % for GPT-4 under its default prompt).
    * ``first_slot_rate``: share of decisive verdicts (not tie) that chose slot A; 0.5 is fair.
    * ``length_corr``: Spearman ρ between the head preference averaged over both orders and the
      length difference (head − base, characters); ``length_bias`` when |ρ| ≥ 0.5 over at least
      10 pairs whose lengths differ.
    """
    judged = [d for d in details if d and "verdict_ab" in d and "verdict_ba" in d]
    decisive = [flag for d in judged for flag in d.get("decisive", [])]
    first = [
        chosen
        for d in judged
        for chosen, counts in zip(
            d.get("first_slot_chosen", []), d.get("decisive", []), strict=False
        )
        if counts
    ]
    varied = [d for d in judged if d.get("length_diff")]
    prefs = [(d["head_pref_ab"] + d["head_pref_ba"]) / 2 for d in varied]
    lengths = [float(d["length_diff"]) for d in varied]
    rho = _spearman(prefs, lengths)
    longer_won = [(p > 0) == (n > 0) for p, n in zip(prefs, lengths, strict=True) if p != 0]
    return {
        "pairs": len(judged),
        "identical": sum(1 for d in details if d and d.get("identical")),
        "errors": sum(1 for d in details if d and "error" in d),
        "position_consistency": _rate(sum(1 for d in judged if d.get("consistent")), len(judged)),
        "first_slot_rate": _rate(sum(first), len(first)),
        "tie_rate": _rate(sum(1 for flag in decisive if not flag), len(decisive)),
        "length_corr": rho,
        "longer_win_rate": _rate(sum(longer_won), len(longer_won)),
        "length_bias": bool(
            rho is not None
            and abs(rho) >= LENGTH_BIAS_MIN_RHO
            and len(varied) >= LENGTH_BIAS_MIN_PAIRS
        ),
    }


class PairwiseOptions(MetricOptions):
    rubric: Any = None
    """An optional rubric file the judge compares against."""
    judge: Any = None
    """A model config path for this metric's judge; checked by ``resolve_judge``."""


@register("pairwise", options=PairwiseOptions)
def build_pairwise(
    metric: MetricConfig, setup: ScoreSetup, options: PairwiseOptions
) -> PairwiseScorer:
    rubric = None
    if options.rubric is not None:
        path = options.rubric
        if not isinstance(path, str) or not setup.tree.exists(path):
            raise ValueError(f"rubric file {path!r} not found")
        rubric = setup.tree.read_text(path)
    return PairwiseScorer(metric.name, judge=resolve_judge(metric, setup), rubric=rubric)
