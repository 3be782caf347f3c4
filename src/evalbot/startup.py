"""The cyclic garbage collector is paused while a command imports its modules.

Importing evalbot's stages creates tens of thousands of objects (classes, functions, pydantic
schemas) and none of them is garbage, yet each few hundred allocations trigger a collection that
walks them all again: ~0.05-0.1 s of CPU on a start-up of ~0.4 s. The CLI pauses collection at
its entry point. A command that goes on to do long work (a run calling models) resumes it first,
so a long run collects its garbage as usual. A short command (``--version``, ``validate``, a
no-op action) ends with collection still paused: the process ends before that could matter.
Not ``gc.freeze`` there: a caller of ``main`` in a long-lived process (the tests) would keep the
reference cycles of that moment forever.

The ``evalbot`` process itself (the console script, ``python -m evalbot``) ends when its command
returns, so there the pause ends differently (``until_exit``): collection stays off and every
live object is frozen. Turning collection back on would walk every object the command made once
more (the pause left them all young, ~0.03 s after ``validate``), and so would the interpreter's
own collections at exit; frozen objects are skipped by both, and the process's memory goes back
to the system when it exits anyway.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["RUN_YOUNG_GENERATION", "collect_for_a_run", "collection_paused", "resume_collection"]

RUN_YOUNG_GENERATION = 20_000
"""Allocations between young-generation collections during a run (CPython's default: 700)."""

_paused = False


@contextlib.contextmanager
def collection_paused(*, until_exit: bool = False) -> Iterator[None]:
    """Pause cyclic garbage collection for the block (unless someone else already did).

    ``until_exit``: the process ends after the block; collection is not resumed and every live
    object is frozen (``gc.freeze``) instead, so that no collection walks them again."""
    global _paused
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        if until_exit:
            _paused = False
            gc.disable()  # a long command resumed it for its run; the run is over
            gc.freeze()
        else:
            resume_collection()


def resume_collection() -> None:
    """Resume collection paused by ``collection_paused``.

    Called before work that allocates for long; a no-op when collection was not paused here."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.enable()


def collect_for_a_run() -> None:
    """Resume collection for a run that calls models, with a larger young generation.

    A run keeps tens of thousands of tasks, requests and answers alive at once; at the default
    threshold the collector walks them so often that it took ~15 % of the runner's CPU at
    20,000 calls (``benchmarks/runner_throughput.py --workload 2``: 0.48 → 0.41 ms per call).
    The threshold is only ever raised, and the older generations keep their ratios."""
    resume_collection()
    young, *older = gc.get_threshold()
    if young < RUN_YOUNG_GENERATION:
        gc.set_threshold(RUN_YOUNG_GENERATION, *older)
