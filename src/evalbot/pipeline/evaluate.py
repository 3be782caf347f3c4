"""Run one suite: render prompts, generate both sides through the shared runner, score outputs.

Both sides use the head's golden set and the head's metric definitions; only the prompt and the
model config differ. Everything is rendered before the first model call, so a template error
exits 2 without spending anything.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalbot.errors import CacheMissError
from evalbot.inputs.config import ModelConfig, SuiteConfig, load_model_config
from evalbot.inputs.render import load_prompt
from evalbot.inputs.tree import FileTree
from evalbot.records import Completion, Example, Message, MetricInfo, SideRun, Usage
from evalbot.run.providers import provider_spec
from evalbot.run.runner import ModelRunner, build_request
from evalbot.score.base import PairScorer, Scorer

__all__ = [
    "SidePlan",
    "generate",
    "judge_failures",
    "metric_info",
    "plan_side",
    "score_pairs",
    "score_side",
    "served_by",
    "usage_of",
    "with_error_rate",
]

Side = Literal["base", "head"]


@dataclass
class SidePlan:
    side: Side
    tree: FileTree
    prompt_path: str
    prompt_sha256: str
    model_path: str
    model_sha256: str
    model: ModelConfig
    messages: list[list[Message]]
    """Rendered messages per example (same order as the examples)."""


def plan_side(side: Side, tree: FileTree, suite: SuiteConfig, examples: list[Example]) -> SidePlan:
    """Load the side's prompt and model config from its tree and render every example."""
    prompt = load_prompt(tree, suite.prompt)
    model, model_sha = load_model_config(tree, suite.model)
    messages = [prompt.render(example) for example in examples]
    return SidePlan(
        side=side,
        tree=tree,
        prompt_path=suite.prompt,
        prompt_sha256=prompt.sha256,
        model_path=suite.model,
        model_sha256=model_sha,
        model=model,
        messages=messages,
    )


async def _generate(
    plan: SidePlan, examples: list[Example], samples: int, runner: ModelRunner
) -> list[list[Completion]]:
    needs_code = provider_spec(plan.model.provider).runs_user_code
    workdir: Path | None = plan.tree.materialize() if needs_code else None
    code_version = plan.tree.code_version() if needs_code else None

    async def one(i: int, k: int) -> Completion:
        request = build_request(
            plan.model,
            plan.messages[i],
            sample=k,
            vars=examples[i].vars,
            code_version=code_version,
        )
        try:
            return await runner.complete(plan.model, request, workdir=workdir)
        except CacheMissError as exc:
            raise CacheMissError(
                f"{exc.message} (suite side {plan.side}, example {examples[i].id!r}, sample {k})",
                hint="run once without --offline to record responses",
            ) from exc

    flat = await asyncio.gather(*(one(i, k) for i in range(len(examples)) for k in range(samples)))
    return [list(flat[i * samples : (i + 1) * samples]) for i in range(len(examples))]


async def _score_all(
    scorers: list[Scorer], examples: list[Example], outputs: list[list[Completion]]
) -> tuple[dict[str, list[list[float | None]]], dict[str, list[list[dict[str, Any]]]]]:
    async def one(scorer: Scorer, i: int, k: int) -> tuple[float | None, dict[str, Any]]:
        result = await scorer.score(examples[i], outputs[i][k])
        value = result.value
        if value is not None and not math.isfinite(value):
            value = None
        return value, result.details

    scores: dict[str, list[list[float | None]]] = {}
    details: dict[str, list[list[dict[str, Any]]]] = {}
    for scorer in scorers:
        samples = len(outputs[0]) if outputs else 0
        flat = await asyncio.gather(
            *(one(scorer, i, k) for i in range(len(examples)) for k in range(samples))
        )
        scores[scorer.name] = [
            [flat[i * samples + k][0] for k in range(samples)] for i in range(len(examples))
        ]
        if any(d for _, d in flat):
            details[scorer.name] = [
                [flat[i * samples + k][1] for k in range(samples)] for i in range(len(examples))
            ]
    return scores, details


def usage_of(outputs: list[list[Completion]]) -> Usage:
    """Usage of one side, from its completions (cache hits keep their recorded figures)."""
    flat = [c for row in outputs for c in row]
    latencies = [c.latency_ms for c in flat if c.latency_ms is not None and c.ok]
    return Usage(
        requests=len(flat),
        sent=sum(1 for c in flat if not c.cached),
        cache_hits=sum(1 for c in flat if c.cached),
        errors=sum(1 for c in flat if not c.ok),
        input_tokens=sum(c.input_tokens for c in flat),
        output_tokens=sum(c.output_tokens for c in flat),
        cost_usd=float(sum(c.cost_usd or 0.0 for c in flat)),
        spent_usd=float(sum(c.cost_usd or 0.0 for c in flat if not c.cached)),
        latency_p50_ms=float(np.percentile(latencies, 50)) if latencies else None,
        latency_p95_ms=float(np.percentile(latencies, 95)) if latencies else None,
    )


async def generate(
    plan: SidePlan, examples: list[Example], *, samples: int, runner: ModelRunner
) -> list[list[Completion]]:
    """All generations of one side: outputs[i][k] is sample k of example i."""
    return await _generate(plan, examples, samples, runner)


async def score_side(
    plan: SidePlan,
    examples: list[Example],
    outputs: list[list[Completion]],
    *,
    scorers: list[Scorer],
    runner: ModelRunner,
) -> SideRun:
    """Score one side's outputs. Sides are scored one after the other so that the judge usage
    measured around this call belongs to this side alone."""
    judge_before = runner.usage("judge")
    scores, details = await _score_all(scorers, examples, outputs)
    judge_after = runner.usage("judge")
    return SideRun(
        side=plan.side,
        rev=plan.tree.rev,
        sha=plan.tree.sha,
        prompt_path=plan.prompt_path,
        prompt_sha256=plan.prompt_sha256,
        model_path=plan.model_path,
        model_sha256=plan.model_sha256,
        model=plan.model.model or (plan.model.target or " ".join(plan.model.command or [])),
        provider=plan.model.provider,
        served_by=served_by(outputs),
        example_ids=[e.id for e in examples],
        groups=[e.group for e in examples],
        outputs=outputs,
        scores=scores,
        score_details=details,
        usage=usage_of(outputs),
        judge_usage=judge_after.since(judge_before),
        error_rate=_share([any(not c.ok for c in row) for row in outputs]),
    )


def served_by(outputs: list[list[Completion]]) -> list[str]:
    """Distinct models that answered, most frequent first (ties by name)."""
    counts = Counter(c.response_model for row in outputs for c in row if c.ok and c.response_model)
    return sorted(counts, key=lambda name: (-counts[name], name))


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def judge_failures(
    side: SideRun,
    judged: Collection[str],
    *,
    pairwise: Collection[str] = (),
    other: SideRun | None = None,
) -> list[bool]:
    """Per example: did a judge fail on outputs that did not fail themselves?

    A judged metric's score is ``None`` with an ``error`` detail when its judge call failed or
    never gave a valid reply; an undefined score (no claims, no context) carries a ``note``
    instead and is not a failure. Pairwise metrics (scores kept on the head) read the ``other``
    side's output too, so a failed base output there is the base's error, not the judge's.
    """
    failed = [False] * len(side.example_ids)
    for name in judged:
        rows, notes = side.scores.get(name), side.score_details.get(name)
        if rows is None or notes is None:
            continue
        for i, (values, row_notes) in enumerate(zip(rows, notes, strict=False)):
            for k, (value, detail) in enumerate(zip(values, row_notes, strict=False)):
                if value is not None or not detail or "error" not in detail:
                    continue
                read = [side.outputs[i][k]]
                if name in pairwise and other is not None:
                    read.append(other.outputs[i][k])
                if all(c.ok for c in read):
                    failed[i] = True
    return failed


def with_error_rate(
    side: SideRun,
    judged: Collection[str],
    *,
    pairwise: Collection[str] = (),
    other: SideRun | None = None,
) -> SideRun:
    """The side with ``error_rate`` (share of examples with a failed output *or* a failed judge
    call) and ``judge_errors`` (examples lost to the judge alone): both count against the
    suite's ``max_error_rate``, so a judge that is down cannot quietly remove a metric."""
    judge_failed = judge_failures(side, judged, pairwise=pairwise, other=other)
    output_failed = [any(not c.ok for c in row) for row in side.outputs]
    pairs = list(zip(output_failed, judge_failed, strict=True))
    return side.model_copy(
        update={
            "error_rate": _share([a or b for a, b in pairs]),
            "judge_errors": sum(1 for a, b in pairs if b and not a),
        }
    )


async def score_pairs(
    scorers: list[PairScorer],
    examples: list[Example],
    base: list[list[Completion]],
    head: list[list[Completion]],
) -> tuple[dict[str, list[list[float | None]]], dict[str, list[list[dict[str, Any]]]]]:
    """Pairwise judges: per example and sample, head's output against base's."""
    scores: dict[str, list[list[float | None]]] = {}
    details: dict[str, list[list[dict[str, Any]]]] = {}
    for scorer in scorers:
        samples = len(head[0]) if head else 0

        async def one(i: int, k: int, scorer: PairScorer = scorer) -> Any:
            if not (base[i][k].ok and head[i][k].ok):
                return None, {"error": "an output errored"}
            result = await scorer.compare(examples[i], base[i][k], head[i][k])
            return result.value, result.details

        flat = await asyncio.gather(
            *(one(i, k) for i in range(len(examples)) for k in range(samples))
        )
        scores[scorer.name] = [
            [flat[i * samples + k][0] for k in range(samples)] for i in range(len(examples))
        ]
        details[scorer.name] = [
            [flat[i * samples + k][1] for k in range(samples)] for i in range(len(examples))
        ]
    return scores, details


def metric_info(scorer: Scorer | PairScorer, type_name: str) -> MetricInfo:
    return MetricInfo(
        name=scorer.name,
        kind=scorer.kind,
        higher_is_better=scorer.higher_is_better,
        type=type_name,
    )
