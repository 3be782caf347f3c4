"""The GitHub Actions runtime: the triggering event, workflow commands, outputs and job summary.

Everything here is a pure function of the environment mapping and the event file, or writes to a
stream / file the runner gave us; nothing calls the GitHub API. The workflow-command syntax and
limits used here are summarised in docs/action.md ("Job summary, outputs, logs").
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from evalbot.errors import ConfigError
from evalbot.fsio import append_text

__all__ = [
    "SUMMARY_LIMIT_BYTES",
    "EventContext",
    "WorkflowCommands",
    "append_summary",
    "escape_data",
    "escape_property",
    "load_event",
    "write_outputs",
]

SUMMARY_LIMIT_BYTES = 1024 * 1024
"""GitHub's limit for one step's summary; a larger one is dropped with an error annotation."""

ZERO_SHA = "0" * 40

PR_EVENTS = ("pull_request", "pull_request_target")
SUPPORTED_EVENTS = (*PR_EVENTS, "push", "workflow_dispatch", "merge_group", "workflow_run")


@dataclass(frozen=True)
class EventContext:
    """What evalbot needs of the triggering event. SHAs here come from GitHub, not from the PR."""

    event_name: str
    repository: str
    """``owner/name`` of the repository the workflow runs in (the base repository of a PR)."""
    head_sha: str | None = None
    """The commit under evaluation: ``pull_request.head.sha`` for PRs (never the merge commit)."""
    base_sha: str | None = None
    """For PRs the base branch tip; the pipeline evaluates from its merge-base with head."""
    base_ref: str | None = None
    head_ref: str | None = None
    pr_number: int | None = None
    head_repository: str | None = None
    """``owner/name`` the PR's head branch lives in; None when the fork was deleted."""
    default_branch: str | None = None
    workflow_run_id: int | None = None
    workflow_run_event: str | None = None
    workflow_run_url: str | None = None
    workflow_run_pr_numbers: tuple[int, ...] = ()
    """``workflow_run.pull_requests``: empty for PRs from forks, so never relied on alone."""
    head_owner: str | None = None

    @property
    def is_pull_request(self) -> bool:
        return self.event_name in PR_EVENTS

    @property
    def is_fork(self) -> bool:
        """A PR whose head branch is not in this repository (or whose fork was deleted)."""
        if self.event_name in PR_EVENTS or self.event_name == "workflow_run":
            return self.head_repository is None or (
                self.head_repository.lower() != self.repository.lower()
            )
        return False


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sha(value: Any) -> str | None:
    value = _str(value)
    return None if value is None or value == ZERO_SHA else value


def load_event(env: Mapping[str, str]) -> EventContext:
    """Read ``GITHUB_EVENT_NAME`` and the JSON payload at ``GITHUB_EVENT_PATH``."""
    name = env.get("GITHUB_EVENT_NAME", "").strip()
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if not name:
        raise ConfigError(
            "GITHUB_EVENT_NAME is not set: 'evalbot action' runs inside GitHub Actions",
            hint="run 'evalbot diff --base REV' outside Actions",
        )
    if name not in SUPPORTED_EVENTS:
        raise ConfigError(
            f"event {name!r} is not supported",
            hint=f"trigger the workflow on one of: {', '.join(SUPPORTED_EVENTS)}",
        )
    payload: dict[str, Any] = {}
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the event payload: {exc}", file=path) from exc
        payload = loaded if isinstance(loaded, dict) else {}
    repository = repository or _str(_get(payload, "repository", "full_name")) or ""
    if not repository:
        raise ConfigError("GITHUB_REPOSITORY is not set", hint="run inside GitHub Actions")
    default_branch = _str(_get(payload, "repository", "default_branch"))
    common = {"event_name": name, "repository": repository, "default_branch": default_branch}

    if name in PR_EVENTS:
        pr = payload.get("pull_request") or {}
        number = pr.get("number") or payload.get("number")
        head_sha = _sha(_get(pr, "head", "sha"))
        if not isinstance(number, int) or head_sha is None:
            raise ConfigError(
                f"the {name} event payload has no pull_request.number / head.sha",
                file=path or None,
            )
        return EventContext(
            **common,
            pr_number=number,
            head_sha=head_sha,
            base_sha=_sha(_get(pr, "base", "sha")),
            base_ref=_str(_get(pr, "base", "ref")),
            head_ref=_str(_get(pr, "head", "ref")),
            head_repository=_str(_get(pr, "head", "repo", "full_name")),
            head_owner=_str(_get(pr, "head", "repo", "owner", "login")),
        )
    if name == "merge_group":
        group = payload.get("merge_group") or {}
        return EventContext(
            **common,
            head_sha=_sha(group.get("head_sha")) or _sha(env.get("GITHUB_SHA")),
            base_sha=_sha(group.get("base_sha")),
            base_ref=_str(group.get("base_ref")),
            head_ref=_str(group.get("head_ref")),
        )
    if name == "push":
        return EventContext(
            **common,
            head_sha=_sha(payload.get("after")) or _sha(env.get("GITHUB_SHA")),
            base_sha=_sha(payload.get("before")),
            head_ref=_str(payload.get("ref")),
        )
    if name == "workflow_run":
        run = payload.get("workflow_run") or {}
        numbers = tuple(
            p["number"]
            for p in run.get("pull_requests") or []
            if isinstance(p, dict) and isinstance(p.get("number"), int)
        )
        run_id = run.get("id")
        return EventContext(
            **common,
            head_sha=_sha(run.get("head_sha")),
            head_ref=_str(run.get("head_branch")),
            head_repository=_str(_get(run, "head_repository", "full_name")),
            head_owner=_str(_get(run, "head_repository", "owner", "login")),
            workflow_run_id=run_id if isinstance(run_id, int) else None,
            workflow_run_event=_str(run.get("event")),
            workflow_run_url=_str(run.get("html_url")),
            workflow_run_pr_numbers=numbers,
        )
    # workflow_dispatch: the selected branch against the default branch.
    return EventContext(
        **common, head_sha=_sha(env.get("GITHUB_SHA")), head_ref=_str(env.get("GITHUB_REF"))
    )


# ---------------------------------------------------------------------------------------------
# Workflow commands
# ---------------------------------------------------------------------------------------------


def escape_data(value: str) -> str:
    """Escape a workflow command's message: ``%``, CR and LF (as actions/toolkit does)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value: the data escapes plus ``:`` and ``,``."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


class WorkflowCommands:
    """Writes ``::command::`` lines to the job log (stdout inside the container)."""

    MAX_ANNOTATIONS = 10
    """GitHub shows at most 10 error and 10 warning annotations per step."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._counts: dict[str, int] = {}

    def _command(self, name: str, message: str, **properties: object) -> None:
        props = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in properties.items()
            if value is not None and value != ""
        )
        head = f"::{name} {props}" if props else f"::{name}"
        self.stream.write(f"{head}::{escape_data(message)}\n")
        self.stream.flush()

    def log(self, message: str) -> None:
        self.stream.write(message.rstrip("\n") + "\n")
        self.stream.flush()

    def mask(self, value: str) -> None:
        for line in value.splitlines():
            if line.strip():
                self._command("add-mask", line)

    def annotate(
        self,
        level: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        """``level`` is error, warning or notice; past GitHub's per-step cap it only logs."""
        count = self._counts.get(level, 0) + 1
        self._counts[level] = count
        if count > self.MAX_ANNOTATIONS:
            self.log(f"{level}: {message}")
            return
        self._command(level, message, file=file, line=line, title=title)

    def error(self, message: str, **where: Any) -> None:
        self.annotate("error", message, **where)

    def warning(self, message: str, **where: Any) -> None:
        self.annotate("warning", message, **where)

    def notice(self, message: str, **where: Any) -> None:
        self.annotate("notice", message, **where)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._command("group", title)
        try:
            yield
        finally:
            self._command("endgroup", "")

    @contextlib.contextmanager
    def untrusted(self) -> Iterator[None]:
        """Stop command processing while echoing text a PR or a model may have written."""
        token = secrets.token_hex(16)
        self._command("stop-commands", token)
        try:
            yield
        finally:
            self.stream.write(f"::{token}::\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------
# Files the runner reads after the step: GITHUB_OUTPUT, GITHUB_STEP_SUMMARY
# ---------------------------------------------------------------------------------------------


def write_outputs(path: str | Path, outputs: Mapping[str, str]) -> None:
    """Append ``name=value`` lines; multi-line values use ``name<<DELIMITER`` with a random
    delimiter that does not occur in the value (so the value cannot end the block early)."""
    lines: list[str] = []
    for name, value in outputs.items():
        if "\n" not in value and "\r" not in value:
            lines.append(f"{name}={value}")
            continue
        delimiter = f"EVALBOT_{secrets.token_hex(16)}"
        while delimiter in value:  # pragma: no cover - 128 random bits
            delimiter = f"EVALBOT_{secrets.token_hex(16)}"
        lines += [f"{name}<<{delimiter}", value.rstrip("\n"), delimiter]
    append_text(Path(path), "\n".join(lines) + "\n")


def _clip_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def append_summary(path: str | Path, markdown: str, *, limit: int = SUMMARY_LIMIT_BYTES) -> bool:
    """Append to the job summary, cut to stay under GitHub's 1 MiB per step.

    Returns False when the text had to be cut (the caller says where the full report is).
    """
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    room = limit - used - 1
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    fits = len(text.encode("utf-8")) <= room
    if not fits:
        notice = "\n\n> ✂️ Cut to fit the 1 MiB job-summary limit: see results.json.\n"
        text = _clip_utf8(text, max(room - len(notice.encode()), 0)) + notice
    append_text(target, text)
    return fits
