"""GitHubPublisher (real PyGithub) against the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evalbot.errors import PublishError
from evalbot.github.client import GitHubPublisher, PermissionDenied
from evalbot.github.retry import RetryPolicy
from tests.action.conftest import PR, REPO, fast_github
from tests.fakes.github_server import BOT_LOGIN, FakeGitHub

MARKER = "<!-- evalbot:evalbot -->"
HEAD = "a" * 40


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(prefix="/api/v3") as gh:  # served the way GHES serves it
        gh.add_repo(REPO)
        gh.add_pull(REPO, PR, head_sha=HEAD, base_sha="b" * 40)
        yield gh


def publisher(fake: FakeGitHub, **kw) -> GitHubPublisher:
    kw.setdefault("retry", RetryPolicy(sleep=lambda s: None))
    return GitHubPublisher(fast_github("ghs_x", fake.url), REPO, **kw)


def test_installation_token_falls_back_to_actions_bot(fake: FakeGitHub):
    assert publisher(fake).viewer_login() == BOT_LOGIN
    assert [r.path for r in fake.requests] == ["/user"]


def test_pat_uses_get_user_and_override_skips_it(fake: FakeGitHub):
    fake.token_kind = "pat"
    assert publisher(fake).viewer_login() == "octocat"
    fake.requests.clear()
    assert publisher(fake, bot_login="my-app[bot]").viewer_login() == "my-app[bot]"
    assert fake.requests == []


def test_sticky_comment_found_past_the_first_page(fake: FakeGitHub):
    for i in range(130):
        fake.add_comment(REPO, PR, f"chatter {i}", login="someone")
    ours = fake.add_comment(REPO, PR, f"{MARKER}\nold report")
    p = publisher(fake)
    assert p.upsert_comment(PR, f"{MARKER}\nnew", marker=MARKER, skip_unchanged=True) == "updated"
    assert fake.comments[ours]["body"] == f"{MARKER}\nnew"
    assert len(fake.comments_on(REPO, PR)) == 131
    pages = [r.query.get("page", "1") for r in fake.requests if r.path.endswith("/comments")]
    assert pages == ["1", "2"]
    assert all(
        r.query.get("per_page") == "100" for r in fake.requests if r.path.endswith("/comments")
    )


def test_someone_elses_marker_is_never_edited(fake: FakeGitHub):
    theirs = fake.add_comment(REPO, PR, f"{MARKER}\nquoted by a human", login="mallory")
    forged = fake.add_comment(REPO, PR, f"text first\n{MARKER}")
    p = publisher(fake)
    assert (
        p.upsert_comment(PR, f"{MARKER}\nreport", marker=MARKER, skip_unchanged=True) == "created"
    )
    assert fake.comments[theirs]["body"] == f"{MARKER}\nquoted by a human"
    assert fake.comments[forged]["body"] == f"text first\n{MARKER}"
    assert len(fake.comments_on(REPO, PR)) == 3


def test_on_change_leaves_an_identical_body_alone(fake: FakeGitHub):
    cid = fake.add_comment(REPO, PR, f"{MARKER}\r\nsame  \n")
    p = publisher(fake)
    assert p.upsert_comment(PR, f"{MARKER}\nsame\n", marker=MARKER, skip_unchanged=True) == (
        "unchanged"
    )
    assert fake.writes() == []
    assert p.upsert_comment(PR, f"{MARKER}\nsame\n", marker=MARKER, skip_unchanged=False) == (
        "updated"
    )
    assert [w.method for w in fake.writes()] == ["PATCH"]
    assert fake.comments[cid]["body"] == f"{MARKER}\nsame\n"


def test_create_false_does_not_start_a_comment(fake: FakeGitHub):
    p = publisher(fake)
    assert p.upsert_comment(
        PR, f"{MARKER}\nx", marker=MARKER, skip_unchanged=True, create=False
    ) == ("not-created")
    assert fake.writes() == []


def test_failed_post_is_retried_from_the_lookup(fake: FakeGitHub):
    fake.fail("POST", r"/issues/\d+/comments$", 502)
    p = publisher(fake)
    assert p.upsert_comment(PR, f"{MARKER}\nx", marker=MARKER, skip_unchanged=True) == "created"
    assert len(fake.comments_on(REPO, PR)) == 1
    methods = [r.method for r in fake.requests if r.path != "/user"]
    assert methods == ["GET", "POST", "GET", "POST"]  # look up again before writing again


def test_check_run_annotations_go_fifty_per_request(fake: FakeGitHub):
    annotations = [
        {
            "path": f"prompts/p{i}.md",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "failure",
            "message": "regressed",
        }
        for i in range(120)
    ]
    p = publisher(fake)
    rid = p.create_check_run(
        name="evalbot",
        head_sha=HEAD,
        conclusion="failure",
        title="1 regression",
        summary="tables",
        annotations=annotations,
        details_url="https://github.example/o/r/actions/runs/1",
    )
    run = fake.check_runs[rid]
    assert run["requests"] == 3
    assert [a["path"] for a in run["annotations"]] == [a["path"] for a in annotations]
    assert (run["status"], run["conclusion"], run["head_sha"]) == ("completed", "failure", HEAD)


def test_status_and_422_become_publish_errors(fake: FakeGitHub):
    p = publisher(fake)
    p.create_status(sha=HEAD, state="success", description="ok", context="evalbot", target_url=None)
    assert fake.statuses[0]["context"] == "evalbot"
    with pytest.raises(PublishError, match="description is too long"):
        p.create_status(
            sha=HEAD, state="success", description="x" * 141, context="e", target_url=None
        )


def test_read_only_token_is_permission_denied(fake: FakeGitHub):
    fake.read_only = True
    p = publisher(fake)
    with pytest.raises(PermissionDenied, match="403"):
        p.upsert_comment(PR, f"{MARKER}\nx", marker=MARKER, skip_unchanged=True)
    with pytest.raises(PermissionDenied):
        p.create_check_run(
            name="evalbot",
            head_sha=HEAD,
            conclusion="neutral",
            title="t",
            summary="s",
            annotations=[],
            details_url=None,
        )


def test_find_open_pull_for_a_fork_uses_the_head_label(fake: FakeGitHub):
    fake.add_pull(REPO, 8, head_sha="c" * 40, base_sha="b" * 40, head_repo="forker/app")
    p = publisher(fake)
    find = p.find_open_pull
    # A deleted fork (no head repository) cannot be matched exactly: no PR.
    assert find("c" * 40, numbers=(), head_repository=None, head_branch="feature") is None
    pull = find("c" * 40, numbers=(), head_repository="forker/app", head_branch="feature")
    assert pull is not None and pull.number == 8
    assert any(r.query.get("head") == "forker:feature" for r in fake.requests)
    # Repository, branch and commit must all match.
    assert find("e" * 40, numbers=(8,), head_repository="forker/app", head_branch="feature") is None
    assert find("c" * 40, numbers=(8,), head_repository="forker/app", head_branch="other") is None
    assert find("c" * 40, numbers=(8,), head_repository="octo/app", head_branch="feature") is None


def test_same_repository_pulls_lists_only_this_repositorys_open_heads(fake: FakeGitHub):
    fake.add_pull(REPO, 5, head_sha="c" * 40, base_sha="b" * 40)
    fake.add_pull(REPO, 6, head_sha="c" * 40, base_sha="b" * 40, state="closed")
    fake.add_pull(REPO, 8, head_sha="c" * 40, base_sha="b" * 40, head_repo="forker/app")
    assert publisher(fake).same_repository_pulls("c" * 40) == [5]
