"""Options of a diff / run, shared by the CLI and the GitHub Action entrypoint.

Each default is written here once, and ``DiffOptions`` checks its own rules when it is built, so
``evalbot run``, ``evalbot diff`` and the Action accept and refuse the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evalbot.errors import UserError
from evalbot.trust import TrustPolicy

__all__ = [
    "DEFAULT_CHECK_NAME",
    "DEFAULT_CONCURRENCY",
    "DiffOptions",
    "check_name_problem",
    "parse_shard",
]

DEFAULT_CONCURRENCY = 8
"""Model calls in flight (CLI ``--concurrency``, Action input ``concurrency``, calibrate)."""
DEFAULT_CHECK_NAME = "evalbot"
_CHECK_NAME_FORBIDDEN = re.compile(r"--|[<>\r\n]")
"""The check name goes inside the comment marker ``<!-- evalbot:NAME -->``."""
_SHARD = re.compile(r"(\d+)/(\d+)")


def check_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a check name (it goes in an HTML comment), or None."""
    if not name or _CHECK_NAME_FORBIDDEN.search(name) or len(name) > 100:
        return f"{name!r} cannot be used: no '--', '<', '>' or line breaks, at most 100 characters"
    return None


def parse_shard(value: str) -> tuple[int, int]:
    """``K/N`` as (K, N); raises ValueError unless 1 ≤ K ≤ N."""
    match = _SHARD.fullmatch(value)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"{value!r}: use K/N with 1 ≤ K ≤ N, e.g. 2/4")
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class DiffOptions:
    repo_root: Path
    base: str | None
    """Base revision (the merge-base with head is used). None: single-side run (``evalbot run``)."""
    head: str | None = None
    """Head revision; None = the work tree as it is on disk."""
    config_path: str = "evalbot.yml"
    out_dir: Path = Path("evalbot-results")
    suites: tuple[str, ...] = ()
    run_all: bool = False
    offline: bool = False
    shard: str | None = None
    """``K/N``: this process evaluates the K-th of N slices of every golden set."""
    samples: int | None = None
    """Overrides every suite's ``samples``."""
    concurrency: int = DEFAULT_CONCURRENCY
    cache_dir: Path | None = None
    """Default: ``<repo_root>/.evalbot/cache``."""
    max_cost_usd: float | None = None
    max_retries: int | None = None
    """Retries per model call; None: evalbot.yml's ``max_retries`` (default 4)."""
    allowed_hosts: tuple[str, ...] | None = None
    check_name: str = DEFAULT_CHECK_NAME
    seed: int = 0
    details_url: str | None = None
    dry_run: bool = False
    sequential: bool = False
    """Stop early when every blocking metric is decided (also ``gate.sequential`` in the config)."""
    """Detect and validate only; no model calls (used for fork PRs without secrets)."""
    extra_notes: tuple[str, ...] = field(default_factory=tuple)
    policy: TrustPolicy = field(default_factory=TrustPolicy.local)
    """The workflow's limits on what the repository may make evalbot do (the action's inputs);
    the CLI trusts the repository."""

    def __post_init__(self) -> None:
        problem = check_name_problem(self.check_name)
        if problem:
            raise UserError(f"check name {problem}", hint="e.g. --check-name 'evalbot / support'")
        if self.concurrency < 1:
            raise UserError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.samples is not None and self.samples < 1:
            raise UserError(f"samples must be at least 1, got {self.samples}")
        if self.shard is not None:
            try:
                parse_shard(self.shard)
            except ValueError as exc:
                raise UserError(f"shard {exc}") from None
