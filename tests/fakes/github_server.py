"""A loopback fake of the GitHub REST endpoints evalbot uses, for PyGithub behind ``base_url``.

Stdlib only (``ThreadingHTTPServer`` on 127.0.0.1, port chosen by the OS). Stateful: repositories,
pull requests, issue comments with real pagination (``per_page``, ``page``, ``Link`` headers),
check runs with annotations (≤ 50 per request, appended on update), commit statuses, and the
limits GitHub enforces with a 422 (comment body > 65,536 characters, status description > 140,
check-run summary > 65,535). ``GET /user`` answers 403 for installation tokens, as it does for
``GITHUB_TOKEN``; ``read_only=True`` answers 403 to every write, as for a fork PR's token.
Every request is logged in ``requests``. ``prefix="/api/v3"`` serves it the way GHES does.

Faults, each for the next ``times`` matching requests: ``fail`` answers a status (502, a 403
secondary rate limit with ``Retry-After``, a 429 without it...) without applying the request;
``lose`` applies it and then drops the connection without an answer, as when a response is lost
on the way back (the client cannot know whether the write happened).

    with FakeGitHub() as gh:
        gh.add_repo("octo/app")
        gh.add_pull("octo/app", 7, head_sha="a" * 40, base_sha="b" * 40)
        client = Github(auth=Auth.Token("t"), base_url=gh.url)
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FakeGitHub", "LoggedRequest"]

BOT_LOGIN = "github-actions[bot]"
_FORBIDDEN = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest",
    "status": "403",
}


@dataclass
class LoggedRequest:
    method: str
    path: str
    """Without the prefix and the query string."""
    query: dict[str, str]
    body: Any
    authorization: str | None


SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    """Close the connection instead of answering (the request was applied)."""


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 0
    """0: ``lose`` (apply, then drop the connection)."""
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""


class _Abort(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _unprocessable(message: str) -> _Abort:
    return _Abort(422, {"message": "Validation Failed", "errors": [{"message": message}]})


class FakeGitHub:
    def __init__(
        self,
        *,
        prefix: str = "",
        token_kind: str = "installation",
        read_only: bool = False,
        user_login: str = "octocat",
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.token_kind = token_kind
        """``installation`` (GITHUB_TOKEN, App): ``GET /user`` is 403; ``pat``: it is the user."""
        self.read_only = read_only
        self.user_login = user_login
        self.requests: list[LoggedRequest] = []
        self.repos: dict[str, dict[str, Any]] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.faults: list[_Fault] = []
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The ``base_url`` / ``GITHUB_API_URL`` to give PyGithub."""
        return self.root + self.prefix

    # -- state helpers -------------------------------------------------------------------------

    def add_repo(self, full_name: str, *, default_branch: str = "main") -> None:
        owner, name = full_name.split("/")
        self.repos[full_name] = {
            "id": next(self._ids),
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner, "type": "Organization"},
            "default_branch": default_branch,
            "url": f"{self.url}/repos/{full_name}",
        }

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        base_sha: str,
        head_repo: str | None = None,
        head_ref: str = "feature",
        base_ref: str = "main",
        state: str = "open",
    ) -> dict[str, Any]:
        head_repo = head_repo or repo
        pull = {
            "id": next(self._ids),
            "number": number,
            "state": state,
            "title": f"PR {number}",
            "url": f"{self.url}/repos/{repo}/pulls/{number}",
            "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
            "head": {
                "sha": head_sha,
                "ref": head_ref,
                "label": f"{head_repo.split('/')[0]}:{head_ref}",
                "repo": {"full_name": head_repo, "owner": {"login": head_repo.split("/")[0]}},
            },
            "base": {"sha": base_sha, "ref": base_ref, "repo": {"full_name": repo}},
        }
        self.pulls[(repo, number)] = pull
        return pull

    def add_comment(
        self, repo: str, number: int, body: str, *, login: str = BOT_LOGIN, kind: str = ""
    ) -> int:
        """``kind`` is the author's account type (default: ``Bot`` for ``…[bot]`` logins)."""
        kind = kind or ("Bot" if login.endswith("[bot]") else "User")
        with self._lock:
            cid = next(self._ids)
            self.comments[cid] = {
                "id": cid,
                "repo": repo,
                "issue": number,
                "body": body,
                "user": {"login": login, "type": kind},
                "url": f"{self.url}/repos/{repo}/issues/comments/{cid}",
                "html_url": f"https://github.invalid/{repo}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
            }
            return cid

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["repo"] == repo and c["issue"] == number]

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int = 500,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``, not applying them."""
        self.faults.append(
            _Fault(
                method,
                re.compile(path_pattern),
                times,
                status,
                dict(headers or {}),
                message or f"injected {status}",
            )
        )

    def secondary_limit(
        self, method: str, path_pattern: str, *, retry_after: str | None, status: int = 403
    ) -> None:
        """GitHub's secondary rate limit: 403 (or 429), with or without ``Retry-After``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.fail(method, path_pattern, status, headers=headers, message=SECONDARY_LIMIT)

    def lose(self, method: str, path_pattern: str, *, times: int = 1) -> None:
        """Apply the next ``times`` matching requests, then drop the connection unanswered."""
        self.faults.append(_Fault(method, re.compile(path_pattern), times))

    def check_runs_on(self, sha: str, name: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.check_runs.values()
            if r["head_sha"] == sha and (name is None or r["name"] == name)
        ]

    def writes(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]

    # -- routing -------------------------------------------------------------------------------

    def handle(self, method: str, target: str, body: Any, auth: str | None) -> _Reply:
        split = urlsplit(target)
        path = split.path
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return _Reply(404, {"message": "Not Found (missing API prefix)"})
            path = path[len(self.prefix) :]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            self.requests.append(LoggedRequest(method, path, query, body, auth))
            fault = next(
                (f for f in self.faults if f.method == method and f.pattern.search(path)), None
            )
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.status:
                    return _Reply(fault.status, {"message": fault.message}, fault.headers)
            reply = self._authorised(method, path, query, body, auth)
            return replace(reply, drop=True) if fault is not None else reply

    def _authorised(
        self, method: str, path: str, query: dict[str, str], body: Any, auth: str | None
    ) -> _Reply:
        if not auth or not re.match(r"(?i)(token|bearer) \S+", auth):
            return _Reply(401, {"message": "Requires authentication"})
        if self.read_only and method in ("POST", "PATCH", "PUT", "DELETE"):
            return _Reply(403, _FORBIDDEN)
        try:
            return self._route(method, path, query, body)
        except _Abort as abort:
            return _Reply(abort.status, abort.body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> _Reply:
        if path == "/user" and method == "GET":
            if self.token_kind != "pat":
                return _Reply(403, _FORBIDDEN)
            return _Reply(200, {"login": self.user_login, "id": 1, "type": "User"})
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not m:
            raise _Abort(404, {"message": "Not Found"})
        repo, rest = m[1], m[2] or ""
        if repo not in self.repos:
            raise _Abort(404, {"message": "Not Found"})
        routes = [
            ("GET", r"", self._get_repo),
            ("GET", r"/issues/(\d+)", self._get_issue),
            ("GET", r"/issues/(\d+)/comments", self._list_comments),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("GET", r"/issues/comments/(\d+)", self._get_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._edit_comment),
            ("GET", r"/pulls", self._list_pulls),
            ("GET", r"/pulls/(\d+)", self._get_pull),
            ("GET", r"/commits/([0-9a-f]{40})", self._get_commit),
            ("GET", r"/commits/([0-9a-f]{40})/pulls", self._commit_pulls),
            ("GET", r"/commits/([0-9a-f]{40})/check-runs", self._commit_check_runs),
            ("GET", r"/commits/([0-9a-f]{40})/statuses", self._commit_statuses),
            ("GET", r"/statuses/([0-9a-f]{40})", self._commit_statuses),  # PyGithub's path
            ("POST", r"/check-runs", self._create_check_run),
            ("PATCH", r"/check-runs/(\d+)", self._update_check_run),
            ("GET", r"/check-runs/(\d+)", self._get_check_run),
            ("GET", r"/commits/([0-9a-f]{40})/check-runs", self._list_check_runs),
            ("POST", r"/statuses/([0-9a-f]{40})", self._create_status),
            ("GET", r"/statuses/([0-9a-f]{40})", self._list_statuses),
            ("GET", r"/commits/([0-9a-f]{40})/statuses", self._list_statuses),
        ]
        for route_method, pattern, handler in routes:
            hit = re.fullmatch(pattern, rest)
            if hit and route_method == method:
                return handler(repo, *hit.groups(), query=query, body=body)
        raise _Abort(404, {"message": "Not Found"})

    def _page(self, path: str, items: list[Any], query: dict[str, str]) -> _Reply:
        per_page = min(int(query.get("per_page", "30")), 100)
        page = max(int(query.get("page", "1")), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            params = {**query, "per_page": str(per_page), "page": str(n)}
            return f'<{self.url}{path}?{urlencode(params)}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return _Reply(200, chunk, headers)

    def _get_repo(self, repo: str, **_: Any) -> _Reply:
        return _Reply(200, self.repos[repo])

    def _pull(self, repo: str, number: str) -> dict[str, Any]:
        pull = self.pulls.get((repo, int(number)))
        if pull is None:
            raise _Abort(404, {"message": "Not Found"})
        return pull

    def _get_issue(self, repo: str, number: str, **_: Any) -> _Reply:
        pull = self._pull(repo, number)
        return _Reply(200, {"number": pull["number"], "url": pull["issue_url"], "state": "open"})

    def _public(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in comment.items() if k not in ("repo", "issue")}

    def _list_comments(self, repo: str, number: str, *, query: dict[str, str], **_: Any) -> _Reply:
        self._pull(repo, number)
        items = [self._public(c) for c in self.comments_on(repo, int(number))]
        return self._page(f"/repos/{repo}/issues/{number}/comments", items, query)

    @staticmethod
    def _body(body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _unprocessable("body is missing")
        if len(body["body"]) > 65_536:
            raise _unprocessable("Body is too long (maximum is 65536 characters)")
        return body["body"]

    def _create_comment(self, repo: str, number: str, *, body: Any, **_: Any) -> _Reply:
        self._pull(repo, number)
        login = self.user_login if self.token_kind == "pat" else BOT_LOGIN
        cid = self.add_comment(repo, int(number), self._body(body), login=login)
        return _Reply(201, self._public(self.comments[cid]))

    def _comment(self, repo: str, cid: str) -> dict[str, Any]:
        comment = self.comments.get(int(cid))
        if comment is None or comment["repo"] != repo:
            raise _Abort(404, {"message": "Not Found"})
        return comment

    def _get_comment(self, repo: str, cid: str, **_: Any) -> _Reply:
        return _Reply(200, self._public(self._comment(repo, cid)))

    def _edit_comment(self, repo: str, cid: str, *, body: Any, **_: Any) -> _Reply:
        comment = self._comment(repo, cid)
        comment["body"] = self._body(body)
        comment["updated_at"] = "2024-01-02T00:00:00Z"
        return _Reply(200, self._public(comment))

    def _get_pull(self, repo: str, number: str, **_: Any) -> _Reply:
        return _Reply(200, self._pull(repo, number))

    def _list_pulls(self, repo: str, *, query: dict[str, str], **_: Any) -> _Reply:
        state = query.get("state", "open")
        items = [
            p
            for (r, _n), p in sorted(self.pulls.items())
            if r == repo
            and (state == "all" or p["state"] == state)
            and ("head" not in query or p["head"]["label"] == query["head"])
        ]
        return self._page(f"/repos/{repo}/pulls", items, query)

    def _get_commit(self, repo: str, sha: str, **_: Any) -> _Reply:
        return _Reply(200, {"sha": sha, "url": f"{self.url}/repos/{repo}/commits/{sha}"})

    def _commit_pulls(self, repo: str, sha: str, *, query: dict[str, str], **_: Any) -> _Reply:
        # Like GitHub for commits that only exist in a fork: PRs from forks are not listed.
        items = [
            p
            for (r, _n), p in sorted(self.pulls.items())
            if r == repo and p["head"]["sha"] == sha and p["head"]["repo"]["full_name"] == repo
        ]
        return self._page(f"/repos/{repo}/commits/{sha}/pulls", items, query)

    def _commit_check_runs(self, repo: str, sha: str, *, query: dict[str, str], **_: Any) -> _Reply:
        runs = [
            {k: v for k, v in run.items() if k != "annotations"}
            for run in self.check_runs.values()
            if run["head_sha"] == sha
            and query.get("check_name", run["name"]) == run["name"]
            and query.get("status", run.get("status")) == run.get("status")
        ]
        return _Reply(200, {"total_count": len(runs), "check_runs": runs})

    def _commit_statuses(self, repo: str, sha: str, *, query: dict[str, str], **_: Any) -> _Reply:
        items = [st for st in reversed(self.statuses) if st["sha"] == sha]  # newest first
        return self._page(f"/repos/{repo}/commits/{sha}/statuses", items, query)

    @staticmethod
    def _check_output(output: Any) -> list[dict[str, Any]]:
        if output is None:
            return []
        if not isinstance(output, dict) or not output.get("title") or "summary" not in output:
            raise _unprocessable("output needs title and summary")
        if len(output["summary"]) > 65_535:
            raise _unprocessable("output.summary is too long (maximum is 65535 characters)")
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            raise _unprocessable("Only 50 annotations are allowed per request")
        for a in annotations:
            missing = {"path", "start_line", "end_line", "annotation_level", "message"} - set(a)
            if missing or a["annotation_level"] not in ("notice", "warning", "failure"):
                raise _unprocessable(f"invalid annotation {a}")
        return list(annotations)

    def _create_check_run(self, repo: str, *, body: Any, **_: Any) -> _Reply:
        if not isinstance(body, dict) or not body.get("name") or not body.get("head_sha"):
            raise _unprocessable("name and head_sha are required")
        if body.get("conclusion") not in (
            None,
            "success",
            "failure",
            "neutral",
            "cancelled",
            "skipped",
            "timed_out",
            "action_required",
        ):
            raise _unprocessable("invalid conclusion")
        annotations = self._check_output(body.get("output"))
        rid = next(self._ids)
        run = {
            **body,
            "id": rid,
            "url": f"{self.url}/repos/{repo}/check-runs/{rid}",
            "annotations": annotations,
            "requests": 1,
        }
        self.check_runs[rid] = run
        return _Reply(201, self._public_run(run))

    def _update_check_run(self, repo: str, rid: str, *, body: Any, **_: Any) -> _Reply:
        run = self.check_runs.get(int(rid))
        if run is None:
            raise _Abort(404, {"message": "Not Found"})
        annotations = self._check_output(body.get("output"))
        run.update({k: v for k, v in body.items() if k != "output"})
        run["output"] = body.get("output", run.get("output"))
        run["annotations"] += annotations
        run["requests"] += 1
        return _Reply(200, self._public_run(run))

    def _get_check_run(self, repo: str, rid: str, **_: Any) -> _Reply:
        run = self.check_runs.get(int(rid))
        if run is None:
            raise _Abort(404, {"message": "Not Found"})
        return _Reply(200, self._public_run(run))

    @staticmethod
    def _public_run(run: dict[str, Any]) -> dict[str, Any]:
        """As GitHub shows a check run: the output's annotations as a count, not a list."""
        output = {
            k: v for k, v in (run.get("output") or {}).items() if k in ("title", "summary", "text")
        }
        output["annotations_count"] = len(run["annotations"])
        output["annotations_url"] = f"{run['url']}/annotations"
        public = {k: v for k, v in run.items() if k not in ("annotations", "output")}
        return {**public, "output": output}

    def _list_check_runs(self, repo: str, sha: str, *, query: dict[str, str], **_: Any) -> _Reply:
        runs = [
            self._public_run(r)
            for r in sorted(self.check_runs.values(), key=lambda r: -r["id"])
            if r["head_sha"] == sha and query.get("check_name") in (None, r["name"])
        ]
        reply = self._page(f"/repos/{repo}/commits/{sha}/check-runs", runs, query)
        reply.body = {"total_count": len(runs), "check_runs": reply.body}
        return reply

    def _list_statuses(self, repo: str, sha: str, *, query: dict[str, str], **_: Any) -> _Reply:
        newest_first = [st for st in reversed(self.statuses) if st["sha"] == sha]
        return self._page(f"/repos/{repo}/statuses/{sha}", newest_first, query)

    def _create_status(self, repo: str, sha: str, *, body: Any, **_: Any) -> _Reply:
        if not isinstance(body, dict) or body.get("state") not in (
            "error",
            "failure",
            "pending",
            "success",
        ):
            raise _unprocessable("state is not included in the list")
        if len(body.get("description") or "") > 140:
            raise _unprocessable("description is too long (maximum is 140 characters)")
        status = {**body, "sha": sha, "id": next(self._ids), "context": body.get("context")}
        self.statuses.append(status)
        return _Reply(201, status)


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        reply = self.owner.handle(method, self.path, body, self.headers.get("Authorization"))
        if reply.drop:  # applied, but the answer never reaches the client
            self.close_connection = True
            return
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
