from __future__ import annotations

import json
import threading
from pathlib import Path

from evalbot.records import Completion, Message, ModelRequest
from evalbot.run.cache import ResponseCache, cacheable, request_key


def _request(**fields: object) -> ModelRequest:
    base: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "params": {"temperature": 0, "seed": 7},
        "messages": [Message(role="user", content="hi")],
    }
    return ModelRequest.model_validate({**base, **fields})


def test_key__ignores_purpose_and_param_order() -> None:
    a = _request(params={"temperature": 0, "seed": 7})
    b = _request(params={"seed": 7, "temperature": 0}, purpose="judge")
    assert request_key(a) == request_key(b)


def test_key__depends_on_every_answer_field() -> None:
    base = request_key(_request())
    variants = [
        _request(model="gpt-4o"),
        _request(params={"temperature": 1, "seed": 7}),
        _request(messages=[Message(role="user", content="hi!")]),
        _request(sample=1),
    ]
    assert len({base, *(request_key(v) for v in variants)}) == 5
    assert request_key(_request(), scope="openai:https://a/v1") != base


def test_key__vars_and_code_version_only_for_code_providers() -> None:
    assert request_key(_request(vars={"x": 1})) == request_key(_request(vars={"x": 2}))
    py = {"provider": "python", "model": "", "code_version": "tree1"}
    assert request_key(_request(**py, vars={"x": 1})) != request_key(_request(**py, vars={"x": 2}))
    assert request_key(_request(**py)) != request_key(_request(**{**py, "code_version": "tree2"}))


def test_cacheable__code_providers_need_a_code_version() -> None:
    assert cacheable(_request())
    assert cacheable(_request(provider="python", code_version="abc"))
    assert not cacheable(_request(provider="python"))
    assert not cacheable(_request(provider="exec"))


def test_get_put__round_trip_marks_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    assert cache.get(request) is None
    done = Completion(text="hello", input_tokens=3, output_tokens=1, latency_ms=12.5)
    assert cache.put(request, done)
    hit = cache.get(request)
    assert hit == done.model_copy(update={"cached": True})
    key = cache.key_for(request)
    stored = json.loads((tmp_path / key[:2] / f"{key}.json").read_text())
    assert stored["text"] == "hello" and "cached" not in stored


def test_put__never_stores_errors_or_uncacheable(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert not cache.put(_request(), Completion(error="HTTP 500"))
    assert not cache.put(_request(provider="exec"), Completion(text="x"))
    assert cache.get(_request()) is None
    assert not any(tmp_path.rglob("*.json"))


def test_get__corrupt_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    path = cache.path_for(cache.key_for(request))
    path.parent.mkdir(parents=True)
    path.write_text('{"text": "trunc')
    assert cache.get(request) is None
    cache.put(request, Completion(text="fixed"))
    assert cache.get(request).text == "fixed"


def test_put__concurrent_writers_and_readers_see_whole_entries(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    big = "x" * 200_000  # large enough that a non-atomic write would be seen half-done
    seen: list[str | None] = []
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(20):
                cache.put(request, Completion(text=f"{i}{big}"))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read() -> None:
        for _ in range(200):
            hit = cache.get(request)
            seen.append(hit.text if hit else None)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert all(s is None or (len(s) == 200_001 and s[1:] == big) for s in seen)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [
        f"{cache.key_for(request)}.json"
    ]
