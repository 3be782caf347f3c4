"""``evalbot action`` end to end, as the container runs it, with a stand-in diff function.

Real: the event file, ``GITHUB_*`` variables, the git workspace, PyGithub against the loopback
fake, the report renderer, ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files. Stand-in: the
pipeline's ``run_diff`` (see test_pipeline_e2e.py for the real one).
"""

from __future__ import annotations

from pathlib import Path

from evalbot.records import RunResult, SuiteStatus, Usage
from tests.action.conftest import (
    API_KEY,
    PR,
    REPO,
    TOKEN,
    StandInDiff,
    Workspace,
    actions_env,
    passing_result,
    pr_payload,
    regressed_result,
    run_action,
)
from tests.fakes.github_server import FakeGitHub

MARKER = "<!-- evalbot:evalbot -->"


def test_two_runs_leave_exactly_one_comment_edited_in_place(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(tmp_path, workspace, github)
    first = run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    assert first.code == 1
    [comment] = github.comments_on(REPO, PR)
    assert comment["body"].startswith(MARKER + "\n")
    assert "fail" in comment["body"]

    second = run_action(env, StandInDiff(lambda o: passing_result(workspace)))
    assert second.code == 0
    [edited] = github.comments_on(REPO, PR)
    assert edited["id"] == comment["id"]
    assert "pass" in edited["body"].split("\n")[1]
    assert [w.method for w in github.writes() if "/comments" in w.path] == ["POST", "PATCH"]


def test_diff_gets_pr_head_and_base_never_the_merge_commit(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    diff = StandInDiff(lambda o: passing_result(workspace))
    env = actions_env(
        tmp_path,
        workspace,
        github,
        inputs={"SUITES": "support-answers", "SAMPLES": "2", "CACHE-DIR": ".cache/e"},
    )
    run_action(env, diff)
    [options] = diff.calls
    assert (options.base, options.head) == (workspace.base_sha, workspace.head_sha)
    assert options.repo_root == workspace.root.resolve()
    assert options.suites == ("support-answers",)
    assert options.samples == 2
    assert options.cache_dir == workspace.root.resolve() / ".cache/e"
    assert options.details_url == "https://github.example/octo/app/actions/runs/4242"
    assert all(run["head_sha"] == workspace.head_sha for run in github.check_runs.values())
    assert "f" * 40 not in str([r.path for r in github.requests])


def test_failing_check_run_carries_annotations_on_the_changed_prompt(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    run = run_action(
        actions_env(tmp_path, workspace, github), StandInDiff(lambda o: regressed_result(workspace))
    )
    assert run.code == 1
    [check] = github.check_runs.values()
    assert (check["name"], check["conclusion"], check["status"]) == (
        "evalbot",
        "failure",
        "completed",
    )
    assert check["output"]["title"].startswith("1 regression in support-answers")
    assert len(check["output"]["title"]) <= 140
    [annotation] = check["annotations"]
    assert annotation["path"] == "prompts/support.md"
    assert annotation["annotation_level"] == "failure"
    assert "correct" in annotation["message"]
    assert check["details_url"].endswith("/actions/runs/4242")
    assert "::error file=prompts/support.md" not in run.log  # posted on the check instead


def test_outputs_summary_and_masking(tmp_path: Path, workspace: Workspace, github: FakeGitHub):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    result = regressed_result(
        workspace,
        usage=Usage(cost_usd=0.0123, spent_usd=0.0023),
        judge_usage=Usage(cost_usd=0.001, spent_usd=0.001),
    )
    run = run_action(actions_env(tmp_path, workspace, github), StandInDiff(lambda o: result))
    lines = run.log.splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert set(masks) == {f"::add-mask::{TOKEN}", f"::add-mask::{API_KEY}"}
    assert lines[: len(masks)] == masks  # before anything else
    assert run.outputs["verdict"] == "fail"
    assert run.outputs["regressions"] == "1"
    assert run.outputs["results"] == "evalbot-results"
    assert run.outputs["cost-usd"] == "0.0033"  # spent this run, not replayed from the cache
    [posted] = github.comments_on(REPO, PR)
    assert run.outputs["comment"] == posted["body"].rstrip("\n")
    assert "\n" in run.outputs["comment"]
    assert "support-answers" in run.summary
    assert not run.summary.startswith(MARKER)
    assert (workspace.root / "evalbot-results" / "results.json").is_file()
    assert "::group::evalbot: publish" in lines and "::endgroup::" in lines


def test_status_mode_posts_a_short_description(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(
        tmp_path, workspace, github, inputs={"CHECK": "status", "CHECK-NAME": "evals/gate"}
    )
    run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    [status] = github.statuses
    assert (status["state"], status["context"], status["sha"]) == (
        "failure",
        "evals/gate",
        workspace.head_sha,
    )
    assert 0 < len(status["description"]) <= 140
    assert status["target_url"].endswith("/actions/runs/4242")
    assert github.check_runs == {}
    [comment] = github.comments_on(REPO, PR)
    assert comment["body"].startswith("<!-- evalbot:evals/gate -->")


def test_fork_pr_is_neutral_without_any_model_call(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(
        REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha, head_repo="forker/app"
    )
    env = actions_env(
        tmp_path, workspace, github, payload=pr_payload(workspace, head_repo="forker/app")
    )
    del env["OPENAI_API_KEY"]  # GitHub gives fork runs no secrets
    diff = StandInDiff(lambda o: regressed_result(workspace))
    run = run_action(env, diff)
    assert run.code == 0
    assert diff.model_runs == 0 and [c.dry_run for c in diff.calls] == [True]
    assert run.outputs["verdict"] == "neutral"
    [check] = github.check_runs.values()
    assert check["conclusion"] == "neutral"
    assert check["output"]["title"].startswith("Not evaluated (fork PR)")
    [comment] = github.comments_on(REPO, PR)
    head = comment["body"].split("\n")[1]
    assert "neutral" in head and "pass" not in head
    assert "Would have run support-answers" in comment["body"]
    results = RunResult.model_validate_json(
        (workspace.root / "evalbot-results" / "results.json").read_text()
    )
    assert results.verdict == "neutral"
    assert "::warning title=evalbot::Not evaluated" in run.log


def test_fork_pr_touching_no_eval_input_passes(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(
        tmp_path, workspace, github, payload=pr_payload(workspace, head_repo="forker/app")
    )
    nothing = regressed_result(workspace)
    nothing = nothing.model_copy(
        update={"suites": [s.model_copy(update={"triggers": []}) for s in nothing.suites]}
    )
    diff = StandInDiff(lambda o: nothing)
    run = run_action(env, diff)
    assert (run.code, run.outputs["verdict"], diff.model_runs) == (0, "pass", 0)
    [check] = github.check_runs.values()
    assert check["conclusion"] == "success"


def test_missing_api_key_is_neutral_and_says_which(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(tmp_path, workspace, github)
    del env["OPENAI_API_KEY"]
    diff = StandInDiff(lambda o: regressed_result(workspace))
    run = run_action(env, diff)
    assert (run.code, run.outputs["verdict"], diff.model_runs) == (0, "neutral", 0)
    assert "OPENAI_API_KEY is not set" in run.log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "neutral"


def test_read_only_token_warns_and_keeps_the_verdict(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    github.read_only = True
    run = run_action(
        actions_env(tmp_path, workspace, github), StandInDiff(lambda o: regressed_result(workspace))
    )
    assert run.code == 1  # the gate's verdict, not a crash
    assert github.comments_on(REPO, PR) == [] and github.check_runs == {}
    warnings = [line for line in run.log.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 2 and all("read-only" in w for w in warnings)
    # no check run to carry them: the annotations go to the log instead
    assert "::error file=prompts/support.md,line=1," in run.log
    assert run.outputs["verdict"] == "fail"


def test_comment_never_and_check_none_post_nothing(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(tmp_path, workspace, github, inputs={"COMMENT": "never", "CHECK": "none"})
    run = run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    assert run.code == 1
    assert github.writes() == []
    assert run.outputs["comment"].startswith(MARKER)


def test_nothing_to_evaluate_gets_a_passing_check_and_no_new_comment(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    skipped = regressed_result(workspace)
    skipped = skipped.model_copy(
        update={
            "verdict": "pass",
            "suites": [
                s.model_copy(
                    update={"status": SuiteStatus.SKIPPED, "triggers": [], "comparisons": []}
                )
                for s in skipped.suites
            ],
        }
    )
    run = run_action(actions_env(tmp_path, workspace, github), StandInDiff(lambda o: skipped))
    assert run.code == 0
    [check] = github.check_runs.values()
    assert check["conclusion"] == "success"
    assert github.comments_on(REPO, PR) == []  # on-change: nothing worth a new comment


def test_config_error_is_annotated_and_answers_the_check(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    from evalbot.errors import ConfigError

    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)

    def broken(options):
        raise ConfigError("suites.0.model: unknown key", file="evalbot.yml", line=3, hint="fix it")

    run = run_action(actions_env(tmp_path, workspace, github), StandInDiff(broken))
    assert run.code == 2
    assert "::error file=evalbot.yml,line=3,title=evalbot::suites.0.model%3A" not in run.log
    assert "::error file=evalbot.yml,line=3,title=evalbot::suites.0.model: unknown key" in run.log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    assert run.outputs["verdict"] == "error"


def test_bad_input_is_exit_2_before_any_work(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    env = actions_env(tmp_path, workspace, github, inputs={"SAMPLES": "many"})
    diff = StandInDiff(lambda o: passing_result(workspace))
    run = run_action(env, diff)
    assert run.code == 2 and diff.calls == []
    assert "::error title=evalbot::input 'samples'" in run.log


def test_ghes_api_prefix_is_honoured(tmp_path: Path, workspace: Workspace):
    with FakeGitHub(prefix="/api/v3") as ghes:
        ghes.add_repo(REPO)
        ghes.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
        env = actions_env(tmp_path, workspace, ghes)
        run = run_action(env, StandInDiff(lambda o: passing_result(workspace)))
        assert run.code == 0
        assert len(ghes.comments_on(REPO, PR)) == 1 and len(ghes.check_runs) == 1


def test_merge_group_checks_the_group_commit_without_a_comment(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    payload = {
        "merge_group": {"base_sha": workspace.base_sha, "head_sha": workspace.head_sha},
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    diff = StandInDiff(lambda o: passing_result(workspace))
    env = actions_env(tmp_path, workspace, github, event="merge_group", payload=payload)
    run = run_action(env, diff)
    assert run.code == 0
    assert (diff.calls[0].base, diff.calls[0].head) == (workspace.base_sha, workspace.head_sha)
    [check] = github.check_runs.values()
    assert check["head_sha"] == workspace.head_sha
    assert github.comments == {}


def test_internal_error_still_answers_the_check(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)

    def buggy(options):
        raise RuntimeError("boom ::error::not a command")

    run = run_action(actions_env(tmp_path, workspace, github), StandInDiff(buggy))
    assert run.code == 3
    lines = run.log.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    token = lines[start].removeprefix("::stop-commands::")
    end = lines.index(f"::{token}::")
    assert any("Traceback" in line for line in lines[start:end])
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    assert run.outputs["verdict"] == "error"


def test_a_check_that_cannot_be_written_is_exit_3_even_on_a_failed_gate(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    env = actions_env(tmp_path, workspace, github, extra={"EVALBOT_GITHUB_RETRY_BUDGET": "30"})
    github.fail("POST", r"/check-runs$", 500, times=100)
    assert run_action(env, StandInDiff(lambda o: passing_result(workspace))).code == 3
    failed = run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    assert failed.code == 3  # a required check would stay pending: re-run, whatever the gate
    assert "check run 'evalbot' is missing on" in failed.log
    assert "create check run 'evalbot': HTTP 500" in failed.log
    assert len(github.comments_on(REPO, PR)) == 1  # the comment still went out
    assert github.check_runs == {}
