"""``POST /chat/completions`` on one endpoint: aiohttp on the wire, the openai SDK's retry policy.

Why aiohttp and not the SDK's own httpx client: at the concurrency evals run at, the client's CPU
per request, not the model, sets the pace (``benchmarks/runner_throughput.py``). On the 2-core
reference machine a plain httpx2 ``AsyncClient`` spends 1.4 ms of CPU per chat completion and
aiohttp 0.2-0.4 ms, with the same server, concurrency and answers (its HTTP parser is in C and its
pool has no per-request bookkeeping across idle connections).

What the SDK decided per call is still decided by the SDK: whether a status is retried
(``_should_retry``: 408/409/429/5xx, ``x-should-retry``, a ``Retry-After`` past its ceiling),
how long to wait (``_calculate_retry_timeout``: ``retry-after-ms``/``Retry-After``, else its
exponential backoff with jitter) and the typed error a caller gets
(``_make_status_error_from_response``, ``APITimeoutError``, ``APIConnectionError``). Those read an
httpx response, which is built only on the (rare) non-2xx path. A gateway that renamed the
upstream's ``Retry-After`` (LiteLLM: ``llm_provider-retry-after``) has it copied back first.

As before: only ``Authorization: Bearer <key>`` is sent (never OPENAI_ADMIN_KEY from the process
environment), redirects are not followed (a 307 would resend the prompt elsewhere), the TLS trust
store and proxies are the ones the SDK's client would use (``SSL_CERT_FILE``/``SSL_CERT_DIR``,
``HTTPS_PROXY``/``NO_PROXY``, read once per endpoint), no cookies are kept, and an answer is read
up to ``MAX_RESPONSE_BYTES`` within the call's timeout.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL  # aiohttp's URL type

from evalbot.run.providers import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["Answer", "ChatSender", "TooLarge", "restore_retry_after", "sdk_http_client"]

_RETRY_AFTER_ALIASES = {
    "retry-after": "llm_provider-retry-after",
    "retry-after-ms": "llm_provider-retry-after-ms",
}
"""Plain header the SDK reads → the name a gateway renamed it to (LiteLLM prefixes upstream
headers with ``llm_provider-``)."""


class TooLarge(Exception):
    """The answer passed ``MAX_RESPONSE_BYTES``."""


@dataclass(frozen=True)
class Answer:
    """A 2xx answer, read whole."""

    body: bytes
    headers: Mapping[str, str]
    """Case-insensitive."""


def restore_retry_after(headers: Any) -> None:
    """Give the SDK a plain ``Retry-After`` when a gateway renamed it (a plain one wins)."""
    if any(name in headers for name in _RETRY_AFTER_ALIASES):
        return
    for name, alias in _RETRY_AFTER_ALIASES.items():
        value = headers.get(alias)
        if value is not None:
            headers[name] = value


def _http_library(client: object) -> ModuleType:
    """The httpx flavour the SDK is built on (``httpx2`` for openai 3, ``httpx`` before): the
    responses its retry policy reads and the errors it raises must be that library's types."""
    kind = client if isinstance(client, type) else type(client)
    for base in kind.__mro__:
        if base.__name__ == "AsyncClient":
            return sys.modules[base.__module__.partition(".")[0]]
    raise TypeError(f"not an httpx client: {kind.__name__}")


@functools.cache
def _refusing_transport() -> type:
    import openai

    lib = _http_library(openai.DefaultAsyncHttpxClient)

    class SdkSendsNothing(lib.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        async def handle_async_request(self, request: Any) -> Any:
            raise RuntimeError("model calls go through evalbot.run.transport.ChatSender only")

    return SdkSendsNothing


def sdk_http_client() -> Any:
    """The HTTP client to give ``AsyncOpenAI``: one that refuses to send anything.

    The SDK is asked only for its retry policy and its errors; every call goes through
    ``ChatSender``. A request the SDK made by itself (another code path, a future version)
    fails loudly instead of going out with other headers, TLS or proxy settings. It also spares
    the TLS context the SDK's default client would load for nothing (~30 ms of CPU each)."""
    import openai

    return openai.DefaultAsyncHttpxClient(transport=_refusing_transport()(), trust_env=False)


def _env_proxy(url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy the SDK's client would use for ``url`` (``*_PROXY``/``NO_PROXY``), once."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None, None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None, None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    return proxy, aiohttp.BasicAuth.from_url(URL(proxy))


class ChatSender:
    """``POST /chat/completions`` on one endpoint (see the module docstring). One aiohttp
    session per endpoint, created on the first call (it belongs to the running loop)."""

    def __init__(self, sdk: AsyncOpenAI, api_key: str, *, connections: int) -> None:
        from openai._models import FinalRequestOptions

        self.sdk = sdk
        self.lib = _http_library(sdk._client)
        self.url = f"{str(sdk.base_url).rstrip('/')}/chat/completions"
        self._url = URL(self.url, encoded=False)  # parsed once, not per request
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": sdk.user_agent,
            "Authorization": f"Bearer {api_key}",
        }
        self.proxy, self.proxy_auth = _env_proxy(self.url)
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._retry_options = FinalRequestOptions.construct(method="post", url="/chat/completions")
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        # The trust store the SDK's client would build (SSL_CERT_FILE/SSL_CERT_DIR honoured).
        ssl = self.lib.create_ssl_context() if self.url.startswith("https:") else True
        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ssl=ssl)
        # trust_env stays off: proxies are resolved once above, and aiohttp would otherwise
        # look them up (and ~/.netrc) in a worker thread on every request.
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )
        return self._session

    def _timeout(self, timeout_s: float) -> aiohttp.ClientTimeout:
        # As the SDK's httpx timeout: connecting, and each wait for bytes, get timeout_s each.
        timeout = self._timeouts.get(timeout_s)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=timeout_s, sock_connect=timeout_s, sock_read=timeout_s
            )
            self._timeouts[timeout_s] = timeout
        return timeout

    async def post(self, body: bytes, timeout_s: float) -> Answer:
        """The 2xx answer; else the ``openai`` error the SDK's ``client.post`` would raise.

        Timeouts, connection errors and the statuses the SDK retries are retried up to
        ``max_retries`` times, waiting what the SDK would. ``TooLarge`` past the size cap.
        """
        import openai

        session = self._session or self._open()
        retries = self.sdk.max_retries
        for attempt in range(retries + 1):
            remaining = retries - attempt
            try:
                async with session.post(
                    self._url,
                    data=body,
                    headers=self.headers,
                    timeout=self._timeout(timeout_s),
                    allow_redirects=False,
                    proxy=self.proxy,
                    proxy_auth=self.proxy_auth,
                ) as response:
                    async with asyncio.timeout(timeout_s):
                        data = await _read_capped(response)
                    status, headers = response.status, response.headers
            except (aiohttp.ClientError, OSError) as err:  # TimeoutError is an OSError
                if remaining > 0:
                    await self._wait(remaining, None)
                    continue
                # aiohttp's own timeouts are TimeoutErrors too
                timed_out = isinstance(err, TimeoutError)
                error = openai.APITimeoutError if timed_out else openai.APIConnectionError
                raise error(request=self._request()) from err
            if 200 <= status < 300:
                return Answer(body=data, headers=headers)
            sdk_response = self._sdk_response(status, headers, data)
            if remaining > 0 and self.sdk._should_retry(sdk_response):
                await self._wait(remaining, sdk_response.headers)
                continue
            raise self.sdk._make_status_error_from_response(sdk_response) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _request(self) -> Any:
        return self.lib.Request("POST", self.url)

    def _sdk_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        """The answer as the SDK's retry policy and error classes read it."""
        response = self.lib.Response(
            status, headers=list(headers.items()), content=body, request=self._request()
        )
        restore_retry_after(response.headers)
        return response

    async def _wait(self, remaining: int, headers: Any) -> None:
        options = self._retry_options
        await asyncio.sleep(self.sdk._calculate_retry_timeout(remaining, options, headers))

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, at most ``MAX_RESPONSE_BYTES`` (then ``TooLarge``; a 100 MB answer is never
    held whole)."""
    declared = response.content_length
    if declared is not None and declared > MAX_RESPONSE_BYTES:
        raise TooLarge
    data = bytearray()
    async for chunk in response.content.iter_any():
        data += chunk
        if len(data) > MAX_RESPONSE_BYTES:
            raise TooLarge
    return bytes(data)
