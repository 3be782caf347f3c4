"""What a person watching the run sees: the plan before the first call, then progress.

Everything goes to stderr, so stdout stays the report. On a terminal a live bar (tqdm: one small
pure-Python dependency with no colour of its own, so ``NO_COLOR`` holds, and well-kept ETA/rate
arithmetic); elsewhere (an Actions log) a plain line every 10 % of the planned calls or every
15 s, whichever comes first. ``quiet`` silences both.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

from evalbot.report.escape import plain

__all__ = ["Progress", "SuitePlan", "plan_line", "plan_text"]

PLAIN_EVERY_S = 15.0
PLAIN_STEP = 0.10


@dataclass(frozen=True)
class SuitePlan:
    """The generation calls of one suite, counted before any is sent."""

    name: str
    examples: int
    samples: int
    sides: int
    cached: int | None
    """Answers already in the cache (None: cannot be known before the run, e.g. python/exec)."""
    estimated_usd: float | None
    """Rough cost of the calls to send (None: the model config has no price)."""

    @property
    def requests(self) -> int:
        return self.examples * self.samples * self.sides


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def plan_text(plan: SuitePlan) -> str:
    """The plan's figures: "74 examples × 3 samples × 2 sides (base+head) = 444 calls, …"."""
    sides = "base+head" if plan.sides == 2 else "head only"
    text = (
        f"{plural(plan.examples, 'example')} × {plural(plan.samples, 'sample')} × "
        f"{plural(plan.sides, 'side')} ({sides}) = {plural(plan.requests, 'call', fmt=True)}"
    )
    if plan.cached is None:
        text += ", cache hits known as they come"
    else:
        text += f", {plan.cached:,} cached, {plan.requests - plan.cached:,} to send"
    if plan.estimated_usd is not None:
        text += (
            f", est. ≈{_usd(plan.estimated_usd)} (~4 chars/token; output at max_tokens, else 256)"
        )
    else:
        text += ", cost unknown (no price in the model config)"
    return text


def plural(n: int, word: str, *, fmt: bool = False) -> str:
    count = f"{n:,}" if fmt else str(n)
    return f"{count} {word if n == 1 else word + 's'}"


def plan_line(plan: SuitePlan) -> str:
    return (
        f"evalbot: plan {plain(plan.name, limit=100)}: {plan_text(plan)}; "
        "judge calls, if any, come after"
    )


class Writable(Protocol):
    """Where the lines go: stderr, or the action's scrubbing log stream."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class RunCounters(Protocol):
    """What the progress display reads from the model runner."""

    sent: int
    cache_hits: int
    spent_usd: float

    def error_count(self) -> int: ...


class Progress:
    """The plan lines and the progress display of one run (see the module docstring)."""

    def __init__(
        self,
        *,
        stream: Writable | None = None,
        quiet: bool = False,
        live: bool | None = None,
        clock=time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        isatty = getattr(self.stream, "isatty", lambda: False)()
        self.live = isatty and os.environ.get("TERM") != "dumb" if live is None else live
        self.clock = clock
        self.total = 0
        self.done = 0
        self.judged = 0
        self._bar: Any = None  # a tqdm bar, imported only when one is drawn
        self._started = 0.0
        self._last_line_at = 0.0
        self._last_step = 0

    # -- plan --------------------------------------------------------------------------------

    def plan(self, plans: list[SuitePlan], *, max_cost_usd: float | None) -> None:
        self.total = sum(p.requests for p in plans)
        if self.quiet:
            return
        for p in plans:
            self._print(plan_line(p))
        cap = f"${max_cost_usd:g}" if max_cost_usd is not None else "none (--max-cost-usd)"
        self._print(f"evalbot: cost cap: {cap}")
        self._started = self._last_line_at = self.clock()
        if self.live and self.total:
            from tqdm import tqdm

            size = shutil.get_terminal_size((100, 24))
            self._bar = tqdm(
                total=self.total,
                file=self.stream,
                unit="call",
                # A terminal that reports a 0×0 size (a bare pseudo-terminal, some CI shells)
                # would get a zero-width bar that tqdm also hides (row 0 of 0 rows).
                ncols=size.columns if size.columns >= 40 else 100,
                nrows=max(5, size.lines),
                leave=True,
                desc="evalbot",
            )

    # -- progress ----------------------------------------------------------------------------

    def call_done(self, purpose: str, runner: RunCounters) -> None:
        """One model call finished (answered, cached, joined or failed)."""
        if purpose != "generate":
            self.judged += 1
        else:
            self.done += 1
        if self.quiet or not self.total:
            return
        if self._bar is not None:
            if purpose == "generate":
                self._bar.update(1)
            self._bar.set_postfix_str(self._postfix(runner), refresh=False)
            return
        now = self.clock()
        step = int(min(self.done, self.total) / self.total / PLAIN_STEP)
        if step > self._last_step or now - self._last_line_at >= PLAIN_EVERY_S:
            self._last_step, self._last_line_at = step, now
            self._print(self._plain(runner, now))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # -- formatting --------------------------------------------------------------------------

    def _postfix(self, runner: RunCounters) -> str:
        # The runner counts a hit when it reads the cache, the bar when the call lands: on an
        # all-cached run every read comes first, so the hits are capped at the calls landed.
        cached = min(runner.cache_hits, self.done + self.judged)
        text = f"cached {cached}, errors {runner.error_count()}"
        text += f", spent {_usd(runner.spent_usd)}"
        return text + (f", judge {self.judged}" if self.judged else "")

    def _plain(self, runner: RunCounters, now: float) -> str:
        done = min(self.done, self.total)
        elapsed = now - self._started
        eta = ""
        if 0 < done < self.total and elapsed > 0:
            eta = f", ETA {elapsed / done * (self.total - done):.0f}s"
        pct = 100 * done / self.total
        return (
            f"evalbot: {done:,}/{self.total:,} calls ({pct:.0f}%), "
            f"{self._postfix(runner)}, {elapsed:.0f}s{eta}"
        )

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
