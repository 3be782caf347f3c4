"""Checks of the OpenAI chat-completions parameters a model config sets under ``params``.

They go into the request body as written, so a wrong type (``temperature: "hot"``) would only
surface at the endpoint as an HTTP 400 on every example, and a misspelt name (``temprature``)
would be silently ignored by some gateways. ``evalbot validate`` catches both. Parameters this
module does not know (provider-specific extras) pass unchecked, unless they look like a typo of a
known one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["KNOWN_PARAMS", "OTHER_SERVERS_PARAMS", "ParamError", "check_params"]


class ParamError(ValueError):
    """A problem with one parameter; ``key`` lets the loader point at its line."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"params.{key}: {message}")
        self.key = key


Check = Callable[[Any], str | None]
"""Returns what is wrong with a value, or None."""


def _number(lo: float, hi: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return f"expected a number from {lo:g} to {hi:g}, got {value!r}"
        if not lo <= value <= hi:
            return f"{value!r} is out of range: use {lo:g} to {hi:g}"
        return None

    return check


def _integer(lo: int | None = None, hi: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected a whole number, got {value!r}"
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
            return f"{value!r} is out of range: use a whole number {span}"
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {value!r}"


def _stop(value: Any) -> str | None:
    if isinstance(value, str) or value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) <= 4:
        return None
    return f"expected a string or a list of up to 4 strings, got {value!r}"


def _logit_bias(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"expected a mapping of token id to bias, got {value!r}"
    for token, bias in value.items():
        if _number(-100, 100)(bias) is not None:
            return f"bias of token {token!r} must be a number from -100 to 100, got {bias!r}"
    return None


def _mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"expected a mapping, got {value!r}"


KNOWN_PARAMS: Mapping[str, Check] = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "seed": _integer(),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "stop": _stop,
    "n": _integer(1, 128),
    "logprobs": _boolean,
    "top_logprobs": _integer(0, 20),
    "logit_bias": _logit_bias,
    "response_format": _mapping,
    "reasoning_effort": _string,
    "verbosity": _string,
    "service_tier": _string,
    "user": _string,
    "parallel_tool_calls": _boolean,
    "stream": _boolean,
    "store": _boolean,
}


OTHER_SERVERS_PARAMS = frozenset(
    {"top_k", "min_p", "top_a", "typical_p", "repetition_penalty", "best_of", "min_tokens"}
)
"""Well-known parameters of other OpenAI-compatible servers (vLLM, llama.cpp, ...): sent as
written and never taken for a typo (``top_k`` is not a misspelt ``top_p``)."""


def check_params(params: Mapping[str, Any]) -> None:
    """Raise ``ParamError`` for the first known parameter with a bad value, or an unknown one
    that is a near miss of a known name."""
    for key, value in params.items():
        check = KNOWN_PARAMS.get(key)
        if check is not None:
            problem = check(value)
            if problem is not None:
                raise ParamError(key, problem)
            continue
        if key in OTHER_SERVERS_PARAMS:
            continue
        close = difflib.get_close_matches(key, KNOWN_PARAMS, n=1, cutoff=0.8)
        if close:
            raise ParamError(key, f"unknown parameter; did you mean {close[0]}?")
