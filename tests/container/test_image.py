"""The action's image, built by a real Docker engine and started the way GitHub's runner starts a
container action (tests/container/runner.py): the workspace mounted at /github/workspace and
owned by the runner's user (uid 1001), the runner's other mounts, ``GITHUB_*`` and ``INPUT_*``
variables, ``--network host`` to the loopback fakes, running as root.

Opt-in, because it builds an image: ``EVALBOT_CONTAINER_TESTS=1`` (``.ci/run`` sets it, and
starts an engine when one is installed). The base image must be present locally; where the
registry cannot be reached, ``scripts/standin_base_image.sh`` builds a stand-in from Debian
packages, tagged with the pinned base's name and tag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.action.conftest import PR, REPO, parse_outputs
from tests.container.runner import (
    IMAGE,
    base_commit,
    build_image,
    engine_problem,
    local_base_image,
    pinned_base_image,
    readable_by_runner,
    run_action,
    runner_dirs,
)
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo
from tests.planted import planted_responder

pytestmark = pytest.mark.skipif(
    os.environ.get("EVALBOT_CONTAINER_TESTS") != "1",
    reason="container tests are opt-in: EVALBOT_CONTAINER_TESTS=1 with a running Docker engine",
)


@pytest.fixture(scope="module")
def image() -> str:
    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    if os.geteuid() != 0:
        pytest.skip("needs root, as the runner's container does, to own files as uid 1001")
    base = local_base_image()
    if base is None:
        pytest.skip(
            f"base image {pinned_base_image()} is absent: pull it, or build a stand-in with"
            " scripts/standin_base_image.sh"
        )
    build = build_image(base)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return IMAGE


@pytest.fixture
def dirs() -> Iterator[dict[str, Path]]:
    with runner_dirs() as made:
        yield made


def test_planted_regression_in_the_container_as_the_runner_runs_it(
    image: str, dirs: dict[str, Path]
):
    repo = Repo(dirs["workspace"])
    base = base_commit(repo)
    repo.branch("feature")
    head = repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")

    with FakeGitHub() as github, FakeOpenAI(planted_responder) as llm:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        run = run_action(image, dirs, base=base, head=head, github=github, llm=llm)

        assert run.returncode == 1, run.log[-4000:]
        assert len(llm.requests) == 80
        [check] = github.check_runs.values()
        assert (check["conclusion"], check["head_sha"]) == ("failure", head)
        [comment] = github.comments_on(REPO, PR)
        assert comment["body"].startswith("<!-- evalbot:evalbot -->")
        outputs = parse_outputs((dirs["file_commands"] / "output").read_text())
        assert outputs["verdict"] == "fail"
        assert llm.api_key not in comment["body"] + json.dumps(check)

    results = dirs["workspace"] / "evalbot-results"
    assert (results / "results.json").is_file()
    assert (results / "results.json").stat().st_uid == 0  # written by the container's root
    # The steps after the container (upload-artifact, cache) run as the runner's user.
    assert readable_by_runner(list(dirs.values())) == []


def test_pr_touching_no_eval_input_passes_in_the_container_without_a_model_call(
    image: str, dirs: dict[str, Path]
):
    repo = Repo(dirs["workspace"])
    base = base_commit(repo)
    repo.branch("feature")
    head = repo.commit({"README.md": "docs only\n"}, "docs")

    with FakeGitHub() as github, FakeOpenAI(planted_responder) as llm:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        run = run_action(image, dirs, base=base, head=head, github=github, llm=llm)

        assert run.returncode == 0, run.log[-4000:]
        assert len(llm.requests) == 0
        [check] = github.check_runs.values()
        assert (check["conclusion"], check["head_sha"]) == ("success", head)
        outputs = parse_outputs((dirs["file_commands"] / "output").read_text())
        assert outputs["verdict"] == "pass"
    # A figure, not a bound (benchmarks/container_noop.py gives the median of several runs).
    print(f"no-op PR: docker run to exit in {run.wall_s:.2f} s")
