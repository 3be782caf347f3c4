"""Fixtures of the run-stage tests: the loopback OpenAI fake and the environment pointing at it."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI, fake_openai

__all__ = ["fake_env", "fake_openai"]


@pytest.fixture
def fake_env(fake_openai: FakeOpenAI) -> dict[str, str]:
    """The trusted environment, with the default variable names pointing at the fake."""
    return {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "test-key"}
