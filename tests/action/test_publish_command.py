"""``evalbot publish`` in the privileged ``workflow_run`` workflow: the artifact is untrusted."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from evalbot.github import action, publish
from evalbot.records import RunResult
from evalbot.report import render_comment, results_io, write_outputs
from tests.action.conftest import PR, REPO, TOKEN, fast_github, parse_outputs, passing_result
from tests.fakes.github_server import FakeGitHub

HEAD = "c" * 40
BASE = "b" * 40
RUN_URL = "https://github.example/octo/app/actions/runs/99"


class _Shas:
    head_sha = HEAD
    base_sha = BASE


def _result(**overrides) -> RunResult:
    return passing_result(_Shas(), **overrides)  # type: ignore[arg-type]


def _env(tmp_path: Path, gh: FakeGitHub, *, head_repo: str = REPO, numbers=()) -> dict[str, str]:
    owner = head_repo.split("/")[0]
    event = {
        "workflow_run": {
            "id": 99,
            "event": "pull_request",
            "head_sha": HEAD,
            "head_branch": "feature",
            "html_url": RUN_URL,
            "head_repository": {"full_name": head_repo, "owner": {"login": owner}},
            "pull_requests": [{"number": n} for n in numbers],
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return {
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_API_URL": gh.url,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_GITHUB-TOKEN": TOKEN,
    }


def _artifact(tmp_path: Path, result: RunResult) -> Path:
    out = tmp_path / "evalbot-results"
    write_outputs(result, out, check_name="evalbot")
    return out


def _publish(results: Path, env: dict[str, str], waits: list[float] | None = None):
    stdout = io.StringIO()
    code = publish.publish_command(
        results,
        env=env,
        stdout=stdout,
        github_factory=fast_github,
        retry_sleep=(waits if waits is not None else []).append,
    )
    return code, stdout.getvalue()


def test_publish_survives_a_secondary_limit_and_a_lost_check_run_response(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    github.secondary_limit("POST", r"/issues/\d+/comments$", retry_after="3")
    github.lose("POST", r"/check-runs$")
    waits: list[float] = []
    code, log = _publish(
        _artifact(tmp_path, _result()), _env(tmp_path, github, numbers=(PR,)), waits
    )
    assert code == 0, log
    assert len(github.comments_on(REPO, PR)) == 1
    assert len(github.check_runs_on(HEAD, "evalbot")) == 1
    assert waits[0] == 3.0 and len(waits) == 2


def test_tampered_comment_md_is_ignored_and_the_comment_re_rendered(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    result = _result()
    results = _artifact(tmp_path, result)
    (results / "comment.md").write_text("<!-- evalbot:evalbot -->\n@everyone ship it ✅ pass\n")
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 0, log
    [comment] = github.comments_on(REPO, PR)
    assert "@everyone" not in comment["body"]
    assert comment["body"] == render_comment(result, check_name="evalbot", details_url=RUN_URL)
    [check] = github.check_runs.values()
    assert (check["head_sha"], check["conclusion"]) == (HEAD, "success")
    assert check["details_url"] == RUN_URL
    outputs = parse_outputs((tmp_path / "output.txt").read_text())
    assert outputs["verdict"] == "pass"


def test_fork_pr_is_found_by_head_label_and_a_pass_is_capped_at_neutral(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE, head_repo="forker/app")
    results = _artifact(tmp_path, _result())
    code, log = _publish(results, _env(tmp_path, github, head_repo="forker/app"))
    assert code == 0, log
    paths = [r.path for r in github.requests]
    assert f"/repos/{REPO}/commits/{HEAD}/pulls" in paths
    assert any(r.query.get("head") == "forker:feature" for r in github.requests)
    [check] = github.check_runs.values()
    assert check["conclusion"] == "neutral"
    assert check["output"]["title"].startswith("Unverified")
    [comment] = github.comments_on(REPO, PR)
    assert "neutral" in comment["body"].split("\n")[1]


def test_fork_failure_is_reported_as_is(tmp_path: Path, github: FakeGitHub):
    from tests.action.conftest import regressed_result

    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE, head_repo="forker/app")
    results = _artifact(tmp_path, regressed_result(_Shas()))  # type: ignore[arg-type]
    code, _ = _publish(results, _env(tmp_path, github, head_repo="forker/app"))
    assert code == 1
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"


def test_results_for_another_commit_are_refused(tmp_path: Path, github: FakeGitHub):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    results = _artifact(tmp_path, _result(head_sha="d" * 40))
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 2
    assert "refusing to publish" in log
    assert github.writes() == []


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"verdict": "pass"}', b'{"tool_version": 1}', b"[]"],
)
def test_invalid_results_are_a_usage_error(tmp_path: Path, github: FakeGitHub, content: bytes):
    results = tmp_path / "evalbot-results"
    results.mkdir()
    (results / "results.json").write_bytes(content)
    code, log = _publish(results, _env(tmp_path, github))
    assert code == 2
    assert "::error file=" in log and "not an evalbot results.json" in log
    assert github.writes() == []


def test_oversized_results_are_refused_unread(
    tmp_path: Path, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(results_io, "MAX_RESULTS_BYTES", 1000)
    results = _artifact(tmp_path, _result())
    code, log = _publish(results, _env(tmp_path, github))
    assert code == 2 and "larger than" in log


def test_pr_gone_means_check_only(tmp_path: Path, github: FakeGitHub):
    results = _artifact(tmp_path, _result())
    code, log = _publish(results, _env(tmp_path, github))
    assert code == 0
    assert "no open pull request" in log
    assert github.comments == {} and len(github.check_runs) == 1


def test_action_entrypoint_on_workflow_run_publishes_the_downloaded_artifact(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    _artifact(tmp_path, _result())  # where actions/download-artifact put it
    env = _env(tmp_path, github, numbers=(PR,))
    stdout = io.StringIO()
    assert action.main(env, github_factory=fast_github, stdout=stdout) == 0
    assert len(github.comments_on(REPO, PR)) == 1
    assert stdout.getvalue().startswith(f"::add-mask::{TOKEN}\n")


def _bomb(results: Path) -> None:
    """The artifact's outputs file replaced by 64 MiB of zeros (~64 KiB compressed)."""
    zeros = bytes(1 << 20)
    with gzip.open(results / results_io.OUTPUTS_NAME, "wb") as bomb:
        for _ in range(64):
            bomb.write(zeros)


def test_a_compression_bomb_for_outputs_file_never_passes(tmp_path: Path, github: FakeGitHub):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    results = _artifact(tmp_path, _result())
    _bomb(results)
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 3, log
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "compression bomb" in errors[0], log
    assert "Traceback" not in log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    [comment] = github.comments_on(REPO, PR)
    assert "outputs.jsonl.gz) of these results could not be read" in comment["body"]
    assert parse_outputs((tmp_path / "output.txt").read_text())["verdict"] == "error"


def test_a_missing_outputs_file_keeps_a_failing_gate_failing(tmp_path: Path, github: FakeGitHub):
    from tests.action.conftest import regressed_result

    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    results = _artifact(tmp_path, regressed_result(_Shas()))  # type: ignore[arg-type]
    (results / results_io.OUTPUTS_NAME).unlink()
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 1, log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    [comment] = github.comments_on(REPO, PR)
    assert "outputs.jsonl.gz is missing" in comment["body"]


def test_the_published_comment_shows_flipped_outputs_from_the_outputs_file(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    result = _result()
    suite = result.suites[0]
    flipped = suite.head.example_ids[-1]
    result = result.model_copy(update={"suites": [suite.model_copy(update={"flipped": [flipped]})]})
    results = _artifact(tmp_path, result)
    assert suite.head.outputs[-1][0].text not in (results / "results.json").read_text()
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 0, log
    [comment] = github.comments_on(REPO, PR)
    assert comment["body"] == render_comment(result, check_name="evalbot", details_url=RUN_URL)
    assert suite.head.outputs[-1][0].text in comment["body"]


def test_a_results_json_from_before_the_outputs_file_still_publishes(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=HEAD, base_sha=BASE)
    result = _result()
    results = tmp_path / "evalbot-results"
    results.mkdir()
    (results / "results.json").write_text(result.model_dump_json(indent=2))  # format 1
    code, log = _publish(results, _env(tmp_path, github, numbers=(PR,)))
    assert code == 0, log
    [comment] = github.comments_on(REPO, PR)
    assert comment["body"] == render_comment(result, check_name="evalbot", details_url=RUN_URL)
