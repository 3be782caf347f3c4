"""Fixtures for the Action tests: a loopback GitHub, a real git workspace, the Actions env.

The action runs as the container would run it: an event JSON file, ``GITHUB_*`` variables,
temporary ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files, a workspace that is a git repository
with a base and a head commit. Only the diff function may be a stand-in (``StandInDiff``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evalbot.github import action
from evalbot.github.client import make_github
from evalbot.options import DiffOptions
from evalbot.records import RunResult, SuiteResult, SuiteStatus
from evalbot.report import write_outputs
from tests.fakes.github_server import FakeGitHub
from tests.gitrepo import Repo
from tests.report.factories import make_comparison, make_result, make_suite

REPO = "octo/app"
PR = 7
API_KEY = "sk-test-0123456789abcdef"
TOKEN = "ghs_fake_installation_token_123"

CONFIG = """\
version: 1
suites:
  - name: support-answers
    prompt: prompts/support.md
    model: models/support.yaml
    dataset: evals/support.jsonl
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
    thresholds:
      correct: {max_drop: 0.02}
"""


@dataclass
class Workspace:
    repo: Repo
    base_sha: str
    head_sha: str

    @property
    def root(self) -> Path:
        return self.repo.root


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = Repo(tmp_path / "workspace")
    base = repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/support.md": "Answer: {{question}}\n",
            "models/support.yaml": "provider: openai\nmodel: gpt-4o-mini\n",
            "evals/support.jsonl": '{"id": "1", "question": "hi", "expected": "hello"}\n',
            "README.md": "app\n",
        },
        "base",
    )
    repo.branch("feature")
    head = repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak prompt")
    return Workspace(repo=repo, base_sha=base, head_sha=head)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        yield fake


def fast_github(token: str, api_url: str):
    """The real client, minus throttling and retries (tests answer on loopback)."""
    return make_github(token, api_url, throttle=False, retry=False)


def pr_payload(ws: Workspace, *, head_repo: str = REPO, number: int = PR) -> dict[str, Any]:
    owner = head_repo.split("/")[0]
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {
                "sha": ws.head_sha,
                "ref": "feature",
                "repo": {"full_name": head_repo, "owner": {"login": owner}},
            },
            "base": {"sha": ws.base_sha, "ref": "main", "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


def actions_env(
    tmp_path: Path,
    ws: Workspace,
    gh: FakeGitHub,
    *,
    event: str = "pull_request",
    payload: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment the runner gives the container (inputs keep their hyphens)."""
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    event_path = runner / "event.json"
    event_path.write_text(json.dumps(payload if payload is not None else pr_payload(ws)))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_WORKSPACE": str(ws.root),
        "GITHUB_SHA": "f" * 40,  # the merge commit: must never be evaluated or checked
        "GITHUB_API_URL": gh.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_OUTPUT": str(runner / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
        "RUNNER_TEMP": str(runner),  # where the action keeps its response cache by default
        "OPENAI_API_KEY": API_KEY,
        "INPUT_GITHUB-TOKEN": TOKEN,
        "INPUT_CHECK": "check-run",
        "INPUT_CHECK-NAME": "evalbot",
        "INPUT_COMMENT": "on-change",
        "INPUT_CONFIG": "evalbot.yml",
    }
    for name, value in (inputs or {}).items():
        env[f"INPUT_{name.upper()}"] = value
    env.update(extra or {})
    return env


def parse_outputs(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT`` as the runner parses it: ``k=v`` lines and ``k<<DELIM`` blocks."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


def regressed_result(ws: Workspace, **overrides: Any) -> RunResult:
    suite = make_suite(comparisons=[make_comparison()], triggers=["prompts/support.md"], samples=1)
    fields = {
        "base_sha": ws.base_sha,
        "head_sha": ws.head_sha,
        "changed_files": ["prompts/support.md"],
        **overrides,
    }
    return make_result(suite, **fields)


def passing_result(ws: Workspace, **overrides: Any) -> RunResult:
    from evalbot.records import Verdict

    suite = make_suite(
        comparisons=[make_comparison(verdict=Verdict.UNCHANGED, head=0.9, p=0.9)],
        triggers=["prompts/support.md"],
    )
    fields = {"base_sha": ws.base_sha, "head_sha": ws.head_sha, **overrides}
    return make_result(suite, changed_files=["prompts/support.md"], **fields)


@dataclass
class StandInDiff:
    """Stands in for ``evalbot.pipeline.diff.run_diff``: returns a canned result, and for
    ``dry_run`` what the pipeline's detection would (suites that would run keep triggers, every
    suite SKIPPED, verdict neutral). Writes the --out files as the pipeline does."""

    make: Callable[[DiffOptions], RunResult]
    calls: list[DiffOptions] = field(default_factory=list)

    @property
    def model_runs(self) -> int:
        return sum(1 for c in self.calls if not c.dry_run)

    def __call__(self, options: DiffOptions, *, env: Any) -> RunResult:
        self.calls.append(options)
        result = self.make(options)
        if options.dry_run:
            planned = [
                SuiteResult(
                    name=s.name,
                    status=SuiteStatus.SKIPPED,
                    triggers=s.triggers if s.status != SuiteStatus.SKIPPED else [],
                    notes=["Not evaluated: dry run (no model call)."],
                )
                for s in result.suites
            ]
            result = result.model_copy(update={"suites": planned, "verdict": "neutral"})
        write_outputs(result, options.out_dir, check_name=options.check_name)
        return result


@dataclass
class ActionRun:
    code: int
    log: str
    outputs: dict[str, str]
    summary: str
    waits: list[float] = field(default_factory=list)
    """What evalbot would have slept between retries of GitHub writes (tests never sleep)."""


def run_action(env: dict[str, str], diff: Any) -> ActionRun:
    stdout = io.StringIO()
    waits: list[float] = []
    code = action.main(
        env, diff=diff, github_factory=fast_github, stdout=stdout, retry_sleep=waits.append
    )
    output_file = Path(env["GITHUB_OUTPUT"])
    summary_file = Path(env["GITHUB_STEP_SUMMARY"])
    return ActionRun(
        code=code,
        log=stdout.getvalue(),
        outputs=parse_outputs(output_file.read_text()) if output_file.exists() else {},
        summary=summary_file.read_text() if summary_file.exists() else "",
        waits=waits,
    )
