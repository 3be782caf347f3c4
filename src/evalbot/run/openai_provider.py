"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint, through the SDK.

Endpoint and key come from the environment mapping the entrypoint passes in, read from the
variable *names* the model config gives (``base_url_env``, ``api_key_env``); the model config
itself never holds either. The host is checked against ``--allowed-hosts`` before anything is
sent, so a pull request cannot point the key at another server.

Retries, backoff and ``Retry-After`` are the SDK's (``max_retries``); this module only
translates what is left afterwards.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI

from evalbot.config import ModelConfig
from evalbot.errors import ConfigError, ProviderError
from evalbot.records import Completion, ModelRequest, TokenLogprob
from evalbot.run.providers import cost_of, one_line

__all__ = ["DEFAULT_BASE_URL", "Endpoint", "OpenAIClients", "OpenAIProvider", "resolve_endpoint"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Only bearer auth: the SDK's default request options would also attach OPENAI_ADMIN_KEY from the
# process environment when it is set, and that key has no business going to a model endpoint.
# Redirects are not followed: the SDK's client follows them by default, which would send the
# prompt (httpx drops the Authorization header, not the body) to whatever host a 307 names.
_REQUEST_SECURITY: dict[str, Any] = {"security": {"bearer_auth": True}, "follow_redirects": False}
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
    """One ``AsyncOpenAI`` per (base URL, key variable), shared by every model config using it."""

    def __init__(self, env: Mapping[str, str], *, max_retries: int) -> None:
        self._env = env
        self.max_retries = max_retries
        self._clients: dict[tuple[str, str], AsyncOpenAI] = {}

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
        slot = (endpoint.base_url, endpoint.key_env)
        if slot not in self._clients:
            # api_key is always explicit: left None, the SDK would fall back to OPENAI_API_KEY
            # from the process environment and send it to whatever host this is.
            self._clients[slot] = AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=self.key(endpoint),
                max_retries=self.max_retries,
            )
        return self._clients[slot]

    async def aclose(self) -> None:
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

    def _scrub(self, text: str) -> str:
        """Servers sometimes echo (part of) the key in error messages; never pass it on."""
        text = text.replace(self._clients.key(self.endpoint), "***")
        return _KEY_LIKE.sub("sk-***", text)

    def _fatal(self, exc: openai.APIStatusError, model: str) -> ProviderError:
        host, status = self.endpoint.host, exc.status_code
        if status == 401:
            return ProviderError(
                f"{host} rejected the API key from {self.endpoint.key_env} (HTTP 401)",
                hint=f"check the secret passed as {self.endpoint.key_env}",
            )
        if status == 403:
            return ProviderError(
                f"{host} denied access to model {model!r} (HTTP 403)",
                hint=f"check the permissions of the key in {self.endpoint.key_env}",
            )
        return ProviderError(
            f"model {model!r} not found at {host} (HTTP 404)",
            hint=f"check 'model' in the model config and that {self.config.base_url_env} "
            "ends in /v1",
        )

    def _redirected(self, exc: openai.APIStatusError) -> ProviderError:
        target = urlsplit(exc.response.headers.get("location") or "").hostname or "elsewhere"
        return ProviderError(
            f"{self.endpoint.host} answered HTTP {exc.status_code}, a redirect to {target}; "
            "redirects are not followed for model calls",
            hint=f"set {self.config.base_url_env} to the final URL of the endpoint",
        )

    async def complete(self, request: ModelRequest) -> Completion:
        client = self._clients.client(self.endpoint)
        # Params go into the body as written in the model config (temperature, seed,
        # response_format, provider-specific extras...). The low-level ``post`` is the SDK's own
        # request path (auth, retries, Retry-After, timeouts, typed errors) without the per-call
        # TypedDict transform of ``chat.completions.create`` and the response model build: at
        # high concurrency the client's CPU per call bounds throughput, and those two were about
        # a third of it (benchmarks/runner_throughput.py).
        body = {
            **request.params,
            "model": request.model,
            "messages": [m.model_dump() for m in request.messages],
        }
        body.pop("stream", None)  # one whole answer per call; latency is measured end to end
        options = {**_REQUEST_SECURITY, "timeout": self.config.timeout_s}
        start = time.perf_counter()
        try:
            raw = await client.post("/chat/completions", body=body, cast_to=str, options=options)
        except (
            openai.AuthenticationError,
            openai.PermissionDeniedError,
            openai.NotFoundError,
        ) as e:
            raise self._fatal(e, request.model) from None
        except openai.APITimeoutError:
            return self._failed(start, f"timed out after {self.config.timeout_s:g}s")
        except openai.APIConnectionError:
            return self._failed(start, f"could not connect to {self.endpoint.host}")
        except openai.APIStatusError as exc:
            if 300 <= exc.status_code < 400:
                raise self._redirected(exc) from None
            message = exc.body.get("message") if isinstance(exc.body, dict) else None
            detail = self._scrub(one_line(str(message or exc.message)))
            retried = exc.status_code in _RETRIED_STATUSES or exc.status_code >= 500
            return self._failed(start, f"HTTP {exc.status_code}: {detail}", retried=retried)
        except openai.APIError as exc:
            return self._failed(start, self._scrub(one_line(str(exc))), retried=False)
        latency_ms = (time.perf_counter() - start) * 1000
        try:
            return self._parse(json.loads(raw), request, latency_ms)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return Completion(error="malformed chat-completion response", latency_ms=latency_ms)

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
