"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint.

Endpoint and key come from the environment mapping the entrypoint passes in, read from the
variable *names* the model config gives (``base_url_env``, ``api_key_env``); the model config
itself never holds either. The host is checked against ``--allowed-hosts`` before anything is
sent, so a pull request cannot point the key at another server.

Requests go out through ``run.transport.ChatSender`` (aiohttp on the wire, the SDK's retry
policy, backoff, ``Retry-After`` and typed errors). This module translates what is left after
``max_retries``, with an allowance for gateways such as LiteLLM: a non-retryable refusal that
every request gets (LiteLLM answers 400 for an unknown model name, and for any key on a proxy
without a database) stops the run after ``EARLY_STOP`` identical ones instead of failing every
request of the run one by one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evalbot.errors import ConfigError, ProviderError
from evalbot.inputs.config import ModelConfig
from evalbot.records import Completion, ModelRequest, TokenLogprob
from evalbot.run.providers import (
    ProviderContext,
    cost_of,
    one_line,
    register_builder,
    too_large,
)
from evalbot.run.transport import ChatSender, TooLarge, sdk_http_client

if TYPE_CHECKING:
    # The SDK loads when a client is made, not when the registry reads this module's spec:
    # ``evalbot validate`` checks model configs without it.
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


class OpenAIClients:
    """One ``AsyncOpenAI`` per (base URL, key variable), shared by every model config using it
    (it holds the retry policy and error types), and the ``ChatSender`` that posts to it.
    ``connections`` bounds each endpoint's connection pool (the run's concurrency)."""

    def __init__(self, env: Mapping[str, str], *, max_retries: int, connections: int = 100) -> None:
        self._env = env
        self.max_retries = max_retries
        self.connections = connections
        self._clients: dict[tuple[str, str], AsyncOpenAI] = {}
        self._senders: dict[tuple[str, str], ChatSender] = {}

    def key(self, endpoint: Endpoint) -> str:
        key = (self._env.get(endpoint.key_env) or "").strip()
        if not key:
            raise ConfigError(
                f"{endpoint.key_env} is not set (needed for {endpoint.host})",
                hint=f"pass the key as {endpoint.key_env} in the workflow's env "
                "(any placeholder for an endpoint without auth)",
            )
        if not key.isascii() or any(c in key for c in "\r\n"):
            # The HTTP client would fail encoding the header, with the header in the exception.
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
                http_client=sdk_http_client(),  # the SDK decides, ChatSender sends
            )
        return self._clients[slot]

    def sender(self, endpoint: Endpoint) -> ChatSender:
        slot = (endpoint.base_url, endpoint.key_env)
        sender = self._senders.get(slot)
        if sender is None:
            sender = ChatSender(
                self.client(endpoint), self.key(endpoint), connections=self.connections
            )
            self._senders[slot] = sender
        return sender

    async def aclose(self) -> None:
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await sender.aclose()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


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
        # Compact, UTF-8, no NaN (as the SDK would have encoded it).
        content = json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        start = time.perf_counter()
        try:
            answer = await sender.post(content, self.config.timeout_s)
        except TooLarge:
            return too_large((time.perf_counter() - start) * 1000)
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
        latency_ms = (time.perf_counter() - start) * 1000
        try:
            completion = self._parse(json.loads(answer.body), request, latency_ms)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, RecursionError):
            return Completion(error="malformed chat-completion response", latency_ms=latency_ms)
        self._answered = True
        served_by = answer.headers.get(_SERVED_BY_HEADER)
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
