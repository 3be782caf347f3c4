"""A fake OpenAI-compatible server: real HTTP on 127.0.0.1, scripted replies. A DEMO AND TEST
FAKE, NOT A MODEL: by default it answers every chat completion with the last user message.

Try evalbot on your own project without an API key::

    python -m evalbot.fake_openai --port 8000 --latency 0.05 --error-rate 0.02
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=fake evalbot diff --base main

evalbot's own tests drive it in-process (``tests/fakes/openai_server.py`` re-exports it)::

    with FakeOpenAI() as fake:                       # or the ``fake_openai`` fixture
        fake.enqueue(Reply(status=429, headers={"Retry-After": "0.01"}), "hello")
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test-key")
        ...
        assert len(fake.requests) == 2

Replies come from the FIFO queue first, then from the responder (default: echo the last user
message). A responder may return a ``Reply`` or a plain string (the content of a 200 reply).

``LiteLLMGateway`` makes the fake answer as a LiteLLM proxy (1.108) in front of it does, as
recorded against a real proxy: 400 "Invalid model name …" for a model it does not route, 400
"No connected db." for a wrong key on a proxy without a database, upstream headers renamed with an
``llm_provider-`` prefix (so ``Retry-After`` arrives as ``llm_provider-retry-after``), the body's
``model`` rewritten to the alias asked for and the deployment named in ``x-litellm-model-name``.
``judge_down`` wraps a responder so that every judge call fails (a judge that is down).

Faults for soak tests: ``faults=Faults(rate_429=0.15, rate_500=0.05, rate_stall=0.01, seed=7)``
answers a share of requests with a 429 (half of them with a small ``Retry-After``), a 500, or a
stalled connection (no answer until the client gives up), drawn from a seeded generator. The same
request body never fails more than ``max_consecutive`` times in a row, so a client with that many
retries always gets through and the answers stay exactly those of a clean run. ``restart()`` stops
the server and starts it again on the same port (connections in flight are cut).

Note for retry tests: the openai SDK treats ``Retry-After: 0`` as "no hint" and falls back to its
own exponential backoff (0.5 s, 1 s, ...); use a small positive value such as ``"0.01"`` (or
``retry-after-ms``) to keep tests fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeOpenAI",
    "Faults",
    "LiteLLMGateway",
    "Reply",
    "Responder",
    "echo_last_user",
    "judge_down",
    "main",
]


@dataclass
class Reply:
    """One scripted response of the fake server."""

    content: str = "ok"
    status: int = 200
    """Non-200: an OpenAI-style error JSON body (``content`` is its message unless "ok")."""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    logprobs: list[tuple[str, float, list[tuple[str, float]]]] | None = None
    """Per output token: (token, logprob, top alternatives as (token, logprob))."""
    prompt_tokens: int | None = None
    """Default: a rough count of the request's words."""
    completion_tokens: int | None = None
    """Default: a rough count of the content's words."""
    model: str | None = None
    """Default: the requested model."""


Responder = Callable[[dict], "Reply | str"]


@dataclass
class Faults:
    """Injected failures, as shares of all chat-completion requests (see the module docstring)."""

    rate_429: float = 0.0
    retry_after_share: float = 0.5
    """Of the 429s, the share that carries ``Retry-After`` (a value in ``retry_after_s``)."""
    retry_after_s: tuple[float, float] = (0.001, 0.05)
    rate_500: float = 0.0
    rate_stall: float = 0.0
    stall_s: float = 30.0
    """How long a stalled request is held (cut short by ``stop``/``restart``)."""
    max_consecutive: int = 3
    seed: int = 0
    served: Counter[str] = field(default_factory=Counter)
    """What was injected: ``429``, ``429+retry-after``, ``500``, ``stall``, ``ok``."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._failed: Counter[str] = Counter()

    def draw(self, body: dict) -> str:
        """``ok`` or the fault for this request (called under the fake's lock)."""
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        roll = self._rng.random()
        fault = "ok"
        if self._failed[key] < self.max_consecutive:
            if roll < self.rate_429:
                with_hint = self._rng.random() < self.retry_after_share
                fault = "429+retry-after" if with_hint else "429"
            elif roll < self.rate_429 + self.rate_500:
                fault = "500"
            elif roll < self.rate_429 + self.rate_500 + self.rate_stall:
                fault = "stall"
        self._failed[key] = 0 if fault == "ok" else self._failed[key] + 1
        self.served[fault] += 1
        return fault

    def retry_after(self) -> str:
        lo, hi = self.retry_after_s
        return f"{self._rng.uniform(lo, hi):.3f}"


_ERROR_TYPES = {
    400: ("invalid_request_error", "Bad request"),
    401: ("invalid_request_error", "Incorrect API key provided"),
    403: ("permission_error", "Permission denied"),
    404: ("invalid_request_error", "The model does not exist or you do not have access to it"),
    408: ("timeout", "Request timed out"),
    429: ("rate_limit_exceeded", "Rate limit reached"),
}


def _last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def echo_last_user(body: dict) -> Reply | str:
    """The default responder: the last user message, verbatim."""
    return _last_user_text(body)


def judge_down(responder: Responder = echo_last_user, *, status: int = 500) -> Responder:
    """Every judge call (system message "evalbot judge prompt …") gets ``status``; the rest go
    to ``responder``. A short Retry-After keeps the SDK's retries fast."""

    def answer(body: dict) -> Reply | str:
        messages = body.get("messages") or [{}]
        if str(messages[0].get("content", "")).startswith("evalbot judge prompt"):
            return Reply(
                "judge upstream unavailable", status=status, headers={"Retry-After": "0.01"}
            )
        return responder(body)

    return answer


@dataclass
class LiteLLMGateway:
    """What a LiteLLM proxy in front of the fake changes (see the module docstring)."""

    models: dict[str, str] = field(default_factory=lambda: {"fake-model": "openai/fake-model"})
    """Alias a client asks for → the deployment LiteLLM routes it to."""

    def refuse(self, body: dict, authorized: bool) -> tuple[int, dict[str, Any]] | None:
        if not authorized:
            # A proxy without a database cannot look a key up; it says so with a 400.
            return 400, _litellm_error("No connected db.", "no_db_connection", 400)
        model = str(body.get("model", ""))
        if model not in self.models:
            message = (
                f"/chat/completions: Invalid model name passed in model={model}. "
                "Call `/v1/models` to view available models for your key."
            )
            return 400, _litellm_error(message, "invalid_request_error", 400)
        return None

    def headers(self, body: dict, upstream: dict[str, str], ok: bool) -> dict[str, str]:
        renamed = {f"llm_provider-{k.lower()}": v for k, v in upstream.items()}
        if ok:
            renamed["x-litellm-model-name"] = self.models[str(body.get("model"))]
        return renamed


def _litellm_error(message: str, kind: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def _words(text: str) -> int:
    return len(text.split())


def _prompt_words(body: dict) -> int:
    total = 0
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            total += _words(message["content"])
    return total


def _token(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _completion_body(body: dict, reply: Reply, serial: int) -> dict[str, Any]:
    logprobs = None
    if reply.logprobs is not None:
        logprobs = {
            "content": [
                {**_token(tok, lp), "top_logprobs": [_token(a, alp) for a, alp in alts]}
                for tok, lp, alts in reply.logprobs
            ],
            "refusal": None,
        }
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else _prompt_words(body)
    completion = (
        reply.completion_tokens if reply.completion_tokens is not None else _words(reply.content)
    )
    return {
        "id": f"chatcmpl-fake-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or str(body.get("model", "")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": None},
                "logprobs": logprobs,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": "fp_fake",
    }


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, default = _ERROR_TYPES.get(status, ("server_error", f"HTTP {status}"))
    return {"error": {"message": message or default, "type": kind, "param": None, "code": None}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: bursts of 64+ concurrent connects would be dropped
    # and retried by the kernel after a second, distorting every timing.
    request_queue_size = 1024
    fake: FakeOpenAI
    tls: ssl.SSLContext | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def get_request(self) -> tuple[Any, Any]:
        request, client_address = super().get_request()
        if self.tls is not None:  # the handshake happens in the handler's thread
            request = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        return request, client_address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Close every open connection, as a server process that exits does."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up mid-reply are expected in tests; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", "req_fake")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authorized(self, header: str) -> bool:
        key = self.server.fake.api_key
        return key is None or header == f"Bearer {key}"

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, _error_body(404, f"no route GET {self.path}"))
            return
        if not self._authorized(self.headers.get("Authorization", "")):
            self._send_json(401, _error_body(401))
            return
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error_body(404, f"no route POST {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, _error_body(400, "request body is not JSON"))
            return
        auth = self.headers.get("Authorization", "")
        serial = fake._record(body, auth)
        fake._enter()
        try:
            gateway = fake.gateway
            if gateway is not None:
                refused = gateway.refuse(body, self._authorized(auth))
                if refused is not None:
                    self._send_json(*refused)
                    return
            elif not self._authorized(auth):
                self._send_json(401, _error_body(401))
                return
            fault = fake._draw_fault(body)
            if fault == "stall":  # hold the connection, answer nothing; the client times out
                fake._stop_stalls.wait(fake.faults.stall_s if fake.faults else 0)
                self.close_connection = True
                return
            if fault.startswith("429"):
                assert fake.faults is not None
                hint = {"Retry-After": fake.faults.retry_after()} if "+" in fault else {}
                self._send_json(429, _error_body(429), hint)
                return
            if fault == "500":
                self._send_json(500, _error_body(500, "injected server error"))
                return
            reply = fake._next_reply(body)
            pause = fake.latency_s + reply.delay_s
            if pause > 0:
                time.sleep(pause)
            headers = reply.headers
            if gateway is not None:
                headers = gateway.headers(body, reply.headers, ok=reply.status == 200)
            if reply.status != 200:
                message = None if reply.content == "ok" else reply.content
                self._send_json(reply.status, _error_body(reply.status, message), headers)
                return
            completion = _completion_body(body, reply, serial)
            if gateway is not None:
                completion["model"] = body.get("model")  # LiteLLM answers with the alias
            self._send_json(200, completion, headers)
        finally:
            fake._leave()


class FakeOpenAI:
    """An OpenAI-compatible endpoint on 127.0.0.1 (ephemeral port) serving scripted replies.

    ``requests`` holds every chat-completions body received, rejected ones (401) included, with
    ``auth_headers`` aligned to it. ``responder`` may be reassigned while running.
    ``max_in_flight`` is the largest number of chat-completion requests it was handling at once
    (cleared by ``reset``), for tests of client-side concurrency bounds.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        api_key: str | None = "test-key",
        gateway: LiteLLMGateway | None = None,
        faults: Faults | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_last_user
        self.tls = tls
        self.faults = faults
        self._stop_stalls = threading.Event()
        self._port = 0
        self._host = "127.0.0.1"
        self.restarts = 0
        self.latency_s = latency_s
        self.api_key = api_key
        self.gateway = gateway
        self.models: list[str] = ["gpt-4o-mini", "fake-model"]
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        self.max_in_flight = 0
        self.in_flight = 0
        self._queue: deque[Reply | str] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._stop_stalls.clear()
        server = _Server((self._host, self._port), _Handler)
        self._port = server.server_address[1]
        server.fake = self
        server.tls = self.tls
        self._server = server
        scheme = "https" if self.tls is not None else "http"
        self.base_url = f"{scheme}://{self._host}:{server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def bind(self, host: str, port: int) -> None:
        """Listen on ``host:port`` when started (default: 127.0.0.1, an ephemeral port)."""
        self._host, self._port = host, port

    def restart(self) -> None:
        """Stop, then serve again on the same port: in-flight and idle connections are cut."""
        self.stop()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        self._stop_stalls.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.cut_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------

    def enqueue(self, *replies: Reply | str) -> None:
        """Replies used, in order, before the responder is consulted."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget recorded requests, queued replies and the in-flight maximum."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.auth_headers.clear()
            self.max_in_flight = self.in_flight

    # -- used by the handler threads ---------------------------------------------------------

    def _record(self, body: dict, auth: str) -> int:
        with self._lock:
            self.requests.append(body)
            self.auth_headers.append(auth)
            return len(self.requests)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _draw_fault(self, body: dict) -> str:
        if self.faults is None:
            return "ok"
        with self._lock:
            return self.faults.draw(body)

    def _next_reply(self, body: dict) -> Reply:
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        reply = queued if queued is not None else self.responder(body)
        return Reply(content=reply) if isinstance(reply, str) else reply


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m evalbot.fake_openai",
        description="A fake OpenAI-compatible endpoint for trying evalbot without a key: a demo "
        "and test fake, not a model. It answers each chat completion with the last user "
        "message (token counts included), after --latency seconds, failing a share of calls.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of calls answered with HTTP 500"
    )
    parser.add_argument(
        "--rate-limit-rate", type=float, default=0.0, help="share of calls answered with HTTP 429"
    )
    parser.add_argument("--api-key", default=None, help="the only key accepted (default: any key)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injected failures")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; prints the base URL to use as ``OPENAI_BASE_URL``."""
    args = _parser().parse_args(argv)
    for name in ("error_rate", "rate_limit_rate"):
        if not 0 <= getattr(args, name) <= 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be between 0 and 1")
    faults = None
    if args.error_rate or args.rate_limit_rate:
        faults = Faults(rate_500=args.error_rate, rate_429=args.rate_limit_rate, seed=args.seed)
    fake = FakeOpenAI(latency_s=max(args.latency, 0.0), api_key=args.api_key, faults=faults)
    fake.bind(args.host, args.port)
    with fake:
        print(f"fake OpenAI-compatible endpoint (demo/test fake, not a model) at {fake.base_url}")
        print(f"  export OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY={args.api_key or 'fake'}")
        print("  Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
