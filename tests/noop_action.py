"""The no-op path of ``evalbot action``: a ``pull_request`` event whose head changes no eval input
(only a docs file), in a real git workspace holding the support-bot example, with the GitHub and
OpenAI fakes running. The action must answer with a passing check and call no model.

Shared by tests/core/test_startup_imports.py (what that path imports) and
benchmarks/startup_cpu.py (what it costs).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support-bot" / "repo"
REPO = "octo/app"
PR = 7


@dataclass
class NoopAction:
    env: dict[str, str]
    """The step's environment (without PATH/HOME: add the caller's)."""
    workspace: Path
    head_sha: str
    github: FakeGitHub
    llm: FakeOpenAI

    def problem(self, returncode: int) -> str | None:
        """Why the run was not a clean no-op (exit 0, one passing check, no model call)."""
        conclusions = [r.get("conclusion") for r in self.github.check_runs.values()]
        if returncode != 0 or conclusions != ["success"] or self.llm.requests:
            return (
                f"exit {returncode}, check runs {conclusions}, "
                f"{len(self.llm.requests)} model request(s)"
            )
        return None

    def reset(self) -> None:
        """Forget the previous run's check and requests (the same event can be replayed)."""
        self.github.check_runs.clear()
        self.llm.reset()


@contextmanager
def noop_action(top: Path) -> Iterator[NoopAction]:
    repo = Repo(top / "workspace")
    shutil.copytree(EXAMPLE, repo.root, dirs_exist_ok=True)
    repo.write({"docs/usage.md": "How to ask for help.\n"})
    base = repo.commit({}, "base")
    repo.branch("feature")
    head = repo.commit({"docs/usage.md": "How to ask the bot for help.\n"}, "docs only")
    runner = top / "runner"
    runner.mkdir()
    event = runner / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": PR,
                "pull_request": {
                    "number": PR,
                    "head": {"sha": head, "ref": "feature", "repo": {"full_name": REPO}},
                    "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
                },
                "repository": {"full_name": REPO, "default_branch": "main"},
            }
        )
    )
    with ExitStack() as stack:
        github = stack.enter_context(FakeGitHub())
        llm = stack.enter_context(FakeOpenAI())
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": str(repo.root),
            "GITHUB_SHA": "f" * 40,
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_OUTPUT": str(runner / "output.txt"),
            "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
            "RUNNER_TEMP": str(runner),
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "test-key",
            "INPUT_GITHUB-TOKEN": "ghs_fake_installation_token_123",
            "INPUT_ALLOWED-HOSTS": "127.0.0.1",
            "INPUT_CHECK": "check-run",
            "INPUT_COMMENT": "on-change",
        }
        yield NoopAction(env=env, workspace=repo.root, head_sha=head, github=github, llm=llm)
