from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from evalbot.errors import ConfigError
from evalbot.github.event import (
    WorkflowCommands,
    append_summary,
    escape_data,
    escape_property,
    load_event,
    write_outputs,
)
from tests.action.conftest import parse_outputs


def test_escape_data_and_property():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_error_annotation_escapes_file_line_and_message():
    out = io.StringIO()
    WorkflowCommands(out).error(
        "bad: 100%\nsecond line", file="dir,x/evalbot.yml", line=3, title="evalbot"
    )
    assert out.getvalue() == (
        "::error file=dir%2Cx/evalbot.yml,line=3,title=evalbot::bad: 100%25%0Asecond line\n"
    )


def test_annotations_past_githubs_cap_are_only_logged():
    out = io.StringIO()
    commands = WorkflowCommands(out)
    for i in range(12):
        commands.warning(f"w{i}")
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("::warning") for line in lines) == 10
    assert lines[-1] == "warning: w11"


def test_mask_group_and_stop_commands():
    out = io.StringIO()
    commands = WorkflowCommands(out)
    commands.mask("line1\nline2")
    with commands.group("step"), commands.untrusted():
        commands.log("::error::forged by a model")
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["::add-mask::line1", "::add-mask::line2", "::group::step"]
    token = lines[3].removeprefix("::stop-commands::")
    assert len(token) == 32
    assert lines[4] == "::error::forged by a model"
    assert lines[5] == f"::{token}::"
    assert lines[6] == "::endgroup::"


def test_outputs_multiline_uses_a_random_delimiter(tmp_path: Path):
    path = tmp_path / "out"
    body = "<!-- evalbot:evalbot -->\n| a | b |\nEOF\nname=value"
    write_outputs(path, {"verdict": "fail", "comment": body})
    write_outputs(path, {"comment": body})
    text = path.read_text()
    assert "comment<<EVALBOT_" in text
    delimiters = {line.split("<<")[1] for line in text.splitlines() if "<<" in line}
    assert len(delimiters) == 2  # a fresh one per block
    assert parse_outputs(text) == {"verdict": "fail", "comment": body}


def test_summary_is_cut_under_the_limit(tmp_path: Path):
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    assert append_summary(path, "small") is True
    assert append_summary(path, "é" * 5000, limit=4096) is False
    size = path.stat().st_size
    assert size < 4096
    assert path.read_text(encoding="utf-8").endswith("see results.json.\n")


def _event(tmp_path: Path, name: str, payload: dict) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": "o/r"}


def test_pull_request_event_uses_head_sha_not_merge_commit(tmp_path: Path):
    env = _event(
        tmp_path,
        "pull_request",
        {
            "number": 3,
            "pull_request": {
                "number": 3,
                "head": {"sha": "a" * 40, "ref": "f", "repo": {"full_name": "fork/r"}},
                "base": {"sha": "b" * 40, "ref": "main"},
            },
        },
    )
    env["GITHUB_SHA"] = "c" * 40
    event = load_event(env)
    assert (event.head_sha, event.base_sha, event.pr_number) == ("a" * 40, "b" * 40, 3)
    assert event.is_fork


def test_deleted_fork_counts_as_fork(tmp_path: Path):
    payload = {"pull_request": {"number": 1, "head": {"sha": "a" * 40, "repo": None}}}
    assert load_event(_event(tmp_path, "pull_request_target", payload)).is_fork


def test_push_merge_group_and_workflow_run(tmp_path: Path):
    push = load_event(_event(tmp_path, "push", {"before": "0" * 40, "after": "a" * 40}))
    assert (push.base_sha, push.head_sha, push.is_fork) == (None, "a" * 40, False)
    group = load_event(
        _event(
            tmp_path, "merge_group", {"merge_group": {"base_sha": "b" * 40, "head_sha": "c" * 40}}
        )
    )
    assert (group.base_sha, group.head_sha) == ("b" * 40, "c" * 40)
    run = load_event(
        _event(
            tmp_path,
            "workflow_run",
            {
                "workflow_run": {
                    "id": 9,
                    "event": "pull_request",
                    "head_sha": "d" * 40,
                    "head_branch": "feature",
                    "head_repository": {"full_name": "fork/r", "owner": {"login": "fork"}},
                    "pull_requests": [],
                }
            },
        )
    )
    assert (run.head_sha, run.head_owner, run.workflow_run_pr_numbers) == ("d" * 40, "fork", ())
    assert run.is_fork


def test_unsupported_or_missing_event_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not supported"):
        load_event(_event(tmp_path, "issues", {}))
    with pytest.raises(ConfigError, match="GITHUB_EVENT_NAME"):
        load_event({})
