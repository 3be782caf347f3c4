"""Sections shown under a suite's main tables (main's trend, slices, drift budget), each from its
own module; ``comment`` calls ``suite_extras`` once per suite."""

from __future__ import annotations

from evalbot.records import SuiteResult
from evalbot.report.drift import drift_section
from evalbot.report.history import trend_section
from evalbot.report.slices import slice_section

__all__ = ["suite_extras"]


def suite_extras(suite: SuiteResult) -> str:
    """The extra sections of one suite, each preceded by a blank line ("" when none)."""
    sections = [trend_section(suite), slice_section(suite), drift_section(suite)]
    return "".join(f"\n\n{s}" for s in sections if s)
