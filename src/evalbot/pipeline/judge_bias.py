"""Judge bias checks on a diff, reported beside each judge metric (``extra["judge_bias"]``).

- **Length bias**: within each example, does the judge's score change between base and head
  follow the change in output length? The same example on both sides holds the question, its
  difficulty and the reference fixed, so what is left is the answers. Spearman's ρ between the
  length change and the score change, over examples whose length changed; flagged when its
  two-sided p is below 0.05. A PR that truly drops content makes answers shorter *and* worse, so
  a flag is a prompt to read the examples, not proof of bias.
- **Self-preference**: a judge tends to prefer text from its own model family (MT-Bench reports
  about +10 % win rate for GPT-4 judging itself). Flagged when the judge's family is the family of
  the model that wrote either side's answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from evalbot.records import MetricComparison, MetricInfo, MetricKind, SideRun

__all__ = ["LENGTH_BIAS_ALPHA", "MIN_LENGTH_PAIRS", "model_family", "with_judge_bias"]

LENGTH_BIAS_ALPHA = 0.05
MIN_LENGTH_PAIRS = 10

_FAMILIES = (
    (r"gpt|chatgpt|o\d(?:-|$)|davinci", "OpenAI GPT"),
    (r"claude", "Anthropic Claude"),
    (r"gemini|gemma|palm|bison", "Google Gemini"),
    (r"llama", "Meta Llama"),
    (r"mistral|mixtral|codestral|ministral", "Mistral"),
    (r"qwen", "Qwen"),
    (r"deepseek", "DeepSeek"),
    (r"command", "Cohere Command"),
    (r"phi-?\d", "Microsoft Phi"),
    (r"grok", "xAI Grok"),
)


def model_family(model: str | None) -> str | None:
    """The vendor family of a model id (``openai/gpt-4o-mini`` → "OpenAI GPT"), or None."""
    if not model:
        return None
    name = model.lower().rsplit("/", 1)[-1]
    for pattern, family in _FAMILIES:
        if re.match(rf"(?:{pattern})", name):
            return family
    return None


def _per_example(side: SideRun, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean score, mean output length in characters) per example; NaN where missing."""
    rows = side.scores.get(metric) or []
    n = len(side.example_ids)
    scores = np.full(n, np.nan)
    lengths = np.full(n, np.nan)
    for i in range(n):
        values = [v for v in (rows[i] if i < len(rows) else []) if v is not None]
        values = [v for v in values if math.isfinite(v)]
        if values:
            scores[i] = sum(values) / len(values)
        texts = [c.text for c in (side.outputs[i] if i < len(side.outputs) else []) if c.ok]
        if texts:
            lengths[i] = sum(len(t or "") for t in texts) / len(texts)
    return scores, lengths


def _length_bias(base: SideRun, head: SideRun, metric: str) -> dict[str, Any]:
    base_score, base_len = _per_example(base, metric)
    head_score, head_len = _per_example(head, metric)
    d_score, d_len = head_score - base_score, head_len - base_len
    keep = np.isfinite(d_score) & np.isfinite(d_len) & (d_len != 0)
    n = int(keep.sum())
    out: dict[str, Any] = {"n": n, "rho": None, "p": None, "flagged": False}
    if n < MIN_LENGTH_PAIRS or np.ptp(d_score[keep]) == 0 or np.ptp(d_len[keep]) == 0:
        return out
    result = stats.spearmanr(d_len[keep], d_score[keep])
    rho, p = float(result.statistic), float(result.pvalue)
    out.update(rho=rho, p=p, flagged=bool(p < LENGTH_BIAS_ALPHA))
    return out


def _judges(side: SideRun, metric: str) -> set[str]:
    rows = side.score_details.get(metric) or []
    return {str(d["judge"]) for row in rows for d in row if d and d.get("judge")}


def _self_preference(base: SideRun | None, head: SideRun, metric: str) -> dict[str, Any] | None:
    sides = [s for s in (base, head) if s is not None]
    judges = set().union(*(_judges(s, metric) for s in sides))
    generators = {m for s in sides for m in (s.model, *s.served_by) if m}
    for judge in sorted(judges):
        family = model_family(judge)
        same = sorted(g for g in generators if family and model_family(g) == family)
        if same:
            return {"judge": judge, "generators": same, "family": family}
    return None


def with_judge_bias(
    comparisons: list[MetricComparison],
    *,
    base: SideRun | None,
    head: SideRun,
    metrics: Sequence[MetricInfo],
) -> list[MetricComparison]:
    """Each judged metric's comparison with ``extra["judge_bias"]`` (length bias needs both
    sides and pointwise scores; self-preference needs the judge's model id in the details)."""
    from evalbot.score.base import judged_types

    judged = {m.name: m for m in metrics if m.type in judged_types()}
    out = []
    for c in comparisons:
        info = judged.get(c.metric)
        if info is None:
            out.append(c)
            continue
        bias: dict[str, Any] = {"self_preference": _self_preference(base, head, c.metric)}
        if base is not None and info.kind != MetricKind.PAIRWISE:
            bias["length"] = _length_bias(base, head, c.metric)
        out.append(c.model_copy(update={"extra": {**c.extra, "judge_bias": bias}}))
    return out
