"""The openai provider behind a LiteLLM-style gateway (the loopback fake taught what a real
LiteLLM 1.108 proxy does): early stop on a refusal every request gets, the renamed Retry-After,
the model that actually answered, the endpoint's own words in fatal errors, retries as set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from evalbot.errors import ProviderError
from evalbot.records import Completion
from evalbot.run.openai_provider import EARLY_STOP
from evalbot.run.runner import ModelRunner, build_request
from tests.fakes.openai_server import FakeOpenAI, LiteLLMGateway, Reply
from tests.run.helpers import model_config, run, user


@pytest.fixture
def litellm() -> Iterator[FakeOpenAI]:
    gateway = LiteLLMGateway(models={"fake-model": "openai/fake-model-2025-01-01"})
    with FakeOpenAI(gateway=gateway) as fake:
        yield fake


def _env(fake: FakeOpenAI, key: str = "test-key") -> dict[str, str]:
    return {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": key}


async def _many(runner: ModelRunner, n: int, **config: object) -> list[Completion | BaseException]:
    cfg = model_config(**{"model": "fake-model", **config})
    try:
        calls = [runner.complete(cfg, build_request(cfg, user(f"question {i}"))) for i in range(n)]
        return await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await runner.aclose()


def _errors(results: list[Completion | BaseException]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


@pytest.mark.parametrize(
    ("model", "key", "quoted"),
    [
        ("gpt-unknown", "test-key", "Invalid model name passed in model=gpt-unknown"),
        ("fake-model", "sk-wrong-key", "No connected db."),
    ],
)
def test_a_400_every_request_gets_stops_the_run_and_quotes_the_endpoint(
    litellm: FakeOpenAI, model: str, key: str, quoted: str
) -> None:
    runner = ModelRunner(env=_env(litellm, key), concurrency=1, max_retries=2)
    results = run(_many(runner, 20, model=model))
    errors = _errors(results)
    assert errors and all(isinstance(e, ProviderError) for e in errors)
    assert quoted in str(errors[0]) and "HTTP 400" in str(errors[0])
    assert "sk-wrong-key" not in str(errors[0])
    # One at a time: exactly EARLY_STOP requests reached the gateway, and all are counted.
    assert len(litellm.requests) == EARLY_STOP
    assert runner.usage().sent == EARLY_STOP


def test_a_400_about_one_example_does_not_stop_the_run(fake_openai: FakeOpenAI, fake_env) -> None:
    def responder(body: dict) -> Reply | str:
        text = body["messages"][-1]["content"]
        return Reply(f"context too long: {text}", status=400) if text.endswith("3") else "fine"

    fake_openai.responder = responder
    runner = ModelRunner(env=fake_env, concurrency=1)
    results = run(_many(runner, 20))
    assert not _errors(results)
    failed = [r for r in results if isinstance(r, Completion) and not r.ok]
    assert len(failed) == 2  # "question 3" and "question 13": distinct messages, no stop
    assert len(fake_openai.requests) == 20


def test_identical_400s_after_an_answer_do_not_stop_the_run(
    fake_openai: FakeOpenAI, fake_env
) -> None:
    fake_openai.enqueue("fine", *[Reply("bad request", status=400)] * (EARLY_STOP + 2))
    runner = ModelRunner(env=fake_env, concurrency=1)
    results = run(_many(runner, EARLY_STOP + 3))
    assert not _errors(results)
    assert len(fake_openai.requests) == EARLY_STOP + 3


def test_the_renamed_retry_after_reaches_the_sdk(litellm: FakeOpenAI) -> None:
    # The gateway sends the upstream's Retry-After as llm_provider-retry-after. Honoured, 600 s
    # is past the SDK's 120 s ceiling, so the SDK gives up at once: one request, not two.
    litellm.responder = lambda body: Reply(status=429, headers={"Retry-After": "600"})
    (done,) = run(_many(ModelRunner(env=_env(litellm), max_retries=1), 1))
    assert isinstance(done, Completion) and not done.ok and "HTTP 429" in (done.error or "")
    assert len(litellm.requests) == 1


def test_a_plain_retry_after_wins_over_the_renamed_one(fake_openai: FakeOpenAI, fake_env) -> None:
    slow = {"Retry-After": "0.01", "llm_provider-retry-after": "600"}
    fake_openai.enqueue(Reply(status=429, headers=slow), "after the short wait")
    (done,) = run(_many(ModelRunner(env=fake_env, max_retries=1), 1))
    assert isinstance(done, Completion) and done.text == "after the short wait"
    assert len(fake_openai.requests) == 2


def test_an_unknown_header_is_left_to_the_sdk_backoff(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply(status=429, headers={"x-other-retry-after": "600"}), "retried")
    (done,) = run(_many(ModelRunner(env=fake_env, max_retries=1), 1))
    assert isinstance(done, Completion) and done.text == "retried"
    assert len(fake_openai.requests) == 2


def test_the_alias_is_copied_only_when_no_plain_header_exists() -> None:
    from evalbot.run.transport import restore_retry_after

    renamed = httpx.Response(429, headers={"llm_provider-retry-after": "7"})
    restore_retry_after(renamed.headers)
    assert renamed.headers["retry-after"] == "7"
    both = httpx.Response(429, headers={"retry-after-ms": "10", "llm_provider-retry-after": "7"})
    restore_retry_after(both.headers)
    assert "retry-after" not in both.headers


def test_the_model_that_answered_is_the_gateways_deployment(litellm: FakeOpenAI) -> None:
    (done,) = run(_many(ModelRunner(env=_env(litellm)), 1))
    assert isinstance(done, Completion) and done.ok
    assert done.response_model == "openai/fake-model-2025-01-01"


def test_without_the_header_the_response_model_is_kept(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("x", model="fake-model-0613"))
    (done,) = run(_many(ModelRunner(env=fake_env), 1))
    assert isinstance(done, Completion) and done.response_model == "fake-model-0613"


def test_an_upstream_401_behind_a_gateway_quotes_the_gateway(
    fake_openai: FakeOpenAI, fake_env
) -> None:
    said = (
        "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key "
        "provided. LiteLLM: model group 'fake-model' failed with the error above."
    )
    fake_openai.responder = lambda body: Reply(said, status=401)
    errors = _errors(run(_many(ModelRunner(env=fake_env, concurrency=1), 3)))
    message = str(errors[0])
    assert "OPENAI_API_KEY" in message and "model group 'fake-model'" in message
    assert "the endpoint said" in message


@pytest.mark.parametrize("retries", [0, 2])
def test_max_retries_is_what_the_sdk_uses(fake_openai: FakeOpenAI, fake_env, retries: int) -> None:
    fake_openai.responder = lambda body: Reply(status=503, headers={"Retry-After": "0.01"})
    (done,) = run(_many(ModelRunner(env=fake_env, max_retries=retries), 1))
    assert isinstance(done, Completion) and not done.ok
    assert len(fake_openai.requests) == retries + 1
