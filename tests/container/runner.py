"""GitHub's runner, as far as a container action sees it: build the action's image with a real
Docker engine and start it the way the runner does (workspace mounted at /github/workspace and
owned by the runner's user, uid 1001; /github/home, /github/workflow and /github/file_commands
mounted; ``GITHUB_*`` and ``INPUT_*`` variables; ``--network host`` to the loopback fakes; root).

Shared by tests/container and benchmarks/container_noop.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.action.conftest import PR, REPO
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo
from tests.planted import PLANTED_CONFIG

ROOT = Path(__file__).resolve().parents[2]
# Checkouts that share an engine can build under their own tag.
IMAGE = os.environ.get("EVALBOT_TEST_IMAGE", "evalbot-test:local")
RUNNER_UID = 1001

CONFIG = PLANTED_CONFIG


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def engine_problem() -> str | None:
    """Why no image can be built here, or None."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    if docker("info", check=False).returncode != 0:
        return "no Docker engine answers (start dockerd first)"
    return None


def pinned_base_image() -> str:
    """The Dockerfile's default base image, as pinned (name:tag@sha256:digest)."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG BASE_IMAGE="):
            return line.split("=", 1)[1].strip()
        if line.upper().startswith("FROM "):
            return line.split()[1]
    raise AssertionError("the Dockerfile names no base image")


def local_base_image() -> str | None:
    """The base image to build on: the pinned one when it is present, else a stand-in tagged with
    its name and tag (scripts/standin_base_image.sh; a local image cannot carry a registry
    digest), else None."""
    pinned = pinned_base_image()
    for candidate in (pinned, pinned.split("@", 1)[0]):
        if docker("image", "inspect", candidate, check=False).returncode == 0:
            return candidate
    return None


def build_image(base: str, tag: str = IMAGE) -> subprocess.CompletedProcess:
    args = ["build", "--network", "host", "-t", tag]
    if base != pinned_base_image():
        args += ["--build-arg", f"BASE_IMAGE={base}"]
    return docker(*args, str(ROOT), timeout=1800, check=False)


def image_size(ref: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref).stdout)


@contextmanager
def runner_dirs() -> Iterator[dict[str, Path]]:
    # Not under pytest's tmp root: that is 0700 root, which uid 1001 could not even enter.
    top = Path(tempfile.mkdtemp(prefix="evalbot-runner-"))
    top.chmod(0o755)
    dirs = {name: top / name for name in ("workspace", "home", "workflow", "file_commands")}
    try:
        yield dirs
    finally:
        shutil.rmtree(top, ignore_errors=True)


def base_commit(repo: Repo) -> str:
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(40))
    return repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )


@dataclass
class ContainerRun:
    returncode: int
    log: str
    wall_s: float  # from `docker run` to its exit


def run_action(
    image: str,
    dirs: dict[str, Path],
    *,
    base: str,
    head: str,
    github: FakeGitHub,
    llm: FakeOpenAI,
    entrypoint: tuple[str, ...] = (),
) -> ContainerRun:
    """One `pull_request` job step running the action's container, as the runner starts it.
    ``entrypoint`` replaces the image's (its first word with --entrypoint, the rest as args)."""
    for name in ("home", "workflow", "file_commands"):
        dirs[name].mkdir(exist_ok=True)
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
    (dirs["workflow"] / "event.json").write_text(json.dumps(event))
    for name in ("output", "summary"):
        (dirs["file_commands"] / name).write_text("")
    subprocess.run(["chown", "-R", f"{RUNNER_UID}:{RUNNER_UID}", *map(str, dirs.values())])
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
        args += ["-v", f"{dirs[name]}:{target}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    if entrypoint:
        args += ["--entrypoint", entrypoint[0]]
    start = time.perf_counter()
    proc = docker(*args, image, *entrypoint[1:], timeout=600, check=False)
    wall = time.perf_counter() - start
    return ContainerRun(proc.returncode, proc.stdout + proc.stderr, wall)


def readable_by_runner(paths: list[Path]) -> list[str]:
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
    return [line for line in proc.stdout.splitlines() if line]
