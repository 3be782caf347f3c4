"""Options of a diff / run, shared by the CLI and the GitHub Action entrypoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evalbot.trust import TrustPolicy

__all__ = ["DiffOptions"]


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
    concurrency: int = 8
    cache_dir: Path | None = None
    """Default: ``<repo_root>/.evalbot/cache``."""
    max_cost_usd: float | None = None
    max_retries: int | None = None
    """Retries per model call; None: evalbot.yml's ``max_retries`` (default 4)."""
    allowed_hosts: tuple[str, ...] | None = None
    check_name: str = "evalbot"
    seed: int = 0
    details_url: str | None = None
    dry_run: bool = False
    """Detect and validate only; no model calls (used for fork PRs without secrets)."""
    extra_notes: tuple[str, ...] = field(default_factory=tuple)
    policy: TrustPolicy = field(default_factory=TrustPolicy.local)
    """The workflow's limits on what the repository may make evalbot do (the action's inputs);
    the CLI trusts the repository."""
