"""Issue 18.4: the cache key holds the endpoint's normalised URL, not its variable's name."""

from __future__ import annotations

from pathlib import Path

from evalbot.run.cache import ResponseCache
from evalbot.run.openai_provider import resolve_endpoint
from evalbot.run.runner import ModelRunner, build_request
from evalbot.trust import TrustPolicy
from tests.fakes.openai_server import FakeOpenAI
from tests.run.helpers import model_config, run, user


def _ask(url: str, cache: Path, *, scope: str | None = None) -> bool:
    """Whether the answer came from the cache."""
    env = {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "test-key"}
    runner = ModelRunner(cache=ResponseCache(cache), env=env, policy=TrustPolicy(cache_scope=scope))
    cfg = model_config()

    async def once() -> bool:
        try:
            return (await runner.complete(cfg, build_request(cfg, user("hi")))).cached
        finally:
            await runner.aclose()

    return run(once())


def test_another_server_behind_the_same_variable_does_not_replay_answers(tmp_path: Path):
    with FakeOpenAI() as first, FakeOpenAI() as second:
        assert _ask(first.base_url, tmp_path) is False
        assert _ask(first.base_url + "/", tmp_path) is True  # same endpoint, normalised
        assert _ask(second.base_url, tmp_path) is False
        assert len(second.requests) == 1


def test_cache_scope_shares_answers_on_purpose(tmp_path: Path):
    with FakeOpenAI() as proxy, FakeOpenAI() as direct:
        assert _ask(direct.base_url, tmp_path, scope="prod-openai") is False
        assert _ask(proxy.base_url, tmp_path, scope="prod-openai") is True
        assert proxy.requests == []


def test_the_normalised_url_drops_default_ports_and_case():
    cfg = model_config()
    a = resolve_endpoint(cfg, {"OPENAI_BASE_URL": "HTTPS://API.example.com:443/v1/"}, None)
    b = resolve_endpoint(cfg, {"OPENAI_BASE_URL": "https://api.example.com/v1"}, None)
    assert a.base_url == b.base_url == "https://api.example.com/v1"
