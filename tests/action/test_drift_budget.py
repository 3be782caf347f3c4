"""The drift budget end to end, as the container runs it: ``evalbot action`` on a real git history
where six PRs in a row each lose 1.5 points of ``correct``. Every PR is within its own 2-point
margin; the comparison with the pinned baseline (tag v1.0, ``max_total_drop`` 3 points) fails by
the fifth PR at the latest. A PR cannot loosen the budget in its own run."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from evalbot.github import action
from evalbot.records import GateStatus, RunResult, SuiteResult
from tests.action.conftest import REPO, Workspace, actions_env, fast_github, pr_payload
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 200
STEP = 3
"""Examples lost per PR: 3 of 200 is 1.5 points."""

CONFIG = """\
version: 1
gate: {{baseline: {baseline}}}
suites:
  - name: answers
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    metrics:
      - {{name: correct, type: contains, value: "{{{{expected}}}}"}}
    thresholds:
      correct: {{max_drop: 0.02, {budget}}}
"""


def config(baseline: str = "v1.0", budget: str = "max_total_drop: 0.03") -> str:
    return CONFIG.format(baseline=baseline, budget=budget)


def prompt(level: int) -> str:
    return f"Level {level}. Answer {{{{n}}}}: w{{{{n}}}}\n"


def drifting_responder(body: dict) -> str:
    """Deterministic: at prompt level k, examples 0 … 3k−1 are answered wrong."""
    text = body["messages"][-1]["content"]
    level = int(re.match(r"Level (\d+)\.", text).group(1))  # type: ignore[union-attr]
    word = text.rsplit(" ", 1)[-1]
    return "Happy to help!" if int(word.removeprefix("w")) < STEP * level else f"It is {word}"


def _release(tmp_path: Path, n: int) -> Repo:
    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(n))
    repo.commit(
        {
            ".gitignore": "evalbot-results/\n",
            "evalbot.yml": config(),
            "prompts/answers.md": prompt(0),
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "release",
    )
    repo.git("tag", "v1.0")
    return repo


@pytest.fixture
def history(tmp_path: Path) -> Repo:
    return _release(tmp_path, N)


@pytest.fixture
def small_history(tmp_path: Path) -> Repo:
    """100 examples: each level loses 3 points, enough for the attacks below (and faster)."""
    return _release(tmp_path, 100)


def _pr(
    tmp_path: Path,
    repo: Repo,
    github: FakeGitHub,
    llm: FakeOpenAI,
    number: int,
    files: dict[str, str | None],
) -> tuple[int, RunResult, str]:
    """Open PR ``number`` from main with ``files`` changed, run the action on it."""
    base = repo.git("rev-parse", "main")
    repo.branch(f"pr-{number}")
    head = repo.commit(files, f"pr {number}")
    ws = Workspace(repo=repo, base_sha=base, head_sha=head)
    github.add_pull(REPO, number, head_sha=head, base_sha=base)
    env = actions_env(
        tmp_path,
        ws,
        github,
        payload=pr_payload(ws, number=number),
        extra={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test-key"},
        inputs={"allowed-hosts": "127.0.0.1"},
    )
    code = action.main(env, github_factory=fast_github, stdout=io.StringIO())
    result = RunResult.model_validate_json((repo.root / "evalbot-results/results.json").read_text())
    [comment] = github.comments_on(REPO, number)
    return code, result, comment["body"]


def _merge(repo: Repo, number: int) -> None:
    repo.checkout("main")
    repo.git("merge", "-q", "--ff-only", f"pr-{number}")


def _correct(suite: SuiteResult, *, drift: bool = False):
    rows = suite.drift.comparisons if drift and suite.drift else suite.comparisons
    return next(c for c in rows if c.metric == "correct")


def test_six_small_drops_pass_their_own_margin_and_the_drift_gate_fails_by_the_fifth(
    tmp_path: Path, history: Repo, github: FakeGitHub
):
    drift_failed_at = None
    with FakeOpenAI(drifting_responder) as llm:
        for k in range(1, 7):
            sent_before = len(llm.requests)
            code, result, comment = _pr(
                tmp_path, history, github, llm, k, {"prompts/answers.md": prompt(k)}
            )
            [suite] = result.suites
            own = _correct(suite)
            assert own.gate != GateStatus.FAIL, (k, own)
            assert own.delta == pytest.approx(-STEP / N)
            assert suite.drift is not None and suite.drift.n == N
            since = _correct(suite, drift=True)
            assert since.delta == pytest.approx(-STEP * k / N)
            assert "Since the baseline `v1.0`" in comment
            # The baseline answers as the base did on the first PR (same prompt: one cache entry)
            # and later the base side is the previous head: only the head's calls go out.
            assert len(llm.requests) - sent_before == (2 * N if k == 1 else N)
            if since.gate == GateStatus.FAIL:
                assert (code, result.verdict, suite.gate) == (1, "fail", GateStatus.FAIL)
                assert "Drift budget exceeded: correct" in comment
                drift_failed_at = drift_failed_at or k
            else:
                assert drift_failed_at is None, "once over budget, drift stays over budget"
                assert (code, result.verdict) == (0, "pass")
            _merge(history, k)
    assert drift_failed_at is not None and drift_failed_at <= 5


def _drift_to(history: Repo, level: int) -> None:
    """Main moves to prompt ``level`` without running the gate (say, merged by an admin)."""
    history.commit({"prompts/answers.md": prompt(level)}, f"level {level}")


@pytest.mark.parametrize(
    ("edit", "loosened"),
    [
        (config(baseline="v2.0"), "gate baseline v1.0 → v2.0"),
        (config(budget="max_total_drop: 0.5"), "correct max_total_drop 0.03 → 0.5"),
        (config(budget="blocking: true"), "correct max_total_drop 0.03 → none"),
        (config().replace("gate: {baseline: v1.0}\n", ""), "gate baseline v1.0 → none"),
    ],
    ids=["moves-baseline", "raises-budget", "drops-budget", "drops-baseline"],
)
def test_a_pr_cannot_loosen_the_drift_budget_in_its_own_run(
    tmp_path: Path, small_history: Repo, github: FakeGitHub, edit: str, loosened: str
):
    history = small_history
    _drift_to(history, 3)  # 9 points below v1.0 already (merged without the gate)
    history.git("tag", "v2.0")
    with FakeOpenAI(drifting_responder) as llm:
        files = {"prompts/answers.md": prompt(4), "evalbot.yml": edit}
        code, result, comment = _pr(tmp_path, history, github, llm, 1, files)
    [suite] = result.suites
    assert _correct(suite).gate != GateStatus.FAIL  # 3 of 100: not shown beyond its margin
    assert suite.drift is not None and suite.drift.baseline_rev == "v1.0"
    since = _correct(suite, drift=True)
    assert since.max_drop == pytest.approx(0.03)
    assert since.gate == GateStatus.FAIL
    assert (code, result.verdict) == (1, "fail")
    assert any(loosened in note for note in result.notes), result.notes
    assert "base's" in comment


def test_an_unknown_baseline_fails_closed_with_one_line(
    tmp_path: Path, small_history: Repo, github: FakeGitHub
):
    history = small_history
    history.commit({"evalbot.yml": config(baseline="v9.9")}, "pin a release not fetched")
    with FakeOpenAI(drifting_responder) as llm:
        code, result, comment = _pr(
            tmp_path, history, github, llm, 1, {"prompts/answers.md": prompt(1)}
        )
    assert code == 2 and result.verdict == "error"
    assert "gate.baseline 'v9.9'" in comment and "fetch-depth: 0" in comment
    assert not llm.requests


def test_a_changed_golden_set_is_paired_on_the_ids_both_have(
    tmp_path: Path, small_history: Repo, github: FakeGitHub
):
    """The PR drops 10 examples and adds 20: the drift comparison pairs the 90 ids the head's
    golden set shares with the baseline's, and says so."""
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(10, 120))
    with FakeOpenAI(drifting_responder) as llm:
        files = {"prompts/answers.md": prompt(1), "evals/answers.jsonl": rows}
        code, result, comment = _pr(tmp_path, small_history, github, llm, 1, files)
    [suite] = result.suites
    assert suite.drift is not None and (suite.drift.n, suite.drift.n_head) == (90, 110)
    assert _correct(suite, drift=True).n == 90
    note = "pairs the 90 of 110 example ids present in both"
    assert any(note in n for n in suite.drift.notes) and note in comment
    assert (code, result.verdict) == (0, "pass")  # level 1 loses e0-e2, which the PR removed


def test_a_sequential_run_checks_the_drift_budget_on_the_examples_it_evaluated(
    tmp_path: Path, small_history: Repo, github: FakeGitHub
):
    _drift_to(small_history, 3)
    sequential = config().replace(
        "gate: {baseline: v1.0}", "gate: {baseline: v1.0, sequential: true}"
    )
    small_history.commit({"evalbot.yml": sequential}, "sequential")
    with FakeOpenAI(drifting_responder) as llm:
        code, result, _ = _pr(
            tmp_path, small_history, github, llm, 1, {"prompts/answers.md": prompt(4)}
        )
    [suite] = result.suites
    assert suite.head is not None and suite.drift is not None
    assert suite.drift.n == len(suite.head.example_ids) == _correct(suite, drift=True).n
    assert suite.drift.example_ids == suite.head.example_ids
    assert _correct(suite, drift=True).delta < -0.09
    assert (code, result.verdict, suite.gate) == (1, "fail", GateStatus.FAIL)
