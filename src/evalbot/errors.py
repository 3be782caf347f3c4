"""The one exception tree of evalbot, mapped to exit codes in one place (``exit_code_for``).

::

    EvalbotError
     ├── UserError                 exit 2: bad usage, config or input; one line, no traceback
     │    ├── ConfigError          evalbot.yml, model configs, thresholds
     │    ├── InputError           prompt files, golden sets, rubrics, labels
     │    └── CacheMissError       --offline and a request that is not in the cache
     └── EvaluationError           exit 3: the evaluation could not be completed
          ├── ProviderError        model endpoint failures past the error budget
          ├── GitError             git failed, or history too shallow
          └── PublishError         GitHub API failure while publishing
               └── CheckMissing     the check could not be written: exit 3 even on a failed gate

Exit 0 (gate passed) and 1 (gate failed) are outcomes, not exceptions.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_USAGE",
    "CacheMissError",
    "CheckMissing",
    "ConfigError",
    "EvalbotError",
    "EvaluationError",
    "GitError",
    "InputError",
    "ProviderError",
    "PublishError",
    "UserError",
    "Where",
    "exit_code_for",
    "exit_code_for_verdict",
]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3


class EvalbotError(Exception):
    """Base of every error evalbot raises on purpose.

    ``str(error)`` is the one line shown to the user. ``file`` and ``line`` (when known) let the
    GitHub Action turn it into an ``::error file=…,line=…::`` annotation.
    """

    exit_code = EXIT_ERROR

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        fix = f" (fix: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class Where(TypedDict):
    """Where a user error is, for ``UserError(message, **where, hint=...)``."""

    file: str | None
    line: int | None


class UserError(EvalbotError):
    exit_code = EXIT_USAGE


class ConfigError(UserError):
    pass


class InputError(UserError):
    pass


class CacheMissError(UserError):
    pass


class EvaluationError(EvalbotError):
    exit_code = EXIT_ERROR


class ProviderError(EvaluationError):
    pass


class GitError(EvaluationError):
    pass


class PublishError(EvaluationError):
    pass


class CheckMissing(PublishError):
    """The check run or status is not on the head commit: a required check would wait forever,
    so the job must fail as an error (re-run it), whatever the gate said."""


def exit_code_for_verdict(verdict: str) -> int:
    """The contract's exit code for a finished run: pass/neutral 0, fail 1, error 3."""
    return {"pass": EXIT_OK, "neutral": EXIT_OK, "fail": EXIT_FAIL}.get(verdict, EXIT_ERROR)


def exit_code_for(error: BaseException) -> int:
    """The contract's exit code for any exception: 2 for user mistakes, 3 for everything else."""
    if isinstance(error, EvalbotError):
        return error.exit_code
    return EXIT_ERROR
