from __future__ import annotations

from evalbot.records import Usage


def test_usage_adds_up_and_subtracts_on_the_record():
    a = Usage(requests=2, sent=1, cache_hits=1, input_tokens=10, output_tokens=4, cost_usd=0.5)
    b = Usage(requests=3, sent=3, errors=1, input_tokens=5, output_tokens=1, cost_usd=0.25)
    total = Usage.total([a, b])
    assert (total.requests, total.sent, total.cache_hits, total.errors) == (5, 4, 1, 1)
    assert (total.input_tokens, total.output_tokens, total.cost_usd) == (15, 5, 0.75)
    assert total.since(a) == b.model_copy(update={"latency_p50_ms": None})
    assert Usage.total([]) == Usage()
