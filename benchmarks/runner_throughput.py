"""Throughput of ModelRunner against the loopback fake: how close to the concurrency floor?

    python benchmarks/runner_throughput.py [--n 1000] [--concurrency 16] [--latency 0.05]
                                           [--server thread|process]

N examples x 2 sides (distinct prompts, so nothing is de-duplicated) go through one runner with
a fresh cache; the floor is requests x latency / concurrency, the time a perfect client would
take. A second pass over a warm cache must send nothing.

``--server process`` (the default) runs the fake in a child process, as a real endpoint is on
another machine; ``thread`` runs it in this process, where its handler threads compete with the
runner's event loop for the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from evalbot.inputs.config import ModelConfig  # noqa: E402
from evalbot.records import Message  # noqa: E402
from evalbot.run.cache import ResponseCache  # noqa: E402
from evalbot.run.runner import ModelRunner, build_request  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402


def _serve(latency_s: float, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    with FakeOpenAI(latency_s=latency_s) as fake:
        urls.put(fake.base_url)
        stop.wait()


async def _pass(
    base_url: str, cache: ResponseCache, n: int, concurrency: int
) -> tuple[int, float, float]:
    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "test-key"}
    config = ModelConfig(provider="openai", model="bench-model", params={"temperature": 0})
    runner = ModelRunner(cache=cache, concurrency=concurrency, env=env)
    requests = [
        build_request(config, [Message(role="user", content=f"{side} example {i}")])
        for side in ("base", "head")
        for i in range(n)
    ]
    try:
        start, cpu = time.perf_counter(), time.process_time()
        done = await asyncio.gather(*(runner.complete(config, r) for r in requests))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await runner.aclose()
    assert all(c.ok for c in done), [c.error for c in done if not c.ok][:3]
    return runner.sent, elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="examples per side")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="fake latency, seconds")
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    args = parser.parse_args()

    stop = None
    proc = None
    fake = None
    if args.server == "process":
        urls: multiprocessing.Queue = multiprocessing.Queue()
        stop = multiprocessing.Event()
        proc = multiprocessing.Process(target=_serve, args=(args.latency, urls, stop), daemon=True)
        proc.start()
        base_url = urls.get(timeout=30)
    else:
        fake = FakeOpenAI(latency_s=args.latency).start()
        base_url = fake.base_url
    try:
        with tempfile.TemporaryDirectory(prefix="evalbot-bench-") as tmp:
            cache = ResponseCache(Path(tmp))
            requests = 2 * args.n
            floor = requests * args.latency / args.concurrency
            sent, cold, cpu = asyncio.run(_pass(base_url, cache, args.n, args.concurrency))
            print(
                f"cold: {requests} requests, sent={sent}, wall={cold:.2f}s, "
                f"floor={floor:.2f}s ({requests}x{args.latency:g}s/{args.concurrency}), "
                f"ratio={cold / floor:.3f}x, client cpu={cpu:.2f}s "
                f"({cpu / requests * 1000:.2f} ms/request)  [server: {args.server}]"
            )
            sent, warm, cpu = asyncio.run(_pass(base_url, cache, args.n, args.concurrency))
            print(
                f"warm: {requests} requests, sent={sent}, wall={warm:.2f}s, client cpu={cpu:.2f}s"
            )
    finally:
        if fake is not None:
            fake.stop()
        if stop is not None and proc is not None:
            stop.set()
            proc.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
