"""Issue 14: a PR cannot loosen the gate through the judge's calibration record or its labels.

The base branch holds a compressing judge and an honest calibration (tests/judges/
calibrated_world.py): the judge sees a 0.67-point drop, inside the 0.9 margin, that the labels
correct to about 2.2 human points, a regression. Each PR below regresses the same way and also
tries to make the correction go away. Run as the container runs: ``evalbot action``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalbot.cli.app import main as cli_main
from tests.action.conftest import PR, REPO, Workspace, actions_env
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.judges import calibrated_world as world
from tests.security.conftest import KEY, run_action

FORGED_LABELS = world.labels(lambda q: world.JUDGE_OF[q])
"""Human ratings rewritten to equal the judge's grades: the judge now looks perfect (slope 1)."""
NO_CALIBRATION = world.CONFIG.replace(", calibration: judges/helpful.json", "")

ATTACKS = {
    "honest PR (no attack)": {},
    "labels and record rewritten to a perfect judge": {
        "evals/helpful-labels.jsonl": FORGED_LABELS,
        "judges/helpful.json": world.record(FORGED_LABELS),
    },
    "calibration removed from evalbot.yml and deleted": {
        "evalbot.yml": NO_CALIBRATION,
        "judges/helpful.json": None,
    },
    "labels edited, record left stale": {"evals/helpful-labels.jsonl": FORGED_LABELS},
}


@pytest.fixture
def gh():
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        yield fake


@pytest.fixture
def llm():
    with FakeOpenAI(world.responder, api_key=KEY) as fake:
        yield fake


def _action(tmp_path: Path, llm: FakeOpenAI, github: FakeGitHub, files: dict[str, str | None]):
    repo, base, head = world.make_repo(tmp_path / "workspace", files)
    github.add_pull(REPO, PR, head_sha=head, base_sha=base)
    ws = Workspace(repo=repo, base_sha=base, head_sha=head)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = actions_env(
        tmp_path,
        ws,
        github,
        extra={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": KEY,
               "RUNNER_TEMP": str(runner_temp)},
    )  # fmt: skip
    return run_action(env, ws, github)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_pr_cannot_turn_a_corrected_regression_green(tmp_path, llm, gh, attack):
    out = _action(tmp_path, llm, gh, ATTACKS[attack])
    assert out.code == 1, out.log
    assert out.check["conclusion"] == "failure"
    [suite] = out.result.suites
    helpful = next(c for c in suite.comparisons if c.metric == "helpful")
    assert (helpful.verdict, helpful.gate) == ("regressed", "fail")
    # The base's record decided it, whatever the head's says.
    records = helpful.extra["judge_correction"]["records"]
    base_entry = next(r for r in records if r["source"] == "base")
    assert base_entry["status"] == "usable"
    assert base_entry["p_value"] < 0.05


def test_the_forged_record_alone_would_pass(tmp_path, llm, monkeypatch):
    """Control: the forgery is a real attack. `evalbot diff` on a developer's machine trusts the
    repository (no base record), and the forged calibration lets the regression through."""
    repo, _, _ = world.make_repo(
        tmp_path / "repo", ATTACKS["labels and record rewritten to a perfect judge"]
    )
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "out"
    code = cli_main(["diff", "-C", str(repo.root), "--base", "main", "--out", str(out), "-q"])
    assert code == 0
