"""Throughput of ModelRunner against the loopback fake, next to bare httpx and aiohttp clients.

    python benchmarks/runner_throughput.py [--repeat 1] [--workload 1 --workload 2]
    python benchmarks/runner_throughput.py --n 500 --concurrency 32 --latency 0.01

Two workloads by default (issue 12): 1,000 examples x 2 sides at concurrency 16 with 50 ms
latency, and 10,000 x 2 at concurrency 64 with 20 ms. For each, the same requests (distinct
prompts, so nothing is de-duplicated) go through

* ``httpx``: a plain ``AsyncClient`` of the HTTP library the openai SDK runs on (``httpx2``
  from openai 3; connection pool sized to the concurrency, a semaphore, ``json.loads`` of each
  answer): what a client built on the SDK's own stack allows at best;
* ``aiohttp``: the same with a plain aiohttp ``ClientSession``, the library evalbot's model calls
  run on (``run/transport.py``): what the machine, that HTTP stack and the fake server allow;
* ``evalbot``: one ``ModelRunner`` with a fresh signed on-disk cache, then a second pass over the
  warm cache, which must send nothing.

The floor is requests x latency / concurrency, the time a perfect client would take. Both
clients run against the same fake endpoint in a child process (as a real endpoint is on another
machine), each client in a fresh interpreter so that its peak RSS is its own; CPU per request is
the client process's CPU while the requests run (imports are start-up, not per request). On a
shared, loaded machine the bare clients' ratios say how much of evalbot's is the machine:
compare them.

The endpoint is a raw asyncio server (``_Endpoint``): a timer per request on one event loop
(``select(2)``, whose timeout has microsecond resolution, where epoll's rounds up to the next
millisecond), one write per answer. The tests' fake (``--server threaded``: ``http.server``, a
thread per connection) is not fit for this: at concurrency 64 its threads queue for the GIL
after every ``sleep`` and the server, not the client, sets the pace.
``--repeat N`` alternates the clients N times and prints medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

WORKLOADS = {1: (1000, 16, 0.05), 2: (10000, 64, 0.02)}
"""Issue 12's two workloads: examples per side, concurrency, latency (s)."""


def _serve(
    latency_s: float, urls: multiprocessing.Queue, stop: multiprocessing.Event, kind: str
) -> None:
    if kind == "threaded":
        _serve_threaded(latency_s, urls, stop)
    else:
        # select(2) takes its timeout in microseconds; epoll (asyncio's default selector on
        # Linux) in whole milliseconds, rounded up, which would add ~0.5 ms on average to every
        # simulated latency and release answers in 1 ms clumps.
        loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
        try:
            loop.run_until_complete(_serve_asyncio(latency_s, urls, stop))
        finally:
            loop.close()


def _serve_threaded(
    latency_s: float, urls: multiprocessing.Queue, stop: multiprocessing.Event
) -> None:
    """The tests' fake (``http.server``, one thread per connection): kept for comparison."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(latency_s=latency_s) as fake:
        fake.requests = _Discard()  # type: ignore[assignment]  # 20,000 bodies kept for nothing
        fake.auth_headers = _Discard()  # type: ignore[assignment]
        urls.put(fake.base_url)
        stop.wait()


class _Discard(list):
    def append(self, item: object) -> None:
        pass

    def __len__(self) -> int:
        return 0


class _Endpoint(asyncio.Protocol):
    """A minimal OpenAI-compatible ``POST /v1/chat/completions`` on raw asyncio.

    The tests' fake runs one thread per connection: at concurrency 64 its 64 threads fight over
    the GIL (each wakes from its ``sleep`` and waits for the interpreter) and it, not the client,
    sets the pace, which made the bare client look slower than evalbot. Here the latency is a
    timer on one event loop, the request is parsed just enough (Content-Length, JSON body) and
    each answer is one write, so the server costs tens of microseconds per request.
    """

    latency_s = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            answer = self._answer(json.loads(body))
            asyncio.get_running_loop().call_later(self.latency_s, self._write, answer)

    def _write(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)

    @staticmethod
    def _answer(body: dict) -> bytes:
        content = body["messages"][-1]["content"]
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        words = len(content.split())
        payload = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": words,
                "total_tokens": prompt + words,
            },
        }
        data = json.dumps(payload).encode()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nx-request-id: req_bench\r\n\r\n"
        )
        return head.encode() + data


async def _serve_asyncio(
    latency_s: float, urls: multiprocessing.Queue, stop: multiprocessing.Event
) -> None:
    _Endpoint.latency_s = latency_s
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Endpoint, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    urls.put(f"http://127.0.0.1:{port}/v1")
    await loop.run_in_executor(None, stop.wait)
    server.close()


def _prompts(n: int) -> list[str]:
    return [f"{side} example {i}" for side in ("base", "head") for i in range(n)]


def _body(prompt: str) -> dict:
    messages = [{"role": "user", "content": prompt}]
    return {"model": "bench-model", "temperature": 0, "messages": messages}


async def _timed(n: int, one: Callable[[str], Awaitable[str]]) -> dict:
    """Every prompt through ``one`` at once; the wall and CPU time they took."""
    prompts = _prompts(n)
    start, cpu = time.perf_counter(), time.process_time()
    answers = await asyncio.gather(*(one(p) for p in prompts))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert answers == prompts
    return {"wall": wall, "cpu": cpu, "sent": len(prompts)}


async def _bare_aiohttp(base_url: str, n: int, concurrency: int) -> dict:
    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
    url = f"{base_url}/chat/completions"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(prompt: str) -> str:
            data = json.dumps(_body(prompt))
            async with slots, session.post(url, data=data, headers=headers) as response:
                response.raise_for_status()
                raw = await response.read()
            return json.loads(raw)["choices"][0]["message"]["content"]

        return await _timed(n, one)


async def _bare_httpx(base_url: str, n: int, concurrency: int) -> dict:
    try:  # the HTTP library the openai SDK runs on: httpx2 from openai 3
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer test-key"}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one(prompt: str) -> str:
            async with slots:
                body = _body(prompt)
                response = await client.post("/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            return json.loads(response.content)["choices"][0]["message"]["content"]

        return await _timed(n, one)


async def _evalbot_pass(base_url: str, cache_dir: Path | None, n: int, concurrency: int) -> dict:
    # Imported before the clock starts, as the bare client's httpx is: importing the SDK is
    # start-up CPU (~0.4 s, its own row in the README), not CPU per request.
    import openai  # noqa: F401

    from evalbot.inputs.config import ModelConfig
    from evalbot.records import Message
    from evalbot.run.cache import ResponseCache
    from evalbot.run.runner import ModelRunner, build_request

    try:
        from evalbot.startup import collect_for_a_run
    except ImportError:  # an older checkout measured through PYTHONPATH: it collected as usual
        pass
    else:
        collect_for_a_run()  # the collector's settings of a run, as `evalbot diff` makes them

    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "test-key"}
    config = ModelConfig(provider="openai", model="bench-model", params={"temperature": 0})
    cache = ResponseCache(cache_dir, secret=b"bench") if cache_dir is not None else None
    runner = ModelRunner(cache=cache, concurrency=concurrency, env=env)
    requests = [build_request(config, [Message(role="user", content=p)]) for p in _prompts(n)]
    try:
        start, cpu = time.perf_counter(), time.process_time()
        done = await asyncio.gather(*(runner.complete(config, r) for r in requests))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await runner.aclose()
    assert all(c.ok for c in done), [c.error for c in done if not c.ok][:3]
    return {"wall": wall, "cpu": cpu, "sent": runner.sent}


def _child(kind: str, base_url: str, n: int, concurrency: int) -> dict:
    if kind == "httpx":
        result = asyncio.run(_bare_httpx(base_url, n, concurrency))
    elif kind == "aiohttp":
        result = asyncio.run(_bare_aiohttp(base_url, n, concurrency))
    else:
        with tempfile.TemporaryDirectory(prefix="evalbot-bench-") as tmp:
            result = asyncio.run(_evalbot_pass(base_url, Path(tmp), n, concurrency))
            warm = asyncio.run(_evalbot_pass(base_url, Path(tmp), n, concurrency))
        result["warm_wall"], result["warm_sent"] = warm["wall"], warm["sent"]
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run_child(kind: str, base_url: str, n: int, concurrency: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, base_url, str(n), str(concurrency)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _workload(
    n: int, concurrency: int, latency: float, repeat: int, label: str, server_kind: str
) -> None:
    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(
        target=_serve, args=(latency, urls, stop, server_kind), daemon=True
    )
    server.start()
    try:
        base_url = urls.get(timeout=30)
        runs: dict[str, list[dict]] = {"httpx": [], "aiohttp": [], "evalbot": []}
        for i in range(repeat):
            order = list(runs) if i % 2 == 0 else list(reversed(runs))
            for kind in order:
                runs[kind].append(_run_child(kind, base_url, n, concurrency))
    finally:
        stop.set()
        server.join(timeout=5)
    requests = 2 * n
    floor = requests * latency / concurrency
    median = f"median of {repeat}, " if repeat > 1 else ""
    print(
        f"{label}: {n:,} x 2 = {requests:,} requests, concurrency {concurrency}, "
        f"latency {latency * 1000:g} ms; floor {floor:.2f} s ({median}{server_kind} server in a "
        "child process)"
    )
    header = f"  {'client':<8} {'wall':>8} {'wall/floor':>11} {'cpu/request':>12} {'peak RSS':>9}"
    print(f"{header}  sent")
    for kind, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        peak = max(r["peak_mb"] for r in results)
        sent = max(r["sent"] for r in results)
        ratios = ", ".join(f"{r['wall'] / floor:.3f}" for r in results)
        each = f"  [{ratios}]" if repeat > 1 else ""
        print(
            f"  {kind:<8} {wall:>7.2f}s {wall / floor:>10.3f}x {cpu / requests * 1000:>9.2f} ms "
            f"{peak:>6.0f} MB  {sent}{each}"
        )
    warm = runs["evalbot"]
    print(
        f"  evalbot warm cache: wall {statistics.median(r['warm_wall'] for r in warm):.2f} s, "
        f"sent {max(r['warm_sent'] for r in warm)}"
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, base_url, n, concurrency = sys.argv[2:6]
        print(json.dumps(_child(kind, base_url, int(n), int(concurrency))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workload", type=int, action="append", choices=sorted(WORKLOADS), help="default: all"
    )
    parser.add_argument("--n", type=int, help="a custom workload: examples per side")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="fake latency, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="runs per client (medians)")
    parser.add_argument(
        "--server",
        choices=("asyncio", "threaded"),
        default="asyncio",
        help="the fake endpoint: raw asyncio (default) or the tests' threaded fake",
    )
    args = parser.parse_args()
    if args.n is not None:
        _workload(args.n, args.concurrency, args.latency, args.repeat, "custom", args.server)
        return 0
    for number in args.workload or sorted(WORKLOADS):
        n, concurrency, latency = WORKLOADS[number]
        _workload(n, concurrency, latency, args.repeat, f"workload {number}", args.server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
