"""Reasons, not rates: why calls failed, said where a person looks."""

from __future__ import annotations

import json
import socket

from evalbot.run.openai_provider import EARLY_STOP
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.test_gateway_cli import N, _diff, _repo


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_that_is_down_stops_early_with_the_reason(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    repo = _repo(tmp_path)
    assert _diff(repo, tmp_path, "--concurrency", "1", "--max-retries", "0") == 3
    err = capsys.readouterr().err
    assert f"the first {EARLY_STOP} requests for model 'fake-model' failed the same way" in err
    assert "could not connect to 127.0.0.1" in err
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["verdict"] == "error"
    assert result["usage"]["sent"] == EARLY_STOP  # not 2 × N
    assert "could not connect to 127.0.0.1" in result["summary"]


def test_failed_calls_are_explained_by_reason_in_terminal_comment_and_summary(
    monkeypatch, tmp_path, capsys
):
    from evalbot.records import RunResult
    from evalbot.report.comment import render_summary

    def flaky(body: dict) -> Reply | str:
        text = body["messages"][-1]["content"].strip()
        if text.endswith(("question 3", "question 7")):
            return Reply("upstream overloaded", status=500)
        if text.endswith("question 5"):
            return Reply("context too long", status=413)
        return text

    with FakeOpenAI(flaky) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        repo = _repo(tmp_path)
        code = _diff(repo, tmp_path, "--concurrency", "1", "--max-retries", "0")
    assert code == 3  # 30 % errors is past the error budget: the reasons say why
    out = capsys.readouterr().out
    why = (
        "Why head calls failed: 2× HTTP 500: upstream overloaded (e.g. example q3); "
        "1× HTTP 413: context too long (e.g. example q5)."
    )
    assert why in out
    assert why.replace("head", "base") in out
    comment = (tmp_path / "out" / "comment.md").read_text()
    assert why in comment
    result = RunResult.model_validate_json((tmp_path / "out" / "results.json").read_text())
    assert why in render_summary(result)
    assert N == 10
