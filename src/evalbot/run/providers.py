"""The ``Provider`` protocol, the offline ``mock`` provider and helpers shared by providers.

A provider answers one ``ModelRequest`` with a ``Completion``. Failures of a single call (rate
limits past retries, timeouts, an exception in the user's app) come back as
``Completion(error=...)`` so the example is excluded and counted against the error budget;
failures that would hit every call (a rejected key, an unknown model, an app that cannot be
imported) raise ``ProviderError`` at once.

Providers: ``openai`` (``openai_provider``), ``python`` (``python_provider`` + ``pyworker``),
``exec`` (``exec_provider``) and ``mock`` (here). What evalbot knows about each kind (the facts the
config rules, the runner, the cache and the trust policy read, and the check of a model config)
is declared once, here, as a ``ProviderSpec``; they ask the registry (``provider_spec``) instead
of comparing kind names. The module that implements a kind is imported only when a provider of
that kind is built (``ProviderSpec.build``): it registers its builder then
(``register_builder``). So checking model configs (``evalbot validate``, loading a config) loads
no provider implementation and none of what they import (asyncio, the openai SDK's helpers).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evalbot.inputs.config import ModelConfig, Price
from evalbot.inputs.model_params import check_params
from evalbot.records import Completion, ModelRequest

__all__ = [
    "DEFAULT_KIND",
    "MAX_RESPONSE_BYTES",
    "MockProvider",
    "Provider",
    "ProviderContext",
    "ProviderSpec",
    "app_payload",
    "completion_from_app",
    "cost_of",
    "last_user_text",
    "needs_model",
    "one_line",
    "provider_kinds",
    "provider_spec",
    "register_builder",
    "too_large",
]


class Provider(Protocol):
    """What the runner needs of a provider."""

    scope: str
    """Names what answers beyond the request itself (endpoint, entry point); part of the cache
    key. Never holds a secret."""

    async def complete(self, request: ModelRequest) -> Completion: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ProviderContext:
    """What the runner hands a provider's ``build``: the trusted environment and shared pools."""

    env: Mapping[str, str]
    """Where endpoints and keys are read from."""
    code_env: Mapping[str, str] | None
    """The environment of the user's code (None: the process's)."""
    allowed_hosts: Sequence[str] | None
    clients: Any
    """The run's shared ``OpenAIClients``."""
    cache_scope: str | None
    concurrency: int
    pools: dict[tuple[str, str], Any]
    """Worker pools of the ``python`` provider, one per (directory, target), kept by the runner."""


Builder = Callable[[ModelConfig, ProviderContext, "Path | None"], Provider]
"""Makes the provider for one config; the ``Path`` is the side's directory (user code only)."""

_BUILDERS: dict[str, Builder] = {}


def register_builder(name: str, build: Builder) -> Builder:
    """Called by the module that implements kind ``name`` when it is imported."""
    if name in _BUILDERS:
        raise ValueError(f"provider {name!r} has a builder already")
    _BUILDERS[name] = build
    return build


@dataclass(frozen=True)
class ProviderSpec:
    """Facts about one provider kind, declared once in ``_SPECS`` below; its implementation is
    imported when a provider is built."""

    name: str
    """The ``provider:`` value of a model config."""
    runs_user_code: bool
    """Answers come from the repository's own code: the workflow may forbid it, it runs in the
    side's directory, and its answers are cacheable only when the code is pinned by a git tree id
    (``code_version``)."""
    cached: bool
    """Answers are recorded in the response cache and replayed offline; False for a provider
    whose answers cost nothing to recompute and need no network (``mock``), which a PR could use
    to compare nothing real."""
    env_fields: tuple[str, ...]
    """ModelConfig fields naming the key/endpoint variables it reads (checked by the trust
    policy); empty when it reads none."""
    price_table: bool
    """Calls are priced by the built-in price table (the cost cap's price floor)."""
    check: Callable[[ModelConfig], None]
    """Raises ValueError (one line naming the missing field) for a config it cannot run."""
    module: str
    """The module that implements the kind and registers its builder (``register_builder``)."""

    def build(
        self, config: ModelConfig, context: ProviderContext, workdir: Path | None
    ) -> Provider:
        """The provider for one config, from the builder the kind's module registers."""
        if self.name not in _BUILDERS:
            importlib.import_module(self.module)
        if self.name not in _BUILDERS:
            raise RuntimeError(f"{self.module} registers no builder for provider {self.name!r}")
        return _BUILDERS[self.name](config, context, workdir)


def needs_model(config: ModelConfig) -> None:
    """The ``check`` of providers addressed by a model id."""
    if not config.model:
        raise ValueError(f"provider {config.provider!r} needs model: <model id>")


MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""Largest answer read from an endpoint, a command or a worker; a larger one is an example error
(never read whole: a 100 MB answer would otherwise take the runner's memory)."""


def too_large(latency_ms: float | None) -> Completion:
    return Completion(
        error=f"the answer is larger than {MAX_RESPONSE_BYTES // 2**20} MiB: not read",
        latency_ms=latency_ms,
    )


def cost_of(price: Price | None, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call from a per-million-token price; None when the config sets no price."""
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def one_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text``, shortened: error messages stay one line."""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def last_user_text(request: ModelRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


def app_payload(request: ModelRequest) -> dict[str, Any]:
    """The one argument a ``python`` app receives (and an ``exec`` command reads on stdin)."""
    return {
        "messages": [m.model_dump() for m in request.messages],
        "prompt": last_user_text(request),
        "vars": request.vars,
        "params": request.params,
        "model": request.model,
        "sample": request.sample,
    }


def _count(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return int(value)


def completion_from_app(
    value: Any, *, price: Price | None, latency_ms: float | None, model: str
) -> Completion:
    """Turn what a user's app returned (a str, or a dict with ``output``) into a Completion."""
    if isinstance(value, str):
        return Completion(text=value, latency_ms=latency_ms, response_model=model or None)
    if not isinstance(value, dict) or not isinstance(value.get("output"), str):
        got = type(value).__name__ if not isinstance(value, dict) else "a dict without 'output'"
        return Completion(
            error=f"TypeError: the app returned {got}; expected a str or a dict with 'output'",
            latency_ms=latency_ms,
        )
    try:
        input_tokens = _count(value.get("input_tokens"), "input_tokens")
        output_tokens = _count(value.get("output_tokens"), "output_tokens")
        cost = value.get("cost_usd")
        if cost is not None:
            cost = float(cost)
    except (TypeError, ValueError) as exc:
        return Completion(error=f"TypeError: {one_line(str(exc))}", latency_ms=latency_ms)
    if cost is None and (input_tokens or output_tokens):
        cost = cost_of(price, input_tokens, output_tokens)
    return Completion(
        text=value["output"],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        latency_ms=latency_ms,
        response_model=str(value.get("model") or model) or None,
    )


class MockProvider:
    """Deterministic and offline, for dry runs and demos.

    Replies with ``params["reply"]`` when the model config sets it, else with the last user
    message verbatim. Tokens are counted as whitespace-separated words; latency is 0. Its answers
    cost nothing to recompute, so the runner never caches them.
    """

    scope = "mock"

    def __init__(self, config: ModelConfig) -> None:
        self._price = config.price

    async def complete(self, request: ModelRequest) -> Completion:
        reply = request.params.get("reply")
        text = str(reply) if reply is not None else last_user_text(request)
        input_tokens = sum(len(m.content.split()) for m in request.messages)
        output_tokens = len(text.split())
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=0.0,
            cost_usd=cost_of(self._price, input_tokens, output_tokens),
            response_model=request.model,
        )

    async def aclose(self) -> None:
        return None


register_builder("mock", lambda config, context, workdir: MockProvider(config))


def _check_openai(config: ModelConfig) -> None:
    needs_model(config)
    check_params(config.params)  # python/exec params belong to the user's own code


def _check_python(config: ModelConfig) -> None:
    if not (config.target and ":" in config.target):
        raise ValueError(f"provider {config.provider!r} needs target: 'package.module:function'")


def _check_exec(config: ModelConfig) -> None:
    if not config.command:
        raise ValueError(f"provider {config.provider!r} needs command: [program, arg, ...]")


DEFAULT_KIND = "openai"
"""The kind of a model config that names none."""

_SPECS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            name="mock",
            runs_user_code=False,
            cached=False,
            env_fields=(),
            price_table=False,
            check=needs_model,
            module=__name__,
        ),
        ProviderSpec(
            name="exec",
            runs_user_code=True,
            cached=True,
            env_fields=(),
            price_table=False,
            check=_check_exec,
            module="evalbot.run.exec_provider",
        ),
        ProviderSpec(
            name=DEFAULT_KIND,
            runs_user_code=False,
            cached=True,
            env_fields=("api_key_env", "base_url_env"),
            price_table=True,
            check=_check_openai,
            module="evalbot.run.openai_provider",
        ),
        ProviderSpec(
            name="python",
            runs_user_code=True,
            cached=True,
            env_fields=(),
            price_table=False,
            check=_check_python,
            module="evalbot.run.python_provider",
        ),
    )
}


def provider_kinds() -> tuple[str, ...]:
    """Every provider kind, in the order error messages list them."""
    return tuple(_SPECS)


def provider_spec(name: str) -> ProviderSpec:
    if name not in _SPECS:
        raise ValueError(f"unknown provider {name!r} (known: {', '.join(_SPECS)})")
    return _SPECS[name]
