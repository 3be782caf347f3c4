"""What a run reads from main's history (read only: a PR, forks included, never writes): the
recent values of each metric for the sparkline, and main's flakiness record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evalbot.errors import GitError
from evalbot.history.store import DEFAULT_BRANCH, DataBranch, GitRunner
from evalbot.history.trend import (
    SPARK_LENGTH,
    chart_path,
    flakiness_path,
    history_path,
    parse_history,
)
from evalbot.pipeline.analyze import head_values
from evalbot.records import Flakiness, SuiteResult, SuiteStatus, Trend

__all__ = ["MainHistory", "open_history"]


@dataclass
class MainHistory:
    store: DataBranch | None
    chart_base: str | None = None
    """URL prefix of the data branch's files on GitHub (the Action), else None."""

    def _read(self, path: str) -> str | None:
        if self.store is None:
            return None
        try:
            return self.store.read(path)
        except GitError:
            return None  # history is decoration: an unreadable branch shows nothing

    def flakiness(self, suite: str) -> Flakiness | None:
        text = self._read(flakiness_path(suite))
        if not text:
            return None
        try:
            return Flakiness.model_validate_json(text)
        except ValueError:
            return None

    def with_trends(self, result: SuiteResult) -> SuiteResult:
        if result.status == SuiteStatus.ERROR or result.head is None:
            return result
        records = parse_history(self._read(history_path(result.name)))
        if not records:
            return result
        heads = head_values(result.head, result.metrics)
        trends = []
        for metric in dict.fromkeys(r.metric for r in records):
            series = [r for r in records if r.metric == metric][-SPARK_LENGTH:]
            path = chart_path(result.name, metric)
            chart = f"{self.chart_base}/{path}" if self.chart_base else f"{DEFAULT_BRANCH}:{path}"
            trends.append(
                Trend(
                    metric=metric,
                    values=[r.value for r in series],
                    shas=[r.sha[:12] for r in series],
                    head=heads.get(metric),
                    chart=chart,
                )
            )
        return result.model_copy(update={"trends": trends})


def open_history(root: Path, env: Mapping[str, str]) -> MainHistory:
    """The repository's data branch (``EVALBOT_DATA_BRANCH``, default ``evalbot-data``), read
    from the local refs the workflow fetched."""
    branch = env.get("EVALBOT_DATA_BRANCH") or DEFAULT_BRANCH
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}", branch):
        branch = DEFAULT_BRANCH
    store = DataBranch(GitRunner(root), branch=branch, remote="origin")
    server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    base = f"{server.rstrip('/')}/{repo}/blob/{branch}" if server and repo else None
    return MainHistory(store=store, chart_base=base)
