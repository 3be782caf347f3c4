"""The action's image, built by a real Docker engine and started the way GitHub's runner starts a
container action: the workspace mounted at /github/workspace and owned by the runner's user
(uid 1001), /github/home, /github/workflow and /github/file_commands mounted, ``GITHUB_*`` and
``INPUT_*`` variables, ``--network host`` to the loopback fakes, running as root.

Opt-in, because it builds an image: ``EVALBOT_CONTAINER_TESTS=1`` (``.ci/run`` sets it when it
can start an engine). The base image must be present locally; where the registry cannot be
reached, ``scripts/standin_base_image.sh`` builds a stand-in from Debian packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.action.conftest import PR, REPO, parse_outputs
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "evalbot-test:local"
RUNNER_UID = 1001

pytestmark = pytest.mark.skipif(
    os.environ.get("EVALBOT_CONTAINER_TESTS") != "1",
    reason="container tests are opt-in: EVALBOT_CONTAINER_TESTS=1 with a running Docker engine",
)


def _docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def _base_image() -> str:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG BASE_IMAGE="):
            return line.split("=", 1)[1].strip()
        if line.upper().startswith("FROM "):
            return line.split()[1]
    raise AssertionError("the Dockerfile names no base image")


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine answers (start dockerd first)")
    if os.geteuid() != 0:
        pytest.skip("needs root, as the runner's container does, to own files as uid 1001")
    base = _base_image()
    if _docker("image", "inspect", base, check=False).returncode != 0:
        pytest.skip(f"base image {base} is absent: build it with scripts/standin_base_image.sh")
    build = _docker("build", "--network", "host", "-t", IMAGE, str(ROOT), timeout=1800, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return IMAGE


CONFIG = """\
version: 1
suites:
  - name: answers
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
    thresholds:
      correct: {min: 0.8, max_drop: 0.02}
"""


def _planted(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    word = prompt.rsplit(" ", 1)[-1]
    if prompt.startswith("Be vague.") and int(word.removeprefix("w")) % 2:
        return "Happy to help!"
    return f"It is {word}"


@pytest.fixture
def runner_dirs() -> Iterator[dict[str, Path]]:
    # Not under pytest's tmp root: that is 0700 root, which uid 1001 could not even enter.
    top = Path(tempfile.mkdtemp(prefix="evalbot-runner-"))
    top.chmod(0o755)
    dirs = {name: top / name for name in ("workspace", "home", "workflow", "file_commands")}
    yield dirs
    shutil.rmtree(top, ignore_errors=True)


def _readable_by_runner(paths: list[Path]) -> list[str]:
    """Paths uid 1001 cannot read (files) or enter (directories)."""
    script = (
        "import os, sys\n"
        "bad = []\n"
        "for top in sys.argv[1:]:\n"
        "    for d, subdirs, files in os.walk(top, onerror=lambda e: bad.append(e.filename)):\n"
        "        if not os.access(d, os.R_OK | os.X_OK): bad.append(d)\n"
        "        for f in files:\n"
        "            p = os.path.join(d, f)\n"
        "            try: open(p, 'rb').close()\n"
        "            except OSError: bad.append(p)\n"
        "print('\\n'.join(bad))\n"
    )
    setpriv = ["setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_UID}", "--clear-groups"]
    proc = subprocess.run(
        [*setpriv, "python3", "-c", script, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    bad = [line for line in proc.stdout.splitlines() if line]
    return bad


def test_planted_regression_in_the_container_as_the_runner_runs_it(
    image: str, runner_dirs: dict[str, Path]
):
    workspace = runner_dirs["workspace"]
    repo = Repo(workspace)
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(40))
    base = repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("feature")
    head = repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")
    for name in ("home", "workflow", "file_commands"):
        runner_dirs[name].mkdir()
    event = {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"sha": head, "ref": "feature", "repo": {"full_name": REPO}},
            "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    (runner_dirs["workflow"] / "event.json").write_text(json.dumps(event))
    for name in ("output", "summary"):
        (runner_dirs["file_commands"] / name).touch()
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", *map(str, runner_dirs.values())])

    with FakeGitHub() as github, FakeOpenAI(_planted) as llm:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_SHA": "f" * 40,
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_OUTPUT": "/github/file_commands/output",
            "GITHUB_STEP_SUMMARY": "/github/file_commands/summary",
            "HOME": "/github/home",
            "RUNNER_TEMP": "/home/runner/work/_temp",  # a host path the container cannot see
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": llm.api_key,
            "INPUT_GITHUB-TOKEN": "ghs_container_test_token",
            "INPUT_ALLOWED-HOSTS": "127.0.0.1",
        }
        mounts = {
            "workspace": "/github/workspace",
            "home": "/github/home",
            "workflow": "/github/workflow",
            "file_commands": "/github/file_commands",
        }
        args = ["run", "--rm", "--network", "host", "--workdir", "/github/workspace"]
        for name, target in mounts.items():
            args += ["-v", f"{runner_dirs[name]}:{target}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        proc = _docker(*args, image, timeout=600, check=False)
        log = proc.stdout + proc.stderr

        assert proc.returncode == 1, log[-4000:]
        assert len(llm.requests) == 80
        [check] = github.check_runs.values()
        assert (check["conclusion"], check["head_sha"]) == ("failure", head)
        [comment] = github.comments_on(REPO, PR)
        assert comment["body"].startswith("<!-- evalbot:evalbot -->")
        outputs = parse_outputs((runner_dirs["file_commands"] / "output").read_text())
        assert outputs["verdict"] == "fail"
        assert llm.api_key not in comment["body"] + json.dumps(check)

    results = workspace / "evalbot-results"
    assert (results / "results.json").is_file()
    assert (results / "results.json").stat().st_uid == 0  # written by the container's root
    # The steps after the container (upload-artifact, cache) run as the runner's user.
    assert _readable_by_runner(list(runner_dirs.values())) == []
