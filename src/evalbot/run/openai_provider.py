"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint, through the SDK.

Endpoint and key come from the environment mapping the entrypoint passes in, read from the
variable *names* the model config gives (``base_url_env``, ``api_key_env``); the model config
itself never holds either. The host is checked against ``--allowed-hosts`` before anything is
sent, so a pull request cannot point the key at another server.

Requests go through the SDK's own HTTP client (its httpx client, pool and timeouts) but are
built here, once per endpoint for what does not change (URL, headers): the SDK's per-call
request building (options models copied per attempt, URL merging and header normalisation) cost
about a third of the client's CPU per call, and at high concurrency that CPU, not the model, sets
the pace (benchmarks/runner_throughput.py). Retry policy, backoff, ``Retry-After`` and the typed
errors are still the SDK's: ``_Sender`` asks the client whether to retry (``_should_retry``), how
long to wait (``_calculate_retry_timeout``, which reads ``Retry-After``/``retry-after-ms``) and
builds the error (``_make_status_error_from_response``), so what a caller sees is what
``client.post`` raised. This module only translates what is left after ``max_retries``, with two
allowances for gateways such as LiteLLM:

* a gateway that renames the upstream's ``Retry-After`` (LiteLLM sends
  ``llm_provider-retry-after``) gets it copied back by a response hook, so the SDK's own backoff
  honours it;
* a non-retryable refusal that every request gets (LiteLLM answers 400 for an unknown model
  name, and for any key on a proxy without a database) stops the run after ``EARLY_STOP``
  identical ones instead of failing every request of the run one by one.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evalbot.errors import ConfigError, ProviderError
from evalbot.inputs.config import ModelConfig
from evalbot.records import Completion, ModelRequest, TokenLogprob
from evalbot.run.providers import (
    MAX_RESPONSE_BYTES,
    ProviderContext,
    cost_of,
    one_line,
    register_builder,
    too_large,
)

if TYPE_CHECKING:
    # The SDK loads when a client is made, not when the registry reads this module's spec:
    # ``evalbot validate`` checks model configs without it.
    import httpx
    import openai
    from openai import AsyncOpenAI

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "EARLY_STOP",
    "Endpoint",
    "OpenAIClients",
    "OpenAIProvider",
    "resolve_endpoint",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROVIDER_KIND = "openai"
"""The ``provider:`` value of this kind, and the default of every model config."""
DEFAULT_MAX_RETRIES = 4
EARLY_STOP = 3
"""Identical non-retryable refusals, before any success, after which the run stops."""
_RETRY_AFTER_ALIASES = {
    "retry-after": "llm_provider-retry-after",
    "retry-after-ms": "llm_provider-retry-after-ms",
}
"""Plain header the SDK reads → the name a gateway renamed it to (LiteLLM prefixes upstream
headers with ``llm_provider-``)."""
_SERVED_BY_HEADER = "x-litellm-model-name"
"""LiteLLM rewrites the body's ``model`` to the alias asked for; this header names the
deployment that actually answered."""

_RETRIED_STATUSES = {408, 409, 429}
"""Besides 5xx: the statuses the SDK retries (so an error message can say it did)."""
# OpenAI-style keys, whole or masked ("sk-proj-abc1****wxyz"), as 401 messages quote them.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}")


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint: where requests go and which variable holds the key (not the key)."""

    base_url: str
    """Normalised: scheme, lower-case host, port, path without trailing slash; no credentials."""
    host: str
    key_env: str


def _host_allowed(host: str, port: int | None, allowed: Sequence[str]) -> bool:
    for entry in (a.strip().lower() for a in allowed):
        if not entry:
            continue
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if entry == host or (port is not None and entry == f"{host}:{port}"):
            return True
    return False


def resolve_endpoint(
    config: ModelConfig, env: Mapping[str, str], allowed_hosts: Sequence[str] | None
) -> Endpoint:
    """The endpoint a model config points at, after the allowed-hosts check.

    ``allowed_hosts`` entries are host names (``api.openai.com``), ``host:port`` or
    ``*.example.com`` (any subdomain); None means no restriction. The normalised URL drops a
    default port, so ``https://h:443/v1`` and ``https://h/v1`` are one endpoint (and one cache
    scope).
    """
    raw = (env.get(config.base_url_env) or "").strip() or DEFAULT_BASE_URL
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        # The value is not echoed: a URL can carry credentials (user:password@host).
        raise ConfigError(
            f"{config.base_url_env} is not an http(s) URL",
            hint=f"set {config.base_url_env} to e.g. {DEFAULT_BASE_URL}",
        )
    if allowed_hosts is not None and not _host_allowed(host, parts.port, allowed_hosts):
        # The value is named by the variable only: it may be a URL the workflow never meant
        # for models (GITHUB_API_URL), and the host says enough.
        raise ConfigError(
            f"model endpoint host {host!r} (from {config.base_url_env}) is not allowed",
            hint=f"add {host} to --allowed-hosts (action input allowed-hosts) if you trust it",
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"{config.base_url_env} has an invalid port", hint=f"e.g. {DEFAULT_BASE_URL}"
        ) from None
    if port == {"http": 80, "https": 443}[parts.scheme]:
        port = None
    netloc = host if port is None else f"{host}:{port}"
    base_url = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
    return Endpoint(base_url=base_url, host=host, key_env=config.api_key_env)


async def _restore_retry_after(response: httpx.Response) -> None:
    """Response hook: give the SDK a plain ``Retry-After`` when a gateway renamed it.

    The SDK reads ``retry-after-ms`` then ``retry-after`` from the response it retries on
    (``_parse_retry_after_header``), so copying the renamed header back is all it takes for its
    own backoff to honour the upstream's hint. A plain header, when present, wins.
    """
    headers = response.headers
    if any(name in headers for name in _RETRY_AFTER_ALIASES):
        return
    for name, alias in _RETRY_AFTER_ALIASES.items():
        value = headers.get(alias)
        if value is not None:
            headers[name] = value


def _http_library(client: object) -> ModuleType:
    """The httpx flavour the SDK's HTTP client is built on (``httpx2`` for openai 3, ``httpx``
    before): requests, URLs and timeouts must be that library's own types."""
    for base in type(client).__mro__:
        if base.__name__ == "AsyncClient":
            return sys.modules[base.__module__.partition(".")[0]]
    raise TypeError(f"not an httpx client: {type(client).__name__}")


class _Sender:
    """``POST /chat/completions`` on one endpoint through the SDK's HTTP client, with the SDK's
    retry policy, backoff and errors (see the module docstring).

    Only bearer auth is sent: the SDK's default request options would also attach
    OPENAI_ADMIN_KEY from the process environment when it is set, and that key has no business
    going to a model endpoint. Redirects are not followed: they would send the prompt (httpx
    drops the Authorization header, not the body) to whatever host a 307 names.
    """

    def __init__(self, sdk: AsyncOpenAI, api_key: str) -> None:
        from openai._models import FinalRequestOptions

        self.sdk = sdk
        self.http = sdk._client
        self.lib = _http_library(self.http)
        self.url = self.lib.URL(f"{str(sdk.base_url).rstrip('/')}/chat/completions")
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": sdk.user_agent,
            "Authorization": f"Bearer {api_key}",
        }
        self._retry_options = FinalRequestOptions.construct(method="post", url="/chat/completions")
        self._timeouts: dict[float, dict[str, Any]] = {}
        self._timeout_errors: tuple[type[BaseException], ...]
        self._request_errors: tuple[type[BaseException], ...]
        try:  # the exception tuples the SDK itself catches (openai 3: httpx2, and httpx)
            import openai._httpx2 as compat

            self._timeout_errors = compat.timeout_exceptions()
            self._request_errors = compat.request_exceptions()
        except ImportError:  # openai 1.x on plain httpx: any other exception is a connection one
            self._timeout_errors, self._request_errors = (self.lib.TimeoutException,), (Exception,)

    async def post(self, body: bytes, timeout_s: float) -> Any:
        """The (streamed, unread) 2xx response; else the ``openai`` error ``client.post`` raises.

        Timeouts, transport errors and the statuses the SDK retries (408, 409, 429, 5xx, or as
        ``x-should-retry`` says) are retried up to ``max_retries`` times, waiting what the SDK
        would (``Retry-After`` honoured up to its cap, else exponential backoff with jitter).
        """
        import openai

        extensions = self._timeouts.get(timeout_s)
        if extensions is None:
            extensions = {"timeout": self.lib.Timeout(timeout_s).as_dict()}
            self._timeouts[timeout_s] = extensions
        retries = self.sdk.max_retries
        for attempt in range(retries + 1):
            remaining = retries - attempt
            request = self.lib.Request(
                "POST", self.url, headers=self.headers, content=body, extensions=extensions
            )
            try:
                response = await self.http.send(request, stream=True, follow_redirects=False)
            except self._timeout_errors as err:
                if remaining > 0:
                    await self._wait(remaining, None)
                    continue
                raise openai.APITimeoutError(request=request) from err
            except self._request_errors as err:
                if remaining > 0:
                    await self._wait(remaining, None)
                    continue
                raise openai.APIConnectionError(request=request) from err
            if response.is_success:
                return response
            if remaining > 0 and self.sdk._should_retry(response):
                await response.aclose()
                await self._wait(remaining, response.headers)
                continue
            await response.aread()
            raise self.sdk._make_status_error_from_response(response) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _wait(self, remaining: int, headers: Any) -> None:
        options = self._retry_options
        await asyncio.sleep(self.sdk._calculate_retry_timeout(remaining, options, headers))


class OpenAIClients:
    """One ``AsyncOpenAI`` per (base URL, key variable), shared by every model config using it,
    and the ``_Sender`` that posts chat completions through its HTTP client."""

    def __init__(self, env: Mapping[str, str], *, max_retries: int) -> None:
        self._env = env
        self.max_retries = max_retries
        self._clients: dict[tuple[str, str], AsyncOpenAI] = {}
        self._senders: dict[tuple[str, str], _Sender] = {}

    def key(self, endpoint: Endpoint) -> str:
        key = (self._env.get(endpoint.key_env) or "").strip()
        if not key:
            raise ConfigError(
                f"{endpoint.key_env} is not set (needed for {endpoint.host})",
                hint=f"pass the key as {endpoint.key_env} in the workflow's env "
                "(any placeholder for an endpoint without auth)",
            )
        if not key.isascii() or any(c in key for c in "\r\n"):
            # httpx would fail encoding the header, with the whole header in the exception.
            raise ConfigError(
                f"{endpoint.key_env} holds characters that cannot go in an HTTP header",
                hint=f"check the secret passed as {endpoint.key_env} (ASCII only)",
            )
        return key

    def client(self, endpoint: Endpoint) -> AsyncOpenAI:
        import openai

        slot = (endpoint.base_url, endpoint.key_env)
        if slot not in self._clients:
            # api_key is always explicit: left None, the SDK would fall back to OPENAI_API_KEY
            # from the process environment and send it to whatever host this is.
            self._clients[slot] = openai.AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=self.key(endpoint),
                max_retries=self.max_retries,
                # The SDK's own defaults (timeouts, pool limits), plus the gateway header fix.
                http_client=openai.DefaultAsyncHttpxClient(
                    event_hooks={"response": [_restore_retry_after]}
                ),
            )
        return self._clients[slot]

    def sender(self, endpoint: Endpoint) -> _Sender:
        slot = (endpoint.base_url, endpoint.key_env)
        sender = self._senders.get(slot)
        if sender is None:
            sender = _Sender(self.client(endpoint), self.key(endpoint))
            self._senders[slot] = sender
        return sender

    async def aclose(self) -> None:
        self._senders = {}
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


class _TooLarge(Exception):
    pass


async def _read_capped(response: httpx.Response, timeout_s: float) -> bytes:
    """The body, at most ``MAX_RESPONSE_BYTES`` (then ``_TooLarge``), within ``timeout_s``."""
    data = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise _TooLarge
    finally:
        await response.aclose()
    return bytes(data)


def _logprobs(choice: dict[str, Any]) -> list[list[TokenLogprob]] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    rows: list[list[TokenLogprob]] = []
    for item in content:
        alternatives = item.get("top_logprobs") or [item]
        rows.append([TokenLogprob(token=a["token"], logprob=a["logprob"]) for a in alternatives])
    return rows


class OpenAIProvider:
    """Chat completions for one model config on one endpoint."""

    def __init__(
        self,
        config: ModelConfig,
        endpoint: Endpoint,
        clients: OpenAIClients,
        *,
        cache_scope: str | None = None,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        # The endpoint's normalised URL is part of the cache key: another server (a proxy,
        # another region or vendor) never replays this one's answers. ``cache_scope`` (trusted
        # side only) names a scope shared on purpose, e.g. a proxy and the API behind it.
        self.scope = f"openai:{cache_scope or endpoint.base_url}"
        self._clients = clients
        self._retries = clients.max_retries
        self._answered = False
        self._refusals: dict[tuple[int, str], int] = {}

    def _scrub(self, text: str) -> str:
        """Servers sometimes echo (part of) the key in error messages; never pass it on."""
        text = text.replace(self._clients.key(self.endpoint), "***")
        return _KEY_LIKE.sub("sk-***", text)

    def _detail(self, exc: openai.APIStatusError) -> str:
        """The endpoint's own error message, one line, key scrubbed."""
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        return self._scrub(one_line(str(message or exc.message)))

    def _fatal(self, exc: openai.APIStatusError, model: str) -> ProviderError:
        # The endpoint's own words come last: behind a gateway, a 401 may be about the
        # gateway's key for its upstream, not about the key this workflow passed.
        host, status = self.endpoint.host, exc.status_code
        said = f"; the endpoint said: {self._detail(exc)}"
        if status == 401:
            return ProviderError(
                f"{host} rejected the API key from {self.endpoint.key_env} (HTTP 401){said}",
                hint=f"check the secret passed as {self.endpoint.key_env}; behind a gateway "
                "(e.g. LiteLLM), the message above tells whether the gateway's own upstream "
                "key was refused",
            )
        if status == 403:
            return ProviderError(
                f"{host} denied access to model {model!r} (HTTP 403){said}",
                hint=f"check the permissions of the key in {self.endpoint.key_env}",
            )
        return ProviderError(
            f"model {model!r} not found at {host} (HTTP 404){said}",
            hint=f"check 'model' in the model config and that {self.config.base_url_env} "
            "ends in /v1",
        )

    def _refused(self, status: int, detail: str, model: str) -> ProviderError | None:
        """A run-stopping error once the same non-retryable refusal came back ``EARLY_STOP``
        times before any answer: it is about the model name or the key, not the example."""
        if self._answered:
            return None
        seen = self._refusals.get((status, detail), 0) + 1
        self._refusals[(status, detail)] = seen
        if seen < EARLY_STOP:
            return None
        return ProviderError(
            f"{self.endpoint.host} refused the first {seen} requests for model {model!r} "
            f"the same way (HTTP {status}): {detail}",
            hint=f"check 'model' in the model config and the key in {self.endpoint.key_env} "
            "(a gateway answers 400 for both); evalbot stopped instead of sending the rest",
        )

    def _unreachable(self, reason: str, model: str) -> ProviderError | None:
        """A run-stopping error once ``EARLY_STOP`` requests in a row, before any answer, could
        not connect even after the SDK's retries: the endpoint is down or the URL wrong, and
        the rest would each spend the same minute of retries to say so."""
        if self._answered:
            return None
        seen = self._refusals.get((0, reason), 0) + 1
        self._refusals[(0, reason)] = seen
        if seen < EARLY_STOP:
            return None
        return ProviderError(
            f"the first {seen} requests for model {model!r} failed the same way: {reason}",
            hint=f"check that the endpoint is up and that {self.config.base_url_env} points "
            "to it; evalbot stopped instead of retrying the rest",
        )

    def _redirected(self, exc: openai.APIStatusError) -> ProviderError:
        target = urlsplit(exc.response.headers.get("location") or "").hostname or "elsewhere"
        return ProviderError(
            f"{self.endpoint.host} answered HTTP {exc.status_code}, a redirect to {target}; "
            "redirects are not followed for model calls",
            hint=f"set {self.config.base_url_env} to the final URL of the endpoint",
        )

    async def complete(self, request: ModelRequest) -> Completion:
        import openai

        sender = self._clients.sender(self.endpoint)
        # Params go into the body as written in the model config (temperature, seed,
        # response_format, provider-specific extras...).
        body = {
            **request.params,
            "model": request.model,
            "messages": [m.model_dump() for m in request.messages],
        }
        body.pop("stream", None)  # one whole answer per call; latency is measured end to end
        # As httpx encodes ``json=``: compact, UTF-8, no NaN.
        content = json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        start = time.perf_counter()
        try:
            # Streamed: the headers tell which deployment answered, and the body is read here,
            # capped (a 100 MB answer is never held whole).
            response = await sender.post(content, self.config.timeout_s)
        except (
            openai.AuthenticationError,
            openai.PermissionDeniedError,
            openai.NotFoundError,
        ) as e:
            raise self._fatal(e, request.model) from None
        except openai.APITimeoutError:
            return self._failed(start, f"timed out after {self.config.timeout_s:g}s")
        except openai.APIConnectionError:
            failed = self._failed(start, f"could not connect to {self.endpoint.host}")
            stop = self._unreachable(failed.error or "", request.model)
            if stop is not None:
                raise stop from None
            return failed
        except openai.APIStatusError as exc:
            if 300 <= exc.status_code < 400:
                raise self._redirected(exc) from None
            detail = self._detail(exc)
            retried = exc.status_code in _RETRIED_STATUSES or exc.status_code >= 500
            if not retried:
                stop = self._refused(exc.status_code, detail, request.model)
                if stop is not None:
                    raise stop from None
            return self._failed(start, f"HTTP {exc.status_code}: {detail}", retried=retried)
        except openai.APIError as exc:
            return self._failed(start, self._scrub(one_line(str(exc))), retried=False)
        try:
            raw = await _read_capped(response, self.config.timeout_s)
        except _TooLarge:
            return too_large((time.perf_counter() - start) * 1000)
        except Exception:  # the transport's own errors (the SDK's httpx flavour), or timeout
            return self._failed(start, "the connection failed while reading the answer")
        latency_ms = (time.perf_counter() - start) * 1000
        try:
            completion = self._parse(json.loads(raw), request, latency_ms)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, RecursionError):
            return Completion(error="malformed chat-completion response", latency_ms=latency_ms)
        self._answered = True
        served_by = response.headers.get(_SERVED_BY_HEADER)
        if served_by and completion.ok:
            completion = completion.model_copy(update={"response_model": served_by})
        return completion

    def _failed(self, start: float, reason: str, *, retried: bool = True) -> Completion:
        retries = f" (after {self._retries} retries)" if retried and self._retries else ""
        latency_ms = (time.perf_counter() - start) * 1000
        return Completion(error=f"{reason}{retries}", latency_ms=latency_ms)

    def _parse(
        self, response: dict[str, Any], request: ModelRequest, latency_ms: float
    ) -> Completion:
        choices = response.get("choices")
        if not choices:
            return Completion(error="the endpoint returned no choices", latency_ms=latency_ms)
        message = choices[0].get("message") or {}
        content = message.get("content")
        text = content if content is not None else (message.get("refusal") or "")
        usage = response.get("usage") or {}
        input_tokens = int(usage.get("prompt_tokens") or 0)
        output_tokens = int(usage.get("completion_tokens") or 0)
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            cost_usd=cost_of(self.config.price, input_tokens, output_tokens),
            response_model=response.get("model") or request.model,
            top_logprobs=_logprobs(choices[0]),
        )

    async def aclose(self) -> None:
        # Clients are shared between providers; the runner closes them.
        return None


def _build(config: ModelConfig, context: ProviderContext, workdir: Path | None) -> OpenAIProvider:
    endpoint = resolve_endpoint(config, context.env, context.allowed_hosts)
    return OpenAIProvider(config, endpoint, context.clients, cache_scope=context.cache_scope)


register_builder(PROVIDER_KIND, _build)
