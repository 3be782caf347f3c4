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
from typing import Any, Protocol, TextIO

from evalbot.errors import ConfigError
from evalbot.fsio import append_text

__all__ = [
    "CODE_ACTIONS",
    "SUMMARY_LIMIT_BYTES",
    "EventContext",
    "WorkflowCommands",
    "append_summary",
    "escape_data",
    "escape_property",
    "idle_reason",
    "load_event",
    "write_outputs",
]

SUMMARY_LIMIT_BYTES = 1024 * 1024
"""GitHub's limit for one step's summary; a larger one is dropped with an error annotation."""

ZERO_SHA = "0" * 40

PR_EVENTS = ("pull_request", "pull_request_target")
SUPPORTED_EVENTS = (*PR_EVENTS, "push", "workflow_dispatch", "merge_group", "workflow_run")
CODE_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
"""Pull-request actions that may change what is evaluated. Any other action (``labeled``,
``assigned``, ``review_requested``…) leaves the head commit as it was; ``edited`` counts as code
only when it moved the base branch (``changes.base``)."""


class TextSink(Protocol):
    """Where workflow commands go: the job log, or a scrubbing wrapper around it."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


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
    action: str | None = None
    """The payload's ``action`` (``opened``, ``closed``, ``completed``…), when it has one."""
    deleted: bool = False
    """A ``push`` that deleted its branch or tag (``deleted: true``, ``after`` all zeros)."""
    base_changed: bool = False
    """An ``edited`` pull request whose base branch changed."""

    @property
    def changes_code(self) -> bool:
        """False for pull-request actions that leave the commits as they were (``labeled``…)."""
        if not self.is_pull_request or self.action is None:
            return True
        return self.action in CODE_ACTIONS or (self.action == "edited" and self.base_changed)

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


_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    bool: "a boolean",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


class _Payload:
    """Typed reads of the event JSON: a field that is present with the wrong JSON type (an
    array where GitHub sends an object…) is a ``ConfigError`` naming the field; a missing or
    null one reads as None."""

    def __init__(self, data: Any, path: str | None) -> None:
        self.data = data
        self.path = path

    def get(self, dotted: str, kind: type) -> Any:
        node, walked = self.data, list[str]()
        for key in dotted.split("."):
            if node is None:
                return None
            if not isinstance(node, dict):
                self._wrong(".".join(walked) or "(top level)", node, dict)
            walked.append(key)
            node = node.get(key)
        if node is None:
            return None
        wrong = isinstance(node, bool) != (kind is bool) or not isinstance(node, kind)
        if wrong:
            self._wrong(dotted, node, kind)
        return node

    def _wrong(self, field: str, value: Any, kind: type) -> None:
        raise ConfigError(
            f"event payload field {field!r} is {_json_type(value)}, expected "
            f"{_JSON_TYPES.get(kind, kind.__name__)}",
            file=self.path,
            hint="the event file is not a GitHub webhook payload of this event",
        )

    def text(self, dotted: str) -> str | None:
        value = self.get(dotted, str)
        return value or None

    def sha(self, dotted: str) -> str | None:
        return _sha(self.text(dotted))


def _sha(value: str | None) -> str | None:
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
    loaded: Any = {}
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the event payload: {exc}", file=path) from exc
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"the event payload is {_json_type(loaded)}, expected an object", file=path or None
        )
    payload = _Payload(loaded, path or None)
    repository = repository or payload.text("repository.full_name") or ""
    if not repository:
        raise ConfigError("GITHUB_REPOSITORY is not set", hint="run inside GitHub Actions")
    common: dict[str, Any] = {
        "event_name": name,
        "repository": repository,
        "default_branch": payload.text("repository.default_branch"),
        "action": payload.text("action"),
    }

    if name in PR_EVENTS:
        number = payload.get("pull_request.number", int) or payload.get("number", int)
        head_sha = payload.sha("pull_request.head.sha")
        if number is None or head_sha is None:
            raise ConfigError(
                f"the {name} event payload has no pull_request.number / head.sha",
                file=path or None,
            )
        return EventContext(
            **common,
            pr_number=number,
            head_sha=head_sha,
            base_sha=payload.sha("pull_request.base.sha"),
            base_ref=payload.text("pull_request.base.ref"),
            head_ref=payload.text("pull_request.head.ref"),
            head_repository=payload.text("pull_request.head.repo.full_name"),
            head_owner=payload.text("pull_request.head.repo.owner.login"),
            base_changed=payload.get("changes.base", dict) is not None,
        )
    if name == "merge_group":
        return EventContext(
            **common,
            head_sha=payload.sha("merge_group.head_sha") or _sha(env.get("GITHUB_SHA")),
            base_sha=payload.sha("merge_group.base_sha"),
            base_ref=payload.text("merge_group.base_ref"),
            head_ref=payload.text("merge_group.head_ref"),
        )
    if name == "push":
        deleted = bool(payload.get("deleted", bool)) or payload.text("after") == ZERO_SHA
        return EventContext(
            **common,
            # A deletion's GITHUB_SHA is the default branch's tip: never evaluate that instead.
            head_sha=None if deleted else payload.sha("after") or _sha(env.get("GITHUB_SHA")),
            base_sha=payload.sha("before"),
            head_ref=payload.text("ref"),
            deleted=deleted,
        )
    if name == "workflow_run":
        pulls = payload.get("workflow_run.pull_requests", list) or []
        numbers = tuple(
            p["number"] for p in pulls if isinstance(p, dict) and isinstance(p.get("number"), int)
        )
        return EventContext(
            **common,
            head_sha=payload.sha("workflow_run.head_sha"),
            head_ref=payload.text("workflow_run.head_branch"),
            head_repository=payload.text("workflow_run.head_repository.full_name"),
            head_owner=payload.text("workflow_run.head_repository.owner.login"),
            workflow_run_id=payload.get("workflow_run.id", int),
            workflow_run_event=payload.text("workflow_run.event"),
            workflow_run_url=payload.text("workflow_run.html_url"),
            workflow_run_pr_numbers=numbers,
        )
    # workflow_dispatch: the selected branch against the default branch.
    return EventContext(
        **common, head_sha=_sha(env.get("GITHUB_SHA")), head_ref=env.get("GITHUB_REF") or None
    )


def idle_reason(event: EventContext) -> str | None:
    """Why this event asks for nothing at all (no evaluation, no comment, no check), or None.

    * a push that deleted a branch or tag: there is no commit left to evaluate;
    * a closed pull request: a result on it would help no one (and would notify everyone);
    * a ``workflow_run`` that is not ``completed``: its artifact does not exist yet.
    """
    if event.event_name == "push" and event.deleted:
        return f"push deleted {event.head_ref or 'a ref'}: nothing to evaluate"
    if event.is_pull_request and event.action == "closed":
        return f"pull request #{event.pr_number} was closed: nothing to do"
    if event.event_name == "workflow_run" and event.action not in (None, "completed"):
        return (
            f"workflow_run {event.action}: results are published when the run is completed "
            "(trigger on types: [completed])"
        )
    return None


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
        self.stream: TextSink = stream
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
