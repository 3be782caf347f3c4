"""The runner with the ``openai`` provider, over real HTTP against the loopback fake."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from evalbot.errors import CacheMissError, ConfigError, ProviderError
from evalbot.records import Completion
from evalbot.run.cache import ResponseCache
from evalbot.run.runner import ModelRunner, build_request
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.run.helpers import model_config, run, user

FAST_RETRY = {"Retry-After": "0.01"}  # the SDK reads "0" as "no hint" and backs off 0.5 s


def _runner(env: dict[str, str], tmp_path: Path | None = None, **kw: object) -> ModelRunner:
    cache = ResponseCache(tmp_path / "cache") if tmp_path is not None else None
    return ModelRunner(cache=cache, env=env, **kw)  # type: ignore[arg-type]


async def _one(runner: ModelRunner, text: str = "hello", **config: object) -> Completion:
    cfg = model_config(**config)
    try:
        return await runner.complete(cfg, build_request(cfg, user(text)))
    finally:
        await runner.aclose()


def test_complete__records_text_usage_model_and_latency(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("four", prompt_tokens=11, completion_tokens=1, model="gpt-4o-x"))
    done = run(_one(_runner(fake_env), "2+2?", params={"temperature": 0, "seed": 3}))
    assert done.text == "four" and done.ok and not done.cached
    assert (done.input_tokens, done.output_tokens) == (11, 1)
    assert done.response_model == "gpt-4o-x"
    assert done.latency_ms is not None and done.latency_ms > 0
    body = fake_openai.requests[0]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0 and body["seed"] == 3
    assert body["messages"][-1] == {"role": "user", "content": "2+2?"}
    assert fake_openai.auth_headers == ["Bearer test-key"]


def test_complete__passes_params_through_verbatim(fake_openai: FakeOpenAI, fake_env) -> None:
    params = {
        "max_tokens": 5,
        "top_p": 0.5,
        "response_format": {"type": "json_object"},
        "top_k": 40,  # not an OpenAI parameter; compatible servers may take it
    }
    run(_one(_runner(fake_env), params=params))
    assert {k: fake_openai.requests[0][k] for k in params} == params


def test_complete__cost_from_price(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("x", prompt_tokens=1000, completion_tokens=500))
    price = {"input": 2.5, "output": 10.0}
    runner = _runner(fake_env)
    done = run(_one(runner, price=price))
    assert done.cost_usd == pytest.approx((1000 * 2.5 + 500 * 10.0) / 1e6)
    assert runner.usage().cost_usd == pytest.approx(0.0075)


def test_complete__top_logprobs(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("5", logprobs=[("5", -0.1, [("5", -0.1), ("4", -2.5), ("3", -4.0)])]))
    done = run(_one(_runner(fake_env), params={"logprobs": True, "top_logprobs": 3}))
    assert done.top_logprobs is not None and len(done.top_logprobs) == 1
    assert [(t.token, t.logprob) for t in done.top_logprobs[0]] == [
        ("5", -0.1),
        ("4", -2.5),
        ("3", -4.0),
    ]


def test_complete__logprobs_without_alternatives_keep_the_chosen_token(
    fake_openai: FakeOpenAI, fake_env
) -> None:
    fake_openai.enqueue(Reply("a b", logprobs=[("a", -0.2, []), (" b", -1.5, [])]))
    done = run(_one(_runner(fake_env), params={"logprobs": True}))
    assert done.top_logprobs is not None
    assert [[(t.token, t.logprob) for t in row] for row in done.top_logprobs] == [
        [("a", -0.2)],
        [(" b", -1.5)],
    ]


def test_identical_base_and_head_requests__sent_once(
    fake_openai: FakeOpenAI, fake_env, tmp_path: Path
) -> None:
    fake_openai.latency_s = 0.05
    cfg = model_config()

    async def both_sides() -> list[Completion]:
        runner = _runner(fake_env, tmp_path)
        try:
            base = [runner.complete(cfg, build_request(cfg, user(f"q{i}"))) for i in range(5)]
            head = [runner.complete(cfg, build_request(cfg, user(f"q{i}"))) for i in range(5)]
            results = await asyncio.gather(*base, *head)
            assert runner.sent == 5 and runner.cache_hits == 5
            return results
        finally:
            await runner.aclose()

    results = run(both_sides())
    assert len(fake_openai.requests) == 5
    assert [r.text for r in results[:5]] == [r.text for r in results[5:]]
    assert sum(r.cached for r in results) == 5


def test_rerun_with_warm_cache__sends_nothing(
    fake_openai: FakeOpenAI, fake_env, tmp_path: Path
) -> None:
    cfg = model_config()

    async def pass_() -> tuple[list[Completion], ModelRunner]:
        runner = _runner(fake_env, tmp_path)
        try:
            reqs = [build_request(cfg, user(f"q{i}"), sample=k) for i in range(4) for k in range(2)]
            return await asyncio.gather(*(runner.complete(cfg, r) for r in reqs)), runner
        finally:
            await runner.aclose()

    first, r1 = run(pass_())
    second, r2 = run(pass_())
    assert len(fake_openai.requests) == 8
    assert (r1.sent, r2.sent, r2.cache_hits) == (8, 0, 8)
    assert all(c.cached for c in second)
    assert [c.text for c in first] == [c.text for c in second]
    usage = r2.usage()
    assert (usage.requests, usage.sent, usage.cache_hits, usage.cost_usd) == (8, 0, 8, 0.0)


def test_offline_miss__raises_without_key_material(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-secret-123456"}
    with pytest.raises(CacheMissError) as info:
        run(_one(_runner(env, tmp_path, offline=True), model="gpt-x"))
    message = str(info.value)
    assert "offline: no recorded response for model gpt-x" in message
    assert "run once online to record it" in message
    assert "sk-secret" not in message
    assert fake_openai.requests == []


def test_offline_hit__answers_from_cache(fake_openai: FakeOpenAI, fake_env, tmp_path: Path) -> None:
    run(_one(_runner(fake_env, tmp_path), "recorded"))
    offline_env = {"OPENAI_BASE_URL": fake_env["OPENAI_BASE_URL"]}  # no key needed offline
    done = run(_one(_runner(offline_env, tmp_path, offline=True), "recorded"))
    assert done.cached and done.text == "recorded"
    assert len(fake_openai.requests) == 1


def test_429_with_retry_after__sdk_retries_then_succeeds(fake_openai: FakeOpenAI, fake_env) -> None:
    throttled = Reply(status=429, headers=FAST_RETRY)
    fake_openai.enqueue(throttled, throttled, "finally")
    done = run(_one(_runner(fake_env, max_retries=3)))
    assert done.text == "finally"
    assert len(fake_openai.requests) == 3


def test_500_past_retries__errored_completion(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.responder = lambda body: Reply("boom", status=500, headers=FAST_RETRY)
    runner = _runner(fake_env, max_retries=2)
    done = run(_one(runner))
    assert not done.ok
    assert done.error == "HTTP 500: boom (after 2 retries)"
    assert len(fake_openai.requests) == 3
    assert runner.usage().errors == 1


def test_errored_completion__not_cached(fake_openai: FakeOpenAI, fake_env, tmp_path: Path) -> None:
    fake_openai.enqueue(Reply(status=503, headers=FAST_RETRY))
    assert not run(_one(_runner(fake_env, tmp_path, max_retries=0))).ok
    assert run(_one(_runner(fake_env, tmp_path, max_retries=0))).text == "hello"
    assert len(fake_openai.requests) == 2


def test_401__provider_error_without_the_key(fake_openai: FakeOpenAI) -> None:
    secret = "sk-proj-abcdefghijklmnop"
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": secret}
    fake_openai.api_key = "the-right-key"
    runner = _runner(env)
    with pytest.raises(ProviderError) as info:
        run(_one(runner))
    message = str(info.value)
    assert "rejected the API key from OPENAI_API_KEY (HTTP 401)" in message
    assert secret not in message and "sk-" not in message and "\n" not in message
    assert len(fake_openai.requests) == 1  # not retried


def test_401__later_calls_fail_fast_without_sending(fake_openai: FakeOpenAI) -> None:
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "wrong"}
    cfg = model_config()

    async def many() -> list[object]:
        runner = _runner(env, concurrency=1)
        try:
            calls = [runner.complete(cfg, build_request(cfg, user(f"q{i}"))) for i in range(6)]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await runner.aclose()

    results = run(many())
    assert all(isinstance(r, ProviderError) for r in results)
    assert len(fake_openai.requests) == 1


def test_404_unknown_model__provider_error(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply(status=404))
    with pytest.raises(ProviderError, match=r"model 'gpt-nope' not found at 127\.0\.0\.1"):
        run(_one(_runner(fake_env), model="gpt-nope"))


def test_error_messages__scrub_echoed_key(fake_openai: FakeOpenAI) -> None:
    secret = "sk-live-0123456789"
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": secret}
    fake_openai.api_key = secret
    fake_openai.enqueue(Reply(f"bad request for key {secret}", status=400))
    done = run(_one(_runner(env)))
    assert done.error is not None and secret not in done.error and "HTTP 400" in done.error


def test_slow_response__times_out(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.responder = lambda body: Reply("late", delay_s=1.0)
    start = time.perf_counter()
    done = run(_one(_runner(fake_env, max_retries=0), timeout_s=0.2))
    assert done.error == "timed out after 0.2s"
    assert time.perf_counter() - start < 0.9


def test_fast_enough_response__within_timeout(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("in time", delay_s=0.05))
    assert run(_one(_runner(fake_env, max_retries=0), timeout_s=2)).text == "in time"


def test_allowed_hosts__refuses_other_host_before_sending(
    fake_openai: FakeOpenAI, fake_env
) -> None:
    with pytest.raises(ConfigError) as info:
        run(_one(_runner(fake_env, allowed_hosts=["api.openai.com"])))
    message = str(info.value)
    assert "'127.0.0.1'" in message and "--allowed-hosts" in message
    assert "test-key" not in message
    assert fake_openai.requests == []


def test_allowed_hosts__listed_host_is_used(fake_openai: FakeOpenAI, fake_env) -> None:
    done = run(_one(_runner(fake_env, allowed_hosts=["api.openai.com", "127.0.0.1"])))
    assert done.ok


def test_env_var_names__second_endpoint_and_key(fake_openai: FakeOpenAI) -> None:
    with FakeOpenAI(api_key="second-key") as second:
        env = {
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_API_KEY": "test-key",
            "LOCAL_BASE_URL": second.base_url,
            "LOCAL_API_KEY": "second-key",
        }
        default_cfg = model_config()
        local_cfg = model_config(base_url_env="LOCAL_BASE_URL", api_key_env="LOCAL_API_KEY")

        async def both() -> list[Completion]:
            runner = _runner(env)
            try:
                return await asyncio.gather(
                    runner.complete(default_cfg, build_request(default_cfg, user("same"))),
                    runner.complete(local_cfg, build_request(local_cfg, user("same"))),
                )
            finally:
                await runner.aclose()

        a, b = run(both())
        assert a.ok and b.ok
        # Same model and messages at two endpoints: two different calls, never de-duplicated.
        assert len(fake_openai.requests) == 1 and len(second.requests) == 1
        assert second.auth_headers == ["Bearer second-key"]


def test_missing_key__config_error_naming_the_variable(fake_openai: FakeOpenAI) -> None:
    env = {"OPENAI_BASE_URL": fake_openai.base_url}
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        run(_one(_runner(env)))
    assert fake_openai.requests == []


def test_concurrency__bound_respected(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.latency_s = 0.03
    cfg = model_config()

    async def burst() -> None:
        runner = _runner(fake_env, concurrency=3)
        try:
            await asyncio.gather(
                *(runner.complete(cfg, build_request(cfg, user(f"q{i}"))) for i in range(24))
            )
        finally:
            await runner.aclose()

    run(burst())
    assert len(fake_openai.requests) == 24
    assert fake_openai.max_in_flight == 3


def test_cost_cap__stops_sending(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.responder = lambda body: Reply("x", prompt_tokens=1_000_000, completion_tokens=0)
    cfg = model_config(price={"input": 1.0, "output": 1.0})  # $1 per call

    async def spend() -> list[object]:
        runner = _runner(fake_env, concurrency=1, max_cost_usd=2.5)
        try:
            calls = [runner.complete(cfg, build_request(cfg, user(f"q{i}"))) for i in range(5)]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await runner.aclose()

    results = run(spend())
    assert sum(isinstance(r, Completion) for r in results) == 3
    errors = [r for r in results if isinstance(r, ProviderError)]
    assert errors and "cost cap of $2.5 reached" in str(errors[0])
    assert len(fake_openai.requests) == 3


def test_usage__per_purpose(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.responder = lambda body: Reply("y", prompt_tokens=4, completion_tokens=2)
    cfg = model_config()

    async def mixed() -> ModelRunner:
        runner = _runner(fake_env)
        try:
            await runner.complete(cfg, build_request(cfg, user("a")))
            await runner.complete(cfg, build_request(cfg, user("b"), purpose="judge"))
            await runner.complete(cfg, build_request(cfg, user("c"), purpose="judge"))
            return runner
        finally:
            await runner.aclose()

    runner = run(mixed())
    gen, judge = runner.usage("generate"), runner.usage("judge")
    assert (gen.requests, gen.sent, gen.input_tokens) == (1, 1, 4)
    assert (judge.requests, judge.sent, judge.output_tokens) == (2, 2, 4)
    assert judge.latency_p50_ms is not None and judge.latency_p95_ms is not None


def test_400__errored_completion_not_retried(fake_openai: FakeOpenAI, fake_env) -> None:
    fake_openai.enqueue(Reply("context too long", status=400))
    done = run(_one(_runner(fake_env, max_retries=3)))
    assert done.error == "HTTP 400: context too long"
    assert len(fake_openai.requests) == 1
