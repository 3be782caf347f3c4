"""Attacks by a pull request author, run as the container runs: ``evalbot action`` with the real
pipeline, a real git workspace, the loopback OpenAI fake and the GitHub fake.

The PR author controls every file of the head commit (``evalbot.yml``, model configs, prompts,
committed files under ``.evalbot/``) but not the workflow: its inputs and ``env:``.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalbot.github import action
from evalbot.records import RunResult
from evalbot.report import results_io
from tests.action.conftest import (
    PR,
    REPO,
    TOKEN,
    Workspace,
    actions_env,
    fast_github,
    parse_outputs,
)
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo
from tests.planted import PLANTED_CONFIG, planted_responder

KEY = "sk-live-Geheimnis0123456789abcdef"

CONFIG = PLANTED_CONFIG
N = 8  # small: exact paired tests enumerate 2^N sign patterns
MODEL = "provider: openai\nmodel: gpt-4o-mini\nparams: {temperature: 0}\n"
VAGUE = "Be vague. Answer {{n}}: w{{n}}\n"


responder = planted_responder


@dataclass
class Attack:
    """A repository whose base is sound and whose head (the PR) is ``head_files``."""

    tmp: Path
    github: FakeGitHub
    llm: FakeOpenAI
    repo: Repo
    base_sha: str

    def push(self, files: dict[str, str | None], *, force_add: bool = False) -> Workspace:
        self.repo.write(files)
        self.repo.git("add", "-A", *(["-f"] if force_add else []), ".")
        self.repo.git("commit", "-q", "-m", "PR")
        head = self.repo.git("rev-parse", "HEAD")
        self.github.add_pull(REPO, PR, head_sha=head, base_sha=self.base_sha)
        return Workspace(repo=self.repo, base_sha=self.base_sha, head_sha=head)

    def env(
        self,
        ws: Workspace,
        *,
        inputs: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        runner_temp = self.tmp / "runner-temp"
        runner_temp.mkdir(exist_ok=True)
        base = {
            "OPENAI_BASE_URL": self.llm.base_url,
            "OPENAI_API_KEY": KEY,
            "RUNNER_TEMP": str(runner_temp),
        }
        return actions_env(
            self.tmp, ws, self.github, inputs=inputs, extra={**base, **(extra or {})}
        )


@dataclass
class Outcome:
    code: int
    log: str
    env: dict[str, str]
    ws: Workspace
    github: FakeGitHub

    @property
    def outputs(self) -> dict[str, str]:
        return parse_outputs(Path(self.env["GITHUB_OUTPUT"]).read_text())

    @property
    def result(self) -> RunResult:
        return results_io.load_full(self.results_path.parent)  # with the outputs file

    @property
    def results_path(self) -> Path:
        return self.ws.root / "evalbot-results" / "results.json"

    @property
    def check(self) -> dict[str, Any]:
        [check] = self.github.check_runs.values()
        return check

    def everything_written_or_posted(self) -> str:
        """Files in --out, the job summary, outputs, comments, checks, statuses and the log."""
        # ``::add-mask::`` lines carry the values on purpose: the runner hides them from then on.
        log = "\n".join(ln for ln in self.log.splitlines() if not ln.startswith("::add-mask::"))
        parts = [log, Path(self.env["GITHUB_STEP_SUMMARY"]).read_text()]
        parts.append(Path(self.env["GITHUB_OUTPUT"]).read_text())
        out = self.ws.root / "evalbot-results"
        parts += [_text(p) for p in sorted(out.glob("*")) if p.is_file()]
        parts += [c["body"] for c in self.github.comments_on(REPO, PR)]
        parts += [repr(c) for c in self.github.check_runs.values()]
        parts += [repr(s) for s in getattr(self.github, "statuses", [])]
        return "\n".join(parts)


def _text(path: Path) -> str:
    """A written file as text; the outputs file decompressed (it holds the model outputs)."""
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text()


def run_action(env: dict[str, str], ws: Workspace, github: FakeGitHub) -> Outcome:
    stdout = io.StringIO()
    code = action.main(env, github_factory=fast_github, stdout=stdout)
    return Outcome(code=code, log=stdout.getvalue(), env=env, ws=ws, github=github)


@pytest.fixture
def attack(tmp_path: Path) -> Iterator[Attack]:
    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(N))
    base = repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": MODEL,
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("feature")
    with FakeGitHub() as github, FakeOpenAI(responder, api_key=KEY) as llm:
        github.add_repo(REPO)
        yield Attack(tmp=tmp_path, github=github, llm=llm, repo=repo, base_sha=base)


__all__ = ["KEY", "MODEL", "TOKEN", "VAGUE", "Attack", "N", "Outcome", "run_action"]
