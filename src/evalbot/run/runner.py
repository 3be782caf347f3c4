"""The model runner: one object through which every model call of a run goes.

For each request it tries, in order: an identical request already in flight (joined, not sent
again — this is how a request that is the same on base and head is sent once), the response
cache, then the provider under one concurrency bound shared by all calls. Successful answers are
written to the cache. ``offline`` turns a cache miss into ``CacheMissError``; ``max_cost_usd``
stops sending once the spend reaches it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalbot.errors import CacheMissError, EvalbotError, ProviderError, UserError
from evalbot.inputs.config import ModelConfig
from evalbot.options import DEFAULT_CONCURRENCY
from evalbot.records import Completion, Message, ModelRequest, Usage
from evalbot.run.cache import ResponseCache, cacheable, request_key
from evalbot.run.openai_provider import DEFAULT_MAX_RETRIES, OpenAIClients
from evalbot.run.prices import cap_price
from evalbot.run.providers import Provider, ProviderContext, cost_of, provider_spec
from evalbot.run.python_provider import WorkerPool
from evalbot.scrub import Scrubber
from evalbot.trust import TrustPolicy

__all__ = ["ModelRunner", "build_request"]


def build_request(
    config: ModelConfig,
    messages: list[Message],
    *,
    sample: int = 0,
    vars: dict[str, Any] | None = None,
    code_version: str | None = None,
    purpose: str = "generate",
    extra_params: dict[str, Any] | None = None,
) -> ModelRequest:
    """The request for one generation: the config's params overlaid with ``extra_params``,
    with an integer ``seed`` offset by the sample index.

    ``code_version`` (the side's git tree id) only matters to ``python``/``exec`` providers, whose
    answers come from the user's code; it is dropped for the others so that it cannot split
    their cache entries.
    """
    runs_code = provider_spec(config.provider).runs_user_code
    params = {**config.params, **(extra_params or {})}
    if sample and isinstance(params.get("seed"), int):
        # A fixed seed would make the K samples identical; seed+k keeps them reproducible and
        # gives base and head the same seed per sample index (common random numbers).
        params["seed"] += sample
    return ModelRequest(
        provider=config.provider,
        model=config.model,
        params=params,
        messages=list(messages),
        sample=sample,
        vars=dict(vars or {}),
        code_version=code_version if runs_code else None,
        purpose=purpose,  # type: ignore[arg-type]  # the record validates it
    )


@dataclass
class _Counters:
    requests: int = 0
    sent: int = 0
    cache_hits: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    spent_usd: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def count_hit(self, completion: Completion) -> None:
        """A cached or joined answer: its recorded tokens and cost count toward what this
        evaluation uses (as for generations), while ``sent`` says what was actually spent."""
        self.requests += 1
        self.cache_hits += 1
        self.errors += not completion.ok
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.cost_usd += completion.cost_usd or 0.0

    def usage(self) -> Usage:
        lat = self.latencies_ms
        return Usage(
            requests=self.requests,
            sent=self.sent,
            cache_hits=self.cache_hits,
            errors=self.errors,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            spent_usd=self.spent_usd,
            latency_p50_ms=float(np.percentile(lat, 50)) if lat else None,
            latency_p95_ms=float(np.percentile(lat, 95)) if lat else None,
        )


@dataclass
class _Flight:
    """A call being made: where identical calls wait for its answer, and whose task makes it."""

    answer: asyncio.Future[Completion]
    caller: asyncio.Task[Any] | None

    def fail(self, exc: BaseException) -> None:
        if self.answer.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            self.answer.cancel()
        else:
            self.answer.set_exception(exc)
            self.answer.exception()  # retrieved: no "never retrieved" log when nobody joined


class ModelRunner:
    """Bounded, de-duplicated, cached model calls for one run (see the module docstring).

    ``env`` is where ``openai`` endpoints and keys are read from (the entrypoint passes the
    trusted environment; nothing here reads ``os.environ``) and, unless ``code_env`` is given,
    the environment of ``python``/``exec`` subprocesses (None: they inherit the process's).
    ``max_retries`` is handed to the openai SDK, which owns retries and backoff.

    ``policy`` (the workflow's limits) is checked for every model config before its provider is
    built; ``max_requests`` stops sending like ``max_cost_usd``; with ``price_floor`` the cost
    cap counts each ``openai`` call at no less than the built-in price table (``prices``).
    ``scrubber`` cleans every answer as it arrives, before it is cached, scored or reported.
    """

    def __init__(
        self,
        *,
        cache: ResponseCache | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        offline: bool = False,
        env: Mapping[str, str] | None = None,
        allowed_hosts: Sequence[str] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_cost_usd: float | None = None,
        max_requests: int | None = None,
        price_floor: bool = False,
        policy: TrustPolicy | None = None,
        code_env: Mapping[str, str] | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.offline = offline
        self.env: Mapping[str, str] = env if env is not None else {}
        self._subprocess_env = code_env if code_env is not None else env
        self.allowed_hosts = list(allowed_hosts) if allowed_hosts is not None else None
        self.max_cost_usd = max_cost_usd
        self.max_requests = max_requests
        self.price_floor = price_floor
        self.policy = policy or TrustPolicy.local()
        self.scrubber = scrubber
        self._started = 0
        self.sent = 0
        self.cache_hits = 0
        self.spent_usd = 0.0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._counters: dict[str, _Counters] = {}
        self._inflight: dict[str, _Flight] = {}
        self._providers: dict[tuple[str, str], Provider] = {}
        self._config_json: dict[int, tuple[ModelConfig, str]] = {}
        self._pools: dict[tuple[str, str], WorkerPool] = {}
        self._clients = OpenAIClients(
            self.env, max_retries=max_retries, connections=self.concurrency
        )
        self._fatal: EvalbotError | None = None
        self.on_call: Callable[[str], None] | None = None
        """Called with the purpose after every call resolves (answered, cached, joined or
        failed): the progress display's hook."""

    # -- public ------------------------------------------------------------------------------

    async def complete(
        self, config: ModelConfig, request: ModelRequest, *, workdir: Path | None = None
    ) -> Completion:
        """The completion for ``request``, from a call in flight, the cache or the provider.

        Raises ``ProviderError`` (rejected key, unknown model, app that cannot load, cost cap),
        ``ConfigError`` (host not allowed, key not set) and, offline, ``CacheMissError``; once
        one of those is raised every later call raises it too, without sending.

        Every call takes one of the ``concurrency`` slots before its bookkeeping (key, cache
        lookup), and gives it back at once for a cache hit or a joined call: a run that asks
        for 20,000 answers at once then sends its first requests right away, instead of after
        looking all 20,000 up (2 s of CPU at that size), and answers come in the order asked.
        The call is made in the caller's own task (no task of its own: at 20,000 calls the
        extra task, its shield and callbacks were ~7 % of the runner's CPU); identical
        calls meanwhile wait on its ``_Flight``.
        """
        if self._fatal is not None:
            raise self._fatal
        await self._slots.acquire()
        held = True  # until _send takes the slot over, or the call is answered
        try:
            if self._fatal is not None:
                raise self._fatal
            provider = self._provider(config, workdir)
            key = request_key(request, scope=provider.scope)
            flight_key = key if cacheable(request) else self._flight_key(key, workdir)
            counters = self._counters_for(request.purpose)
            flight = self._inflight.get(flight_key)
            if flight is not None:
                self._slots.release()
                held = False
                return await self._join(flight, counters, config, request, workdir)
            hit = self._cached(provider, request, key)
            if hit is not None:
                self._answered_without_sending(counters, hit, request.purpose)
                return hit
            flight = _Flight(asyncio.get_running_loop().create_future(), asyncio.current_task())
            self._inflight[flight_key] = flight
            held = False  # _send gives the slot back once the provider answered
            try:
                completion = await self._send(provider, request, counters, key)
            except BaseException as exc:
                flight.fail(exc)
                raise
            finally:
                if self._inflight.get(flight_key) is flight:
                    del self._inflight[flight_key]
                if self.on_call is not None:
                    self.on_call(request.purpose)
            flight.answer.set_result(completion)
            return completion
        finally:
            if held:
                self._slots.release()

    async def _join(
        self,
        flight: _Flight,
        counters: _Counters,
        config: ModelConfig,
        request: ModelRequest,
        workdir: Path | None,
    ) -> Completion:
        """The answer of an identical call in flight, marked cached. Shielded: cancelling this
        caller does not touch that call. If that call's own caller was cancelled, this one asks
        again (it was not)."""
        try:
            completion = await asyncio.shield(flight.answer)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if flight.answer.cancelled() and not (current and current.cancelling()):
                return await self.complete(config, request, workdir=workdir)
            raise
        self._answered_without_sending(counters, completion, request.purpose)
        return completion.model_copy(update={"cached": True})

    def _answered_without_sending(
        self, counters: _Counters, completion: Completion, purpose: str
    ) -> None:
        """Count a cache hit or a joined call, and tell the progress display."""
        counters.count_hit(completion)
        self.cache_hits += 1
        if self.on_call is not None:
            self.on_call(purpose)

    def is_cached(self, config: ModelConfig, request: ModelRequest) -> bool | None:
        """Whether the cache holds an answer to ``request``, for the plan shown before a run
        (an existence check, not a signature check). None when it cannot be known without the
        side's code (``python``/``exec``)."""
        spec = provider_spec(request.provider)
        if not spec.cached or self.cache is None:
            return False
        if spec.runs_user_code:
            return None
        scope = self._provider(config, None).scope
        return self.cache.contains(request, scope=scope)

    def usage(self, purpose: str = "generate") -> Usage:
        """Counters of one purpose (``generate`` or ``judge``).

        Tokens, cost and latency percentiles cover requests *sent* by this runner (what this run
        spent); cache hits and joined in-flight calls count in ``requests`` and ``cache_hits``.
        """
        return self._counters_for(purpose).usage()

    async def aclose(self) -> None:
        """Cancel calls still in flight, stop worker processes, close HTTP clients."""
        flights, self._inflight = list(self._inflight.values()), {}
        current = asyncio.current_task()
        pending = [f.caller for f in flights if f.caller is not None and f.caller is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        providers, self._providers = list(self._providers.values()), {}
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.aclose() for p in providers), return_exceptions=True)
        await asyncio.gather(*(p.aclose() for p in pools), return_exceptions=True)
        await self._clients.aclose()
        if self.cache is not None:
            self.cache.close()

    # -- internals ---------------------------------------------------------------------------

    def _counters_for(self, purpose: str) -> _Counters:
        return self._counters.setdefault(purpose, _Counters())

    @staticmethod
    def _flight_key(key: str, workdir: Path | None) -> str:
        # Uncacheable code answers (no tree id) are the same call only within one directory.
        return hashlib.sha256(f"{key}\0{workdir}".encode()).hexdigest()

    def error_count(self) -> int:
        """Failed answers so far, every purpose."""
        return sum(c.errors for c in self._counters.values())

    def _provider(self, config: ModelConfig, workdir: Path | None) -> Provider:
        # The config's JSON names its provider; dumped once per config object (the same few
        # objects come back for every request), which is kept alive so its id stays its own.
        seen = self._config_json.get(id(config))
        if seen is None or seen[0] is not config:
            seen = (config, config.model_dump_json())
            self._config_json[id(config)] = seen
        slot = (seen[1], str(workdir) if workdir is not None else "")
        provider = self._providers.get(slot)
        if provider is None:
            provider = self._build_provider(config, workdir)
            self._providers[slot] = provider
        return provider

    def _build_provider(self, config: ModelConfig, workdir: Path | None) -> Provider:
        # The pipeline checked every model file already (naming it); this is the backstop for
        # a config that reached the runner another way (a metric's own judge).
        label = f"model {config.model or config.provider}"
        self.policy.check_model(config, label=label, env=self.env)
        spec = provider_spec(config.provider)
        if spec.runs_user_code:
            if workdir is None:
                raise ValueError(f"provider {spec.name!r} needs the side's directory (workdir)")
            workdir = Path(workdir).resolve()
        context = ProviderContext(
            env=self.env,
            code_env=self._subprocess_env,
            allowed_hosts=self.allowed_hosts,
            clients=self._clients,
            cache_scope=self.policy.cache_scope,
            concurrency=self.concurrency,
            pools=self._pools,
        )
        return spec.build(config, context, workdir)

    def _cached(self, provider: Provider, request: ModelRequest, key: str) -> Completion | None:
        """The cached answer, if any; offline, a miss is ``CacheMissError``."""
        spec = provider_spec(request.provider)
        if self.cache is not None and spec.cached:
            hit = self.cache.get(request, scope=provider.scope, key=key)
            if hit is not None:
                return hit
        if self.offline and spec.cached:
            raise self._offline_miss(request, provider)
        return None

    async def _send(
        self, provider: Provider, request: ModelRequest, counters: _Counters, key: str
    ) -> Completion:
        """One call to the provider, in the slot its caller took (released here)."""
        try:
            if self._fatal is not None:
                raise self._fatal
            if self.max_cost_usd is not None and self.spent_usd >= self.max_cost_usd:
                self._fatal = ProviderError(
                    f"cost cap of ${self.max_cost_usd:g} reached (${self.spent_usd:.4f} spent)",
                    hint="raise --max-cost-usd (action input max-cost-usd) or run fewer suites",
                )
                raise self._fatal
            if self.max_requests is not None and self._started >= self.max_requests:
                self._fatal = ProviderError(
                    f"request cap of {self.max_requests:,} reached",
                    hint="raise the action input max-requests, or run fewer suites or samples",
                )
                raise self._fatal
            self._started += 1
            # Counted as sent before the call: a call cancelled by a fatal stop elsewhere, or
            # the one that raised it, still reached the endpoint.
            self._count_attempt(counters)
            try:
                completion = await provider.complete(request)
            except EvalbotError as exc:
                if isinstance(exc, UserError):  # e.g. no key: refused before sending
                    self._count_attempt(counters, -1)
                self._fatal = exc
                raise
        finally:
            self._slots.release()
        if self.scrubber:
            text, error = completion.text, completion.error
            completion = completion.model_copy(
                update={
                    "text": None if text is None else self.scrubber.text(text),
                    "error": None if error is None else self.scrubber.text(error),
                }
            )
        self._count_sent(counters, completion, self._capped_cost(provider, request, completion))
        if self.cache is not None and completion.ok and provider_spec(request.provider).cached:
            # Batched: one transaction per BATCH_SIZE answers (written by aclose at the latest),
            # readable by get() meanwhile. On this loop, not a thread: a write-behind thread
            # measured no faster (it contends for the GIL with the loop).
            self.cache.put(request, completion, scope=provider.scope, key=key, batch=True)
        return completion

    def _count_attempt(self, counters: _Counters, n: int = 1) -> None:
        self.sent += n
        counters.sent += n

    def _capped_cost(
        self, provider: Provider, request: ModelRequest, completion: Completion
    ) -> float:
        """What a call counts toward ``max_cost_usd``: with ``price_floor``, an ``openai`` call
        at the higher of the config's and the built-in price (the PR writes the config)."""
        config = getattr(provider, "config", None)
        priced = provider_spec(request.provider).price_table
        if not (self.price_floor and priced and config is not None):
            return completion.cost_usd or 0.0
        price = cap_price(request.model, config.price)
        return cost_of(price, completion.input_tokens, completion.output_tokens) or 0.0

    def _count_sent(self, counters: _Counters, completion: Completion, capped: float) -> None:
        counters.requests += 1
        counters.errors += not completion.ok
        counters.input_tokens += completion.input_tokens
        counters.output_tokens += completion.output_tokens
        if completion.cost_usd:
            counters.cost_usd += completion.cost_usd
            counters.spent_usd += completion.cost_usd
        self.spent_usd += capped
        if completion.ok and completion.latency_ms is not None:
            counters.latencies_ms.append(completion.latency_ms)

    @staticmethod
    def _offline_miss(request: ModelRequest, provider: Provider) -> CacheMissError:
        name = request.model or provider.scope
        if not cacheable(request):
            return CacheMissError(
                f"offline: answers of the {request.provider} provider for {name} cannot be "
                "recorded from an uncommitted work tree",
                hint="commit the changes (the cache is keyed by the commit's tree) or drop "
                "--offline",
            )
        spec = provider_spec(request.provider)
        where = provider.scope.removeprefix(f"{spec.name}:") if spec.env_fields else ""
        at = f" at the endpoint in {where}" if where else ""
        return CacheMissError(
            f"offline: no recorded response for model {name}{at}; run once online to record it"
        )
