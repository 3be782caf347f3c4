"""The openai provider posts through the SDK's HTTP client with requests it builds itself: what
the SDK decided per call (retry policy, typed errors, auth, no redirects) must be unchanged."""

from __future__ import annotations

import asyncio
import socket

import pytest

from evalbot.errors import ProviderError
from evalbot.records import Completion
from evalbot.run.openai_provider import EARLY_STOP
from evalbot.run.runner import ModelRunner, build_request
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.run.helpers import model_config, run, user

FAST = {"Retry-After": "0.01"}


async def _ask(runner: ModelRunner, *prompts: str, **config: object) -> list[Completion]:
    model = model_config(**config)
    try:
        return list(
            await asyncio.gather(
                *(runner.complete(model, build_request(model, user(p))) for p in prompts)
            )
        )
    finally:
        await runner.aclose()


def test_the_body_is_the_configs_params_and_the_messages(fake_openai: FakeOpenAI, fake_env):
    params = {"temperature": 0.5, "seed": 3, "response_format": {"type": "json_object"}}
    (done,) = run(_ask(ModelRunner(env=fake_env), "héllo", params={**params, "stream": True}))
    assert done.text == "héllo"
    [body] = fake_openai.requests
    assert body == {
        **params,
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "héllo"},
        ],
    }


def test_only_the_configured_key_is_sent_as_bearer(fake_openai: FakeOpenAI, fake_env):
    env = {**fake_env, "OPENAI_ADMIN_KEY": "sk-admin-must-not-leave", "OPENAI_API_KEY": "k1"}
    fake_openai.api_key = None
    run(_ask(ModelRunner(env=env), "a"))
    assert fake_openai.auth_headers == ["Bearer k1"]


def test_x_should_retry_is_obeyed_both_ways(fake_openai: FakeOpenAI, fake_env):
    fake_openai.enqueue(Reply(status=400, headers={"x-should-retry": "true"}), "second try")
    (done,) = run(_ask(ModelRunner(env=fake_env, max_retries=2), "a"))
    assert done.text == "second try" and len(fake_openai.requests) == 2
    fake_openai.reset()
    fake_openai.enqueue(Reply("no", status=500, headers={"x-should-retry": "false"}), "unused")
    (done,) = run(_ask(ModelRunner(env=fake_env, max_retries=2), "b"))
    assert done.error == "HTTP 500: no (after 2 retries)" and len(fake_openai.requests) == 1


def test_a_retry_after_past_the_sdks_ceiling_is_not_waited_for(fake_openai: FakeOpenAI, fake_env):
    fake_openai.responder = lambda body: Reply(status=429, headers={"Retry-After": "600"})
    (done,) = run(_ask(ModelRunner(env=fake_env, max_retries=3), "a"))
    assert not done.ok and "HTTP 429" in (done.error or "")
    assert len(fake_openai.requests) == 1


def test_a_timeout_is_retried_then_answered(fake_openai: FakeOpenAI, fake_env):
    fake_openai.enqueue(Reply("late", delay_s=1.0), "in time")
    (done,) = run(_ask(ModelRunner(env=fake_env, max_retries=1), "a", timeout_s=0.3))
    assert done.text == "in time"
    assert len(fake_openai.requests) == 2


def test_5xx_then_success_counts_one_request_and_its_usage(fake_openai: FakeOpenAI, fake_env):
    fake_openai.enqueue(Reply(status=503, headers=FAST), Reply("fine", completion_tokens=4))
    runner = ModelRunner(env=fake_env, max_retries=2)
    (done,) = run(_ask(runner, "a", price={"input": 1.0, "output": 1.0}))
    assert done.text == "fine" and done.output_tokens == 4 and done.cost_usd
    usage = runner.usage()
    assert (usage.requests, usage.sent, usage.errors, usage.output_tokens) == (1, 1, 0, 4)


def test_unreachable_endpoint_is_retried_then_stops_the_run():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "k"}

    async def go() -> list[Completion | BaseException]:
        runner = ModelRunner(env=env, max_retries=0, concurrency=1)
        model = model_config()
        calls = [
            runner.complete(model, build_request(model, user(f"q{i}")))
            for i in range(EARLY_STOP + 2)
        ]
        try:
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await runner.aclose()

    results = run(go())
    failed = [r for r in results if isinstance(r, Completion)]
    assert failed and all(r.error == "could not connect to 127.0.0.1" for r in failed)
    assert any(isinstance(r, ProviderError) and "failed the same way" in str(r) for r in results)


def test_identical_requests_in_flight_are_joined(fake_openai: FakeOpenAI, fake_env, tmp_path):
    from evalbot.run.cache import ResponseCache

    fake_openai.responder = lambda body: Reply("shared", delay_s=0.2)
    runner = ModelRunner(env=fake_env, cache=ResponseCache(tmp_path))
    done = run(_ask(runner, *(["same"] * 5), "other"))
    assert [d.text for d in done] == ["shared"] * 6
    assert len(fake_openai.requests) == 2  # "same" once, "other" once
    assert sum(d.cached for d in done) == 4
    assert runner.usage().requests == 6 and runner.sent == 2


def test_a_joined_call_whose_first_caller_left_is_asked_again(fake_openai: FakeOpenAI, fake_env):
    """The call is made in its first caller's task: cancelling that caller must not leave the
    callers that joined it without an answer (nor cancel them)."""
    fake_openai.responder = lambda body: Reply("answer", delay_s=0.3)
    model = model_config()
    request = build_request(model, user("same"))

    async def main() -> tuple[Completion, bool]:
        runner = ModelRunner(env=fake_env)
        try:
            first = asyncio.ensure_future(runner.complete(model, request))
            await asyncio.sleep(0.1)  # the first call is on the wire
            joined = asyncio.ensure_future(runner.complete(model, request))
            await asyncio.sleep(0.05)
            first.cancel()
            done = await joined
            return done, first.cancelled()
        finally:
            await runner.aclose()

    done, first_cancelled = run(main())
    assert first_cancelled and done.ok and done.text == "answer"
    assert len(fake_openai.requests) == 2  # the cancelled call, then the joiner's own


def test_closing_the_runner_cancels_the_calls_in_flight(fake_openai: FakeOpenAI, fake_env):
    fake_openai.responder = lambda body: Reply("late", delay_s=5)
    model = model_config()

    async def main() -> bool:
        runner = ModelRunner(env=fake_env)
        call = asyncio.ensure_future(runner.complete(model, build_request(model, user("x"))))
        await asyncio.sleep(0.2)
        await runner.aclose()
        return call.cancelled()

    assert run(main())


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_redirect_is_an_error_not_followed(fake_openai: FakeOpenAI, fake_env, status: int):
    fake_openai.enqueue(Reply(status=status, headers={"Location": "http://elsewhere.test/v1"}))
    with pytest.raises(ProviderError, match="redirects are not followed"):
        run(_ask(ModelRunner(env=fake_env), "a"))
    assert len(fake_openai.requests) == 1
