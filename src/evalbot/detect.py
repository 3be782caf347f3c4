"""Change detection: which suites does a change between the merge-base and head affect, and why."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from evalbot.config import EvalbotConfig, SuiteConfig
from evalbot.errors import ConfigError
from evalbot.git import Change
from evalbot.score.base import JUDGED_TYPES

__all__ = ["SuiteSelection", "glob_match", "select_suites"]


@dataclass
class SuiteSelection:
    suite: SuiteConfig
    """The head's definition (both sides are scored with it)."""
    base_suite: SuiteConfig | None
    """The base's definition of the same name; None when the suite is new in the change."""
    reasons: list[str] = field(default_factory=list)

    @property
    def selected(self) -> bool:
        return bool(self.reasons)

    @property
    def is_new(self) -> bool:
        return self.base_suite is None


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(path: str, pattern: str) -> bool:
    """Git-style glob: ``*`` stays within a directory, ``**`` crosses directories.

    A pattern ending in ``/`` matches everything below that directory.
    """
    if pattern.endswith("/"):
        pattern += "**"
    return bool(_glob_regex(pattern.removeprefix("./")).match(path))


def _uses_judge(suite: SuiteConfig) -> bool:
    return any(m.type in JUDGED_TYPES for m in suite.metrics)


def _definition(suite: SuiteConfig | None) -> dict | None:
    return None if suite is None else suite.model_dump(mode="json")


def select_suites(
    head: EvalbotConfig,
    base: EvalbotConfig | None,
    changes: Sequence[Change],
    *,
    config_path: str,
    requested: Sequence[str] = (),
    run_all: bool = False,
) -> list[SuiteSelection]:
    """Decide, per head suite, whether it runs and list the reasons (changed paths or events).

    A suite runs when one of its files (prompt, model, golden set, rubric, schema; at head or at
    base, so renames and deletions count) or a ``watch`` glob matches a changed path, when its
    definition in the config changed, when the judge it uses changed, or when it is new.
    ``--all`` and ``--suite`` override the selection.
    """
    unknown = [name for name in requested if head.suite(name) is None]
    if unknown:
        raise ConfigError(
            f"--suite names unknown suites {unknown}",
            file=config_path,
            hint=f"choose from {[s.name for s in head.suites]}",
        )
    changed: list[str] = []
    for change in changes:
        changed.extend(change.paths())
    changed_set = set(changed)

    selections: list[SuiteSelection] = []
    for suite in head.suites:
        base_suite = base.suite(suite.name) if base else None
        selection = SuiteSelection(suite=suite, base_suite=base_suite)
        if requested:
            if suite.name in requested:
                selection.reasons.append("--suite")
            selections.append(selection)
            continue
        if run_all:
            selection.reasons.append("--all")
        if base_suite is None:
            selection.reasons.append("new suite")
        files = set(suite.files()) | (set(base_suite.files()) if base_suite else set())
        if _uses_judge(suite):
            for judge in (
                head.judge_for(suite),
                base.judge_for(base_suite) if base and base_suite else None,
            ):
                if judge is not None:
                    files.add(judge.model)
        selection.reasons.extend(sorted(files & changed_set))
        for pattern in suite.watch:
            selection.reasons.extend(
                p for p in changed if glob_match(p, pattern) and p not in selection.reasons
            )
        if (
            config_path in changed_set
            and base_suite is not None
            and _definition(base_suite) != _definition(suite)
        ):
            selection.reasons.append(f"suite definition changed in {config_path}")
        if (
            config_path in changed_set
            and base is not None
            and _uses_judge(suite)
            and head.judge_for(suite) != (base.judge_for(base_suite) if base_suite else None)
        ):
            selection.reasons.append(f"judge changed in {config_path}")
        selections.append(selection)
    return selections
