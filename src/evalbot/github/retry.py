"""Retrying GitHub writes the way GitHub asks, within a time budget.

PyGithub's ``GithubRetry`` (urllib3 underneath) is kept for reads; it cannot be trusted with
writes: it re-sends a POST whose response was lost (a duplicate comment or check run), never
retries a PATCH, and raises on a 429. So evalbot retries each write itself, as one unit that
*looks up what the previous attempt may have created* before writing again (see
``GitHubPublisher``), and waits between attempts by GitHub's rules for rate limits
(docs.github.com, "Rate limits for the REST API"):

- a ``Retry-After`` header is honoured as given;
- a primary limit (``x-ratelimit-remaining: 0``) waits until ``x-ratelimit-reset``;
- a secondary limit without either (a 403 saying so, or any 429) waits at least 60 s, doubling
  on each further hit, plus jitter;
- a 5xx or a connection that broke (the write may or may not have been applied) waits a few
  seconds, doubling.

Every wait of every write counts against one budget for the whole publish (default 10 minutes,
``EVALBOT_GITHUB_RETRY_BUDGET``); when the next wait would not fit, the last error is raised as
``RetriesExhausted``. ``sleep`` and the
jitter source are injectable, so tests run the whole schedule instantly and can assert on it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

import requests
from github import GithubException
from github.Requester import Requester

__all__ = ["DEFAULT_BUDGET_S", "RetriesExhausted", "RetryPolicy", "classify"]

T = TypeVar("T")
DEFAULT_BUDGET_S = 600.0
Kind = Literal["limit", "transient"]


class RetriesExhausted(Exception):
    """The write kept failing for the whole budget; ``last`` is the last error."""

    def __init__(self, last: BaseException, *, waited_s: float, budget_s: float) -> None:
        super().__init__(str(last))
        self.last = last
        self.waited_s = waited_s
        self.budget_s = budget_s


def _header(exc: GithubException, name: str) -> str | None:
    for key, value in (exc.headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _retry_after(exc: GithubException) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date)."""
    raw = _header(exc, "retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _primary_reset(exc: GithubException) -> float | None:
    """Seconds until the primary limit resets, when the response says it is used up."""
    if _header(exc, "x-ratelimit-remaining") != "0":
        return None
    reset = _header(exc, "x-ratelimit-reset")
    if reset is None or not reset.isdigit():
        return None
    return max(int(reset) - time.time(), 0.0) + 1.0  # +1: the reset happens within that second


def classify(exc: BaseException) -> tuple[Kind, float | None] | None:
    """(kind, seconds GitHub asked for) when ``exc`` is worth retrying, else None."""
    if isinstance(exc, GithubException):
        status = exc.status or 0
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or "")
        asked = _retry_after(exc)
        if status == 429 or (status == 403 and asked is not None):
            return "limit", asked if asked is not None else _primary_reset(exc)
        if status == 403 and Requester.isRateLimitError(message):
            return "limit", _primary_reset(exc)
        if status >= 500:
            return "transient", asked
        return None
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return "transient", None
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "transient", None
    return None


@dataclass
class RetryPolicy:
    """How long and how to wait between attempts of one GitHub write."""

    budget_s: float = DEFAULT_BUDGET_S
    """Total seconds of waiting allowed, all writes and attempts together."""
    limit_wait_s: float = 60.0
    """First wait after a secondary rate limit that named no time (GitHub: at least a minute)."""
    transient_wait_s: float = 2.0
    """First wait after a 5xx or a broken connection."""
    jitter: float = 0.2
    """Up to this fraction is added to each backoff, so parallel jobs do not retry in step."""
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default=random.random)
    waits: list[float] = field(default_factory=list)
    """Every wait taken (for the log and for tests)."""

    @property
    def waited_s(self) -> float:
        return sum(self.waits)

    def _backoff(self, first: float, hits: int) -> float:
        wait = first * 2**hits
        return wait + wait * self.jitter * self.random()

    def call(self, attempt: Callable[[int], T]) -> T:
        """``attempt(n)`` until it returns, n = 0, 1, ...; ``n > 0`` tells it a previous attempt
        failed, possibly after GitHub applied it, so it must look before writing again."""
        hits: dict[Kind, int] = {"limit": 0, "transient": 0}
        n = 0
        while True:
            try:
                return attempt(n)
            except Exception as exc:
                verdict = classify(exc)
                if verdict is None:
                    raise
                kind, asked = verdict
                if asked is not None:
                    wait = asked
                elif kind == "limit":
                    wait = self._backoff(self.limit_wait_s, hits[kind])
                else:
                    wait = self._backoff(self.transient_wait_s, hits[kind])
                hits[kind] += 1
                room = self.budget_s - self.waited_s
                if asked is not None:
                    floor = asked
                else:
                    floor = self.limit_wait_s if kind == "limit" else self.transient_wait_s
                if floor > room:
                    raise RetriesExhausted(
                        exc, waited_s=self.waited_s, budget_s=self.budget_s
                    ) from exc
                wait = min(wait, room)
                self.sleep(wait)
                self.waits.append(wait)
                n += 1
