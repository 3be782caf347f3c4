"""Built-in metrics: added by the pipeline to every suite, always available by name in
thresholds (latency, output tokens, cost, errors)."""

from __future__ import annotations

from dataclasses import dataclass

from evalbot.records import Completion, Example, MetricKind
from evalbot.score.base import Score, Scorer

__all__ = ["CostUsd", "ErrorRate", "LatencyMs", "OutputTokens", "builtin_scorers"]


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class LatencyMs:
    """Latency of the call in ms, errored calls included (lower is better)."""

    name: str = "latency_ms"
    kind: MetricKind = MetricKind.HEAVY_TAILED
    higher_is_better: bool = False

    async def score(self, example: Example, output: Completion) -> Score:
        return Score(output.latency_ms)


@dataclass
class OutputTokens:
    """Output tokens of the call; None when it errored (lower is better)."""

    name: str = "output_tokens"
    kind: MetricKind = MetricKind.HEAVY_TAILED
    higher_is_better: bool = False

    async def score(self, example: Example, output: Completion) -> Score:
        return Score(float(output.output_tokens) if output.ok else None)


@dataclass
class CostUsd:
    """Cost of the call in USD; None when it errored or the model has no ``price``."""

    name: str = "cost_usd"
    kind: MetricKind = MetricKind.HEAVY_TAILED
    higher_is_better: bool = False

    async def score(self, example: Example, output: Completion) -> Score:
        return Score(output.cost_usd if output.ok else None)


@dataclass
class ErrorRate:
    """1 when the call errored (after retries), else 0 (lower is better)."""

    name: str = "error"
    kind: MetricKind = MetricKind.BINARY
    higher_is_better: bool = False

    async def score(self, example: Example, output: Completion) -> Score:
        if output.ok:
            return Score(0.0)
        return Score(1.0, {"error": _short(output.error or "no output")})


def builtin_scorers() -> list[Scorer]:
    """The four built-ins (fresh instances), in the order they are reported."""
    return [LatencyMs(), OutputTokens(), CostUsd(), ErrorRate()]
