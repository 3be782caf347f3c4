"""``word_count``: the number of whitespace-separated words in the output (no model call).

A length metric for answers that must stay short (or thorough). Counts are skewed, so the kind is
heavy-tailed (Wilcoxon signed-rank, Hodges–Lehmann interval). Lower is better by default, as for
``output_tokens``; set ``higher_is_better: true`` on the metric for the other direction. It takes
no options. This file and its line in ``catalog.py`` are the whole metric: copy them to add one
(docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from evalbot.inputs.config import MetricConfig
from evalbot.records import Completion, Example, MetricKind
from evalbot.score.base import MetricOptions, Score, Scorer, ScoreSetup, register

__all__ = ["WordCount"]


@dataclass
class WordCount:
    name: str
    higher_is_better: bool = False
    kind: MetricKind = MetricKind.HEAVY_TAILED

    async def score(self, example: Example, output: Completion) -> Score:
        if not output.ok or output.text is None:
            return Score(None, {"error": (output.error or "no output")[:120]})
        return Score(float(len(output.text.split())))

    def check(self, example: Example) -> None:
        """Nothing to render per example (for ``evalbot validate``)."""


class WordCountOptions(MetricOptions):
    """None: every key besides name, type and higher_is_better is refused."""


@register("word_count", options=WordCountOptions)
def _word_count(metric: MetricConfig, setup: ScoreSetup, _: WordCountOptions) -> Scorer:
    direction = False if metric.higher_is_better is None else metric.higher_is_better
    return WordCount(name=metric.name, higher_is_better=direction)
