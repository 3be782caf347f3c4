"""Helpers for judge tests: the real ModelRunner and response cache, talking real HTTP to the
loopback FakeOpenAI, with an in-memory file tree for rubrics and model configs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalbot.errors import InputError
from evalbot.inputs.config import MetricConfig, ModelConfig
from evalbot.run.cache import ResponseCache
from evalbot.run.runner import ModelRunner
from evalbot.score.base import JudgeRuntime, ScoreSetup, build_scorer
from tests.fakes.openai_server import FakeOpenAI, Reply

RUBRIC = "# Helpfulness\n\n- 5: answers with the exact policy detail.\n- 1: wrong or rude.\n"


class DictTree:
    """A FileTree over a dict (the head side's files)."""

    rev = "WORKTREE"
    sha = None

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def exists(self, path: str) -> bool:
        return path in self.files

    def read_text(self, path: str) -> str:
        if path not in self.files:
            raise InputError("file not found", file=path)
        return self.files[path]

    def label(self, path: str) -> str:
        return path

    def code_version(self) -> str | None:
        return None

    def materialize(self) -> Path:
        raise NotImplementedError


def prompt_of(body: dict) -> str:
    """The judge prompt version of a request, e.g. ``rubric-score/1``."""
    first = body["messages"][0]["content"].splitlines()[0]
    return first.removeprefix("evalbot judge prompt ").strip()


def fenced(body: dict, label: str) -> list[str]:
    """Texts fenced as ``label`` in the request's messages (first user turn)."""
    text = next(m["content"] for m in body["messages"] if m["role"] == "user")
    pattern = re.compile(rf"<({label}-[0-9a-f]{{12}})>\n(.*?)\n</\1>", re.DOTALL)
    return [m[2] for m in pattern.finditer(text)]


def reply_json(**values: Any) -> str:
    return json.dumps(values)


@dataclass
class Harness:
    fake: FakeOpenAI
    tmp: Path
    files: dict[str, str] = field(default_factory=lambda: {"rubrics/helpful.md": RUBRIC})
    judge_params: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAI_BASE_URL": self.fake.base_url, "OPENAI_API_KEY": "test-key"}

    def judge_config(self) -> ModelConfig:
        return ModelConfig(provider="openai", model="judge-model", params=self.judge_params)

    @asynccontextmanager
    async def setup(self, *, cache: str | None = "cache") -> AsyncIterator[ScoreSetup]:
        runner = ModelRunner(
            cache=ResponseCache(self.tmp / cache) if cache else None, env=self.env, max_retries=0
        )
        try:
            yield ScoreSetup(
                tree=DictTree(self.files),
                judge=JudgeRuntime(
                    runner=runner, model=self.judge_config(), model_path="models/judge.yaml"
                ),
                cache_dir=self.tmp / "artefacts",
            )
        finally:
            await runner.aclose()

    @staticmethod
    def build(setup: ScoreSetup, **metric: Any) -> Any:
        return build_scorer(MetricConfig(**metric), setup, where="evalbot.yml")


__all__ = ["RUBRIC", "DictTree", "Harness", "Reply", "fenced", "prompt_of", "reply_json"]
