"""The shared loopback fake itself: other stages' tests rely on this behaviour."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import FakeOpenAI, Faults, Reply
from tests.run.helpers import run


def _chat(fake: FakeOpenAI, text: str, key: str = "test-key", **kw: object) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": text}], **kw},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_default_responder_echoes_and_counts_words(fake_openai: FakeOpenAI) -> None:
    body = _chat(fake_openai, "one two three").json()
    assert body["choices"][0]["message"]["content"] == "one two three"
    assert body["model"] == "m"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert fake_openai.requests[0]["messages"][0]["content"] == "one two three"


def test_queue_before_responder_then_reset(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = lambda body: "from responder"
    fake_openai.enqueue("first", Reply("second", model="other"))
    texts = [_chat(fake_openai, "x").json() for _ in range(3)]
    assert [t["choices"][0]["message"]["content"] for t in texts] == [
        "first",
        "second",
        "from responder",
    ]
    assert texts[1]["model"] == "other"
    fake_openai.enqueue("never used")
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.auth_headers == []
    assert _chat(fake_openai, "x").json()["choices"][0]["message"]["content"] == "from responder"


def test_errors_carry_status_headers_and_openai_shape(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply(status=429, headers={"Retry-After": "7"}))
    response = _chat(fake_openai, "x")
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"


def test_auth__wrong_or_missing_key_is_401(fake_openai: FakeOpenAI) -> None:
    assert _chat(fake_openai, "x", key="nope").status_code == 401
    assert httpx.get(f"{fake_openai.base_url}/models").status_code == 401
    assert fake_openai.auth_headers == ["Bearer nope"]
    with FakeOpenAI(api_key=None) as open_fake:
        assert _chat(open_fake, "x", key="anything").status_code == 200


def test_models_endpoint_via_sdk(fake_openai: FakeOpenAI) -> None:
    async def models() -> list[str]:
        client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key")
        try:
            return [m.id for m in (await client.models.list()).data]
        finally:
            await client.close()

    assert "gpt-4o-mini" in run(models())


def test_logprobs_parse_in_the_sdk(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("A", logprobs=[("A", -0.01, [("A", -0.01), ("B", -4.6)])]))

    async def call() -> object:
        client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=0)
        try:
            return await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "?"}], logprobs=True
            )
        finally:
            await client.close()

    response = run(call())
    top = response.choices[0].logprobs.content[0].top_logprobs  # type: ignore[attr-defined]
    assert [(t.token, t.logprob) for t in top] == [("A", -0.01), ("B", -4.6)]


def test_serves_64_concurrent_connections() -> None:
    with FakeOpenAI(latency_s=0.3) as fake:

        async def burst() -> None:
            client = AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
            try:
                await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model="m", messages=[{"role": "user", "content": str(i)}]
                        )
                        for i in range(64)
                    )
                )
            finally:
                await client.close()

        run(burst())
        assert fake.max_in_flight == 64  # all at once, not in waves


def test_sdk_sees_http_errors_as_typed_exceptions(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply(status=404))

    async def call() -> None:
        client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=0)
        try:
            await client.chat.completions.create(model="m", messages=[])
        finally:
            await client.close()

    with pytest.raises(openai.NotFoundError):
        run(call())


def test_faults_never_fail_one_request_more_than_max_consecutive_times():
    faults = Faults(rate_429=0.5, rate_500=0.3, rate_stall=0.2, max_consecutive=3, seed=1)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    draws = [faults.draw(body) for _ in range(40)]
    streak = 0
    for fault in draws:
        streak = 0 if fault == "ok" else streak + 1
        assert streak <= 3
    assert draws.count("ok") >= 10 and {"429", "500", "stall"} & set(draws)


def test_restart_serves_again_on_the_same_port():
    with FakeOpenAI() as fake:
        url = fake.base_url
        fake.restart()
        assert fake.base_url == url and fake.restarts == 1
        reply = httpx.get(url + "/models", headers={"Authorization": "Bearer test-key"})
        assert reply.status_code == 200
