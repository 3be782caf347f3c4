"""The action's image: its size, and the wall time of a PR that touches no eval input, from
`docker run` to exit, started as GitHub's runner starts the container (tests/container/runner.py).

    python benchmarks/container_noop.py [--runs 5] [--no-build]

Needs a running Docker engine, root (the workspace is handed to uid 1001 as on a runner) and the
base image, or its stand-in (scripts/standin_base_image.sh). Builds evalbot-test:local from the
Dockerfile first unless --no-build. Prints the image size, the size it adds over its base (what a
runner pulls besides a cached base) and the median no-op wall time; each run also checks the
result (exit 0, a passing check, no model call), so a broken image cannot give a fast figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.*

from tests.action.conftest import PR, REPO  # noqa: E402
from tests.container.runner import (  # noqa: E402
    IMAGE,
    base_commit,
    build_image,
    engine_problem,
    image_size,
    local_base_image,
    pinned_base_image,
    run_action,
    runner_dirs,
)
from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.gitrepo import Repo  # noqa: E402


def _noop_once() -> float:
    with runner_dirs() as dirs, FakeGitHub() as github, FakeOpenAI() as llm:
        repo = Repo(dirs["workspace"])
        base = base_commit(repo)
        repo.branch("feature")
        head = repo.commit({"README.md": "docs only\n"}, "docs")
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        run = run_action(IMAGE, dirs, base=base, head=head, github=github, llm=llm)
        [check] = github.check_runs.values()
        if run.returncode != 0 or llm.requests or check["conclusion"] != "success":
            sys.exit(f"the no-op run did not pass (exit {run.returncode}):\n{run.log[-3000:]}")
        return run.wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-build", action="store_true", help=f"use the existing {IMAGE}")
    args = parser.parse_args()

    problem = engine_problem()
    if problem:
        sys.exit(problem)
    base = local_base_image()
    if base is None:
        sys.exit(f"base image {pinned_base_image()} is absent (scripts/standin_base_image.sh)")
    if not args.no_build:
        build = build_image(base)
        if build.returncode != 0:
            sys.exit(build.stdout[-3000:] + build.stderr[-3000:])

    size, base_size = image_size(IMAGE), image_size(base)
    print(f"base image     {base}")
    print(f"image size     {size / 1e6:.0f} MB ({IMAGE})")
    print(f"added to base  {(size - base_size) / 1e6:.0f} MB (base {base_size / 1e6:.0f} MB)")
    walls = [_noop_once() for _ in range(args.runs)]
    runs = " ".join(f"{w:.2f}" for w in walls)
    print(f"no-op PR       median {statistics.median(walls):.2f} s of {args.runs} runs ({runs})")


if __name__ == "__main__":
    main()
