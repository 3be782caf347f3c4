"""The OpenAI-compatible fake of the tests: the shipped ``evalbot.fake_openai`` (also runnable on
its own, ``python -m evalbot.fake_openai``), plus its pytest fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evalbot.fake_openai import (
    FakeOpenAI,
    Faults,
    LiteLLMGateway,
    Reply,
    Responder,
    echo_last_user,
    judge_down,
)

__all__ = [
    "FakeOpenAI",
    "Faults",
    "LiteLLMGateway",
    "Reply",
    "Responder",
    "echo_last_user",
    "fake_openai",
    "judge_down",
]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started ``FakeOpenAI`` (key ``test-key``), stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake
