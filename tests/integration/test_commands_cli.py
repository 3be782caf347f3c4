"""Commands do what they say: ``run`` reports values with intervals, a new suite gets its
head-only table in ``diff``, and "regression" means one thing everywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evalbot.cli import main
from evalbot.github import publish
from evalbot.records import RunResult, Verdict
from evalbot.run.cache import ResponseCache
from tests.action.conftest import PR, REPO, TOKEN, fast_github, parse_outputs
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-bot"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example") / "support-bot"
    subprocess.run(
        [sys.executable, str(EXAMPLE / "make_repo.py"), str(root)], check=True, capture_output=True
    )
    return root


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_every_metric_value_with_its_interval(example, tmp_path, capsys):
    code, out, _ = _cli(
        capsys, "run", "-C", str(example), "--rev", "pr", "--offline", "--out", str(tmp_path)
    )
    assert code == 1, out  # correct 65.8% is below its min of 80%
    result = RunResult.model_validate_json((tmp_path / "results.json").read_text())
    triage = next(s for s in result.suites if s.name == "ticket-triage")
    category = next(v for v in triage.values if v.metric == "category")
    # One 0/1 sample per example: the Wilson interval of the proportion, at 1 - 2 alpha.
    assert category.method == "Wilson" and category.confidence == pytest.approx(0.90)
    assert category.low < category.value < category.high
    k = round(category.value * category.n)
    from evalbot.stats.intervals import wilson_interval

    assert (category.low, category.high) == pytest.approx(wilson_interval(k / category.n, 64, 0.9))
    row = next(line for line in out.splitlines() if line.strip().startswith("category"))
    low, high = f"{category.low:.1%}", f"{category.high:.1%}"
    assert f"[{low}, {high}]" in row, row
    # Scores and latency get an interval too, in their own units.
    assert re.search(r"^\s+helpful\s+4\.\d\d\s+\[4\.\d\d, 4\.\d\d\]", out, re.M), out
    assert re.search(r"^\s+latency_ms\s+[\d.]+ s\s+\[[\d.]+, [\d.]+\] s", out, re.M), out
    assert "CI: 90% two-sided interval of the value" in out
    comment = (tmp_path / "comment.md").read_text()
    assert "| Metric " in comment and f"[{low}, {high}]" in comment
    # Wording for one revision: no "new suite", no "--all" trigger.
    assert "new suite" not in comment and "Triggered by" not in comment
    assert "new suite" not in out and "--all" not in out


def test_a_new_suite_in_diff_gets_the_head_only_table(tmp_path, capsys):
    suite = {
        "prompt": "p.md",
        "model": "m.yaml",
        "dataset": "d.jsonl",
        "metrics": [{"name": "said", "type": "contains", "value": "question"}],
    }
    repo = Repo(tmp_path / "repo")
    files = {
        "evalbot.yml": json.dumps({"version": 1, "suites": [{"name": "old", **suite}]}),
        "p.md": "Answer: {{question}}\n",
        "m.yaml": "provider: openai\nmodel: fake-model\n",
        "d.jsonl": "".join(
            json.dumps({"id": f"q{i}", "question": f"q{i}"}) + "\n" for i in range(12)
        ),
    }
    repo.commit(files, "base")
    repo.branch("pr")
    both = [{"name": "old", **suite}, {"name": "fresh", **suite}]
    repo.commit({"evalbot.yml": json.dumps({"version": 1, "suites": both})}, "add a suite")
    with FakeOpenAI(responder=lambda body: "about your question") as fake:
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            mp.delenv("GITHUB_ACTIONS", raising=False)
            code, out, err = _cli(
                capsys,
                *("diff", "-C", str(repo.root), "--base", "main", "--head", "pr"),
                *("--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")),
            )
    assert code == 0, out + err
    assert "fresh: PASS (new suite: absolute thresholds only)" in out
    section = out.split("fresh: PASS", 1)[1]
    assert re.search(r"^\s+said\s+100\.0%\s+\[\d+\.\d%, 100\.0%\]\s+12$", section, re.M), section
    comment = (tmp_path / "out" / "comment.md").read_text()
    fresh = comment.split("fresh: pass", 1)[1]
    assert re.search(r"^\| Metric +\| Value +\| CI +\| n +\|$", fresh, re.M), fresh
    assert re.search(r"^\| said +\| 100\.0% +\| \[\d+\.\d%, 100\.0%\] +\| 12 +\|$", fresh, re.M)


def _publish_outputs(results: Path, result: RunResult, tmp_path: Path) -> dict[str, str]:
    with FakeGitHub() as github:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=result.head_sha, base_sha=result.base_sha)
        event = {
            "workflow_run": {
                "id": 99,
                "event": "pull_request",
                "head_sha": result.head_sha,
                "head_branch": "feature",
                "html_url": "https://github.example/octo/app/actions/runs/99",
                "head_repository": {"full_name": REPO, "owner": {"login": REPO.split("/")[0]}},
                "pull_requests": [{"number": PR}],
            },
            "repository": {"full_name": REPO, "default_branch": "main"},
        }
        (tmp_path / "event.json").write_text(json.dumps(event))
        env = {
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": str(tmp_path),
            "GITHUB_API_URL": github.url,
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
            "INPUT_GITHUB-TOKEN": TOKEN,
        }
        publish.publish_command(results, env=env, stdout=sys.stderr, github_factory=fast_github)
        [check] = github.check_runs.values()
    outputs = parse_outputs((tmp_path / "output.txt").read_text())
    outputs["check title"] = check["output"]["title"]
    return outputs


def test_one_meaning_of_regression_in_the_headline_the_table_and_the_output(
    example, tmp_path, capsys
):
    out_dir = tmp_path / "out"
    code, out, _ = _cli(
        capsys,
        *("diff", "-C", str(example), "--base", "main", "--head", "pr", "--offline"),
        *("--out", str(out_dir)),
    )
    assert code == 1, out
    result = RunResult.model_validate_json((out_dir / "results.json").read_text())
    regressed = [c for s in result.suites for c in s.comparisons if c.verdict == Verdict.REGRESSED]
    # The example: `correct` (blocking, fails the gate) and `cites_policy` (informational).
    assert sorted(c.metric for c in regressed) == ["cites_policy", "correct"]
    headline = out.splitlines()[0]
    assert "2 regressions (1 blocking)" in headline, headline
    table_rows = [line for line in out.splitlines() if re.search(r"\bregressed\b", line)]
    assert len(table_rows) == 2
    comment = (out_dir / "comment.md").read_text()
    assert "2 regressions (1 blocking)" in comment.splitlines()[1]
    assert len(re.findall(r"^\|[^\n]*regressed", comment, re.M)) == 2
    outputs = _publish_outputs(out_dir, result, tmp_path)
    assert outputs["regressions"] == "2"
    # The check title of results read from an artifact counts the same rows.
    assert "2 regression(s)" in outputs["check title"]


def test_dry_run_says_which_suites_would_run_why_and_their_planned_calls_and_cost(
    example, tmp_path, capsys
):
    args = ("diff", "-C", str(example), "--base", "main", "--head", "pr", "--dry-run")
    code, out, _ = _cli(capsys, *args, "--out", str(tmp_path / "a"))
    assert code == 0, out
    assert out.startswith(
        "evalbot: NEUTRAL - dry run (no model call) - 1 suite would run, 1 skipped"
    )
    assert "would run: support-answers (triggered by: prompts/support.yaml)" in out
    # The example ships its answers in the cache: a rerun would send nothing.
    assert "74 examples × 3 samples × 2 sides (base+head) = 444 calls, 444 cached, 0 to send" in out
    assert "skipped: ticket-triage" in out
    # With an empty cache every call is to send, at a cost from the model config's prices.
    code, out, _ = _cli(
        capsys, *args, "--all", "--out", str(tmp_path / "b"), "--cache-dir", str(tmp_path / "c")
    )
    assert code == 0, out
    planned = re.search(r"444 calls, 0 cached, 444 to send, est\. ≈\$(\d+\.\d+)", out)
    assert planned and float(planned.group(1)) > 0, out
    assert "would run: ticket-triage (triggered by: --all)" in out
    assert "64 examples × 1 sample × 2 sides (base+head) = 128 calls" in out
    assert not any(ResponseCache(tmp_path / "c").keys())  # nothing was asked of a model
    comment = (tmp_path / "b" / "comment.md").read_text()
    assert "Planned: 74 examples × 3 samples × 2 sides" in comment
