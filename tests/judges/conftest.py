"""Fixtures for judge tests (see helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.judges.helpers import Harness


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def harness(fake: FakeOpenAI, tmp_path: Path) -> Harness:
    return Harness(fake=fake, tmp=tmp_path)
