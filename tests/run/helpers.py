"""Helpers of the run-stage tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from evalbot.inputs.config import ModelConfig
from evalbot.records import Message

__all__ = ["model_config", "run", "user"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one async test body (no pytest-asyncio in this project)."""
    return asyncio.run(coro)


def user(text: str) -> list[Message]:
    return [Message(role="system", content="be brief"), Message(role="user", content=text)]


def model_config(**fields: Any) -> ModelConfig:
    return ModelConfig.model_validate({"provider": "openai", "model": "gpt-4o-mini", **fields})
