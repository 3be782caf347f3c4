"""The action's image: its size, and the wall time of a PR that touches no eval input, from
`docker run` to exit, started as GitHub's runner starts the container (tests/container/runner.py).

    python benchmarks/container_noop.py [--runs 5] [--no-build]

Needs a running Docker engine, root (the workspace is handed to uid 1001 as on a runner) and the
base image, or its stand-in (scripts/standin_base_image.sh). Builds evalbot-test:local from the
Dockerfile first unless --no-build. Prints the image size, the size it adds over its base, the
median no-op wall time, the part of it spent in `evalbot action` inside the container (wall, from
its process start, and CPU), and, for scale, the median wall time of `docker run` of `true` in
the same image: what the engine itself costs to create and remove a container (large on the vfs
storage driver, which copies the whole image for every container; small on overlay2, as on a
runner). Each no-op run also checks the result (exit 0, a passing check, no model call), so a
broken image cannot give a fast figure. Last, the CPU of `evalbot --version` and `evalbot
validate` on the example inside the image (the installed program, as a step pays it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.*

from tests.action.conftest import PR, REPO  # noqa: E402
from tests.container.runner import (  # noqa: E402
    IMAGE,
    base_commit,
    build_image,
    docker,
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

# The image's entrypoint, timed from inside the container: wall time from the process start to
# its exit, and its CPU (user + system, git's included).
TIMED = (
    "/opt/evalbot/bin/python",
    "-c",
    "import os, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "proc = subprocess.Popen(['/opt/evalbot/bin/evalbot', 'action'])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "print(f'evalbot-action-seconds={time.perf_counter() - t:.3f}', file=sys.stderr)\n"
    "print(f'evalbot-action-cpu={usage.ru_utime + usage.ru_stime:.3f}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n",
)


def _noop_once() -> tuple[float, float, float]:
    with runner_dirs() as dirs, FakeGitHub() as github, FakeOpenAI() as llm:
        repo = Repo(dirs["workspace"])
        base = base_commit(repo)
        repo.branch("feature")
        head = repo.commit({"README.md": "docs only\n"}, "docs")
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        run = run_action(
            IMAGE, dirs, base=base, head=head, github=github, llm=llm, entrypoint=TIMED
        )
        [check] = github.check_runs.values()
        if run.returncode != 0 or llm.requests or check["conclusion"] != "success":
            sys.exit(f"the no-op run did not pass (exit {run.returncode}):\n{run.log[-3000:]}")
        inner = float(run.log.rsplit("evalbot-action-seconds=", 1)[1].split()[0])
        cpu = float(run.log.rsplit("evalbot-action-cpu=", 1)[1].split()[0])
        return run.wall_s, inner, cpu


# Start-up CPU of the installed program (compiled bytecode, no editable-install finder, only
# runtime packages: what a runner's step pays), `--version` and `validate` on the example.
STARTUP = (
    "import os, subprocess\n"
    "commands = (('--version', ['--version']), ('validate', ['validate', '-C', '/example']))\n"
    "for name, args in commands:\n"
    "    proc = subprocess.Popen(['/opt/evalbot/bin/evalbot', *args], stdout=subprocess.DEVNULL)\n"
    "    _, status, usage = os.wait4(proc.pid, 0)\n"
    "    assert os.waitstatus_to_exitcode(status) == 0, name\n"
    "    print(name, f'{usage.ru_utime + usage.ru_stime:.3f}')\n"
)


def _startup_once() -> dict[str, float]:
    example = ROOT / "examples" / "support-bot" / "repo"
    out = docker(
        "run", "--rm", "--network", "none", "-v", f"{example}:/example:ro",
        "--entrypoint", "/opt/evalbot/bin/python", IMAGE, "-c", STARTUP,
    ).stdout  # fmt: skip
    return {name: float(cpu) for name, cpu in (line.split() for line in out.splitlines())}


def _empty_once() -> float:
    start = time.perf_counter()
    docker("run", "--rm", "--network", "host", "--entrypoint", "true", IMAGE)
    return time.perf_counter() - start


def _line(label: str, walls: list[float]) -> str:
    runs = " ".join(f"{w:.2f}" for w in walls)
    return f"{label:<15}median {statistics.median(walls):.2f} s of {len(walls)} runs ({runs})"


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
    driver = docker("info", "--format", "{{.Driver}}").stdout.strip()
    print(f"base image     {base} (storage driver {driver})")
    print(f"image size     {size / 1e6:.0f} MB ({IMAGE})")
    print(f"added to base  {(size - base_size) / 1e6:.0f} MB (base {base_size / 1e6:.0f} MB)")
    noop = [_noop_once() for _ in range(args.runs)]
    print(_line("no-op PR", [wall for wall, _, _ in noop]))
    print(_line("  in evalbot", [inner for _, inner, _ in noop]))
    print(_line("  its CPU", [cpu for _, _, cpu in noop]))
    print(_line("empty `true`", [_empty_once() for _ in range(args.runs)]))
    startup = [_startup_once() for _ in range(max(args.runs, 7))]
    for name in ("--version", "validate"):
        print(_line(f"{name} CPU", [run[name] for run in startup]))


if __name__ == "__main__":
    main()
