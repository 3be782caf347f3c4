"""Main's answers for the PR's base side (examples/workflows/main-cache.yml + pr-gate.yml).

Main's workflow runs ``evalbot run`` on the default branch with EVALBOT_CACHE_SECRET and saves
its cache; the PR's workflow restores it (here: a copy, as actions/cache does) into the action's
``cache-dir`` and passes the same secret as ``cache-secret``. The PR's base side is main's code,
so every base-side request is a cache hit: the loopback model fake sees the head side only. With
another secret the restored entries do not verify and the base side is evaluated again.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from evalbot.cli import main as cli
from evalbot.github import action
from evalbot.records import RunResult
from tests.action.conftest import PR, REPO, Workspace, actions_env, fast_github
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo
from tests.planted import PLANTED_CONFIG, planted_responder

N = 40
SECRET = "main-and-pr-share-this"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(N))
    base = repo.commit(
        {
            "evalbot.yml": PLANTED_CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("feature")
    head = repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")
    return Workspace(repo=repo, base_sha=base, head_sha=head)


def _main_run(ws: Workspace, llm: FakeOpenAI, cache: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("EVALBOT_CACHE_SECRET", SECRET)
    argv = ["run", "-C", str(ws.root), "--rev", ws.base_sha, "--cache-dir", str(cache)]
    assert cli([*argv, "--out", str(tmp_path / "main-results"), "-q"]) == 0


def _pr_run(ws: Workspace, llm: FakeOpenAI, github: FakeGitHub, tmp_path: Path, secret: str):
    github.add_pull(REPO, PR, head_sha=ws.head_sha, base_sha=ws.base_sha)
    env = actions_env(
        tmp_path,
        ws,
        github,
        extra={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test-key"},
        inputs={
            "allowed-hosts": "127.0.0.1",
            "cache-dir": ".evalbot-cache",
            "cache-secret": secret,
        },
    )
    code = action.main(env, github_factory=fast_github, stdout=io.StringIO())
    assert code == 1  # the planted regression
    out = ws.root / "evalbot-results"
    return RunResult.model_validate_json((out / "results.json").read_text()), out


@pytest.mark.parametrize("secret,base_sent", [(SECRET, 0), ("another-secret", N)])
def test_pr_base_side_is_answered_by_mains_cache(
    ws, tmp_path, monkeypatch, github: FakeGitHub, secret, base_sent
):
    with FakeOpenAI(planted_responder) as llm:
        main_cache = tmp_path / "main-cache"
        _main_run(ws, llm, main_cache, monkeypatch, tmp_path)
        assert len(llm.requests) == N
        # actions/cache restores main's newest cache into the PR job's cache-dir.
        shutil.copytree(main_cache, ws.root / ".evalbot-cache")
        before = len(llm.requests)
        result, out = _pr_run(ws, llm, github, tmp_path, secret)
        [suite] = result.suites
        assert suite.base is not None and suite.head is not None
        assert len(llm.requests) - before == N + base_sent  # counted at the fake
        assert suite.base.usage.sent == base_sent
        assert suite.base.usage.cache_hits == N - base_sent
        assert suite.head.usage.sent == N
        comment = (out / "comment.md").read_text()
        assert f"base side {N - base_sent:,}, head side 0" in comment
