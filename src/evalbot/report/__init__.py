"""The report stage: a ``RunResult`` → the PR comment, job summary, check text, CLI summary,
junit.xml and the ``--out`` files. Pure functions of the result, except ``write_outputs``."""

from evalbot.report.comment import (
    check_title_and_summary,
    comment_marker,
    render_comment,
    render_summary,
)
from evalbot.report.escape import escape_cell, fenced
from evalbot.report.headline import short_description
from evalbot.report.junit import render_junit
from evalbot.report.outputs import write_outputs
from evalbot.report.terminal import render_terminal

__all__ = [
    "check_title_and_summary",
    "comment_marker",
    "escape_cell",
    "fenced",
    "render_comment",
    "render_junit",
    "render_summary",
    "render_terminal",
    "short_description",
    "write_outputs",
]
