"""Every file evalbot writes can be read by the runner's user in the steps that follow.

In the Action, evalbot runs as root in the container and the workspace belongs to the runner's
user (uid 1001); ``actions/upload-artifact`` and ``actions/cache`` run next, as that user. The
end-to-end test replays exactly that: ``evalbot action`` in a subprocess as root, then every file
and directory under the workspace and the runner's directories is read as uid 1001.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalbot.fsio import append_text, ensure_dir, write_atomic
from evalbot.run.cache import DB_NAME, ResponseCache
from tests.action.conftest import CONFIG, PR, REPO, Workspace, pr_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

RUNNER_UID = 1001

_READ_ALL = r"""
import json, os, sys
problems = []
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top, onerror=lambda e: problems.append(f"{e.filename}: {e}")):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror} ({oct(os.lstat(path).st_mode & 0o777)})")
print(json.dumps(problems))
"""


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_helper_modes_do_not_depend_on_the_umask(tmp_path: Path, umask_077: None):
    target = ensure_dir(tmp_path / "a" / "b")
    write_atomic(target / "results.json", "{}\n")
    write_atomic(target / "results.json", b"{}\n")  # replacing keeps the mode
    append_text(target / "summary.md", "# report\n")
    assert (_mode(tmp_path / "a"), _mode(target)) == (0o755, 0o755)
    assert _mode(target / "results.json") == 0o644
    assert _mode(target / "summary.md") == 0o644
    assert sorted(p.name for p in target.iterdir()) == ["results.json", "summary.md"]  # no temp


def test_appending_keeps_the_mode_of_the_runners_own_file(tmp_path: Path):
    output = tmp_path / "output.txt"
    output.write_text("")
    output.chmod(0o600)
    append_text(output, "verdict=pass\n")
    assert _mode(output) == 0o600 and output.read_text() == "verdict=pass\n"


def _as_runner(*paths: Path) -> list[str]:
    reader = [shutil.which("setpriv") or "setpriv", "--reuid", str(RUNNER_UID)]
    reader += ["--regid", str(RUNNER_UID), "--clear-groups", sys.executable, "-I", "-c", _READ_ALL]
    done = subprocess.run(
        [*reader, *map(str, paths)], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv(1): replays the container (root) and the runner (uid 1001)",
)
def test_action_as_root_leaves_files_the_runner_user_can_read():
    base = Path(tempfile.mkdtemp(prefix="evalbot-modes-"))
    try:
        base.chmod(0o755)  # like /home/runner/work: the runner's user can traverse it
        _run_action_in_container_layout(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_action_in_container_layout(base: Path) -> None:
    repo = Repo(base / "workspace")
    base_sha = repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/support.md": "Answer: {{question}}\n",
            "models/support.yaml": "provider: openai\nmodel: gpt-4o-mini\n",
            "evals/support.jsonl": "".join(
                f'{{"id": "{i}", "question": "hello {i}", "expected": "hello"}}\n' for i in range(5)
            ),
        },
        "base",
    )
    repo.branch("feature")
    head_sha = repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak")
    runner = base / "runner"
    temp = runner / "temp"
    temp.mkdir(parents=True)
    gitconfig = runner / "gitconfig"
    gitconfig.write_text("[safe]\n\tdirectory = *\n")  # the image's system-wide setting
    event = runner / "event.json"
    ws = Workspace(repo=repo, base_sha=base_sha, head_sha=head_sha)
    event.write_text(json.dumps(pr_payload(ws)))
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", str(base)], check=True)

    with FakeOpenAI() as openai_fake, FakeGitHub() as github:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head_sha, base_sha=base_sha)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(runner),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": str(repo.root),
            "GITHUB_SHA": "f" * 40,
            "GITHUB_API_URL": github.url,
            "GITHUB_RUN_ID": "4242",
            "GITHUB_OUTPUT": str(runner / "output.txt"),
            "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
            "RUNNER_TEMP": str(temp),
            "OPENAI_BASE_URL": openai_fake.base_url,
            "OPENAI_API_KEY": "test-key",
            "INPUT_GITHUB-TOKEN": "ghs_fake_installation_token_123",
            "INPUT_CHECK": "check-run",
            "INPUT_COMMENT": "always",
        }
        done = subprocess.run(
            [sys.executable, "-m", "evalbot", "action"],
            env=env,
            cwd=repo.root,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.umask(0o022),  # Docker's default umask for root
        )
        assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
        assert len(openai_fake.requests) == 10  # five examples, both sides: the cache is filled
        assert len(github.check_runs) == 1

    written = [
        p for p in base.rglob("*") if p.is_file() and p.stat().st_uid == 0 and ".git" not in p.parts
    ]
    names = {p.name for p in written}
    assert {"results.json", "comment.md", "junit.xml", "output.txt", "summary.md"} <= names
    # The ten answers are cached (wherever the cache lives: workspace or RUNNER_TEMP).
    [db] = [p for p in written if p.name == DB_NAME]
    assert len(list(ResponseCache(db.parent).keys())) >= 10
    assert _as_runner(repo.root, runner) == []
