"""The "likely noise" mark of a flipped example that is flaky (its outcome varies with identical
inputs: this run's samples, or main's ``evalbot run --samples K`` record)."""

from __future__ import annotations

from evalbot.records import SuiteResult

__all__ = ["flaky_mark"]


def flaky_mark(suite: SuiteResult, example_id: str) -> str:
    score = suite.flaky.get(example_id)
    if not score:
        return ""
    return f" · ⚠️ likely noise: flaky, two runs on the same input disagree {score:.0%} of the time"
