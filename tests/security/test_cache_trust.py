"""Issue 8.1: cache entries the PR plants are never trusted, and the cache lives outside it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from evalbot.cli.app import main as cli_main
from evalbot.run.cache import ResponseCache
from tests.security.conftest import KEY, VAGUE, Attack, N, run_action


def _record_good_answers(attack: Attack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the attacker does on their machine: run evalbot against the same endpoint while it
    answers every prompt correctly, keeping the answers in the repository's .evalbot/cache."""
    honest = attack.llm.responder
    attack.llm.responder = lambda body: "It is " + body["messages"][-1]["content"].split()[-1]
    monkeypatch.setenv("OPENAI_BASE_URL", attack.llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = attack.tmp / "attacker-out"
    assert (
        cli_main(["diff", "-C", str(attack.repo.root), "--base", "main", "--out", str(out), "-q"])
        == 0
    )
    attack.llm.responder = honest
    attack.llm.reset()
    return attack.repo.root / ".evalbot" / "cache"


def test_forged_cache_committed_with_add_f_does_not_turn_a_regression_green(attack, monkeypatch):
    attack.repo.write({"prompts/answers.md": VAGUE, ".gitignore": ".evalbot/\n"})
    _record_good_answers(attack, monkeypatch)
    ws = attack.push({}, force_add=True)
    assert attack.repo.git("ls-files", ".evalbot")  # the forged entries are in the head commit
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 1, out.log
    assert out.check["conclusion"] == "failure"
    assert out.outputs["verdict"] == "fail"
    assert len(attack.llm.requests) == 2 * N  # every answer came from the endpoint


def test_entries_planted_in_a_restored_cache_dir_are_misses(attack, monkeypatch):
    attack.repo.write({"prompts/answers.md": VAGUE, ".gitignore": ".evalbot/\n.cache/\n"})
    planted = _record_good_answers(attack, monkeypatch)
    restored = attack.repo.root / ".cache" / "evalbot"
    shutil.copytree(planted, restored)  # e.g. by an earlier job, restored by actions/cache
    ws = attack.push({})
    out = run_action(attack.env(ws, inputs={"cache-dir": ".cache/evalbot"}), ws, attack.github)
    assert out.code == 1, out.log
    assert len(attack.llm.requests) == 2 * N


def test_a_cache_dir_the_pr_tracks_is_refused(attack):
    ws = attack.push({"prompts/answers.md": VAGUE, ".cache/evalbot/aa/x.json": "{}"})
    out = run_action(attack.env(ws, inputs={"cache-dir": ".cache/evalbot"}), ws, attack.github)
    assert out.code == 2, out.log
    assert "tracked by git" in out.result.summary
    assert out.check["conclusion"] == "failure"
    assert attack.llm.requests == []


def test_a_cache_dir_through_a_committed_symlink_is_refused(attack):
    elsewhere = attack.tmp / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, attack.repo.root / ".cache")
    ws = attack.push({"prompts/answers.md": VAGUE})
    out = run_action(attack.env(ws, inputs={"cache-dir": ".cache/evalbot"}), ws, attack.github)
    assert out.code == 2, out.log
    assert "symlink" in out.result.summary
    assert list(elsewhere.iterdir()) == []


def test_a_committed_evalbot_symlink_no_longer_redirects_cache_writes(attack):
    elsewhere = attack.tmp / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, attack.repo.root / ".evalbot")
    ws = attack.push({"prompts/answers.md": VAGUE})
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 1, out.log
    assert list(elsewhere.iterdir()) == []  # the cache is under RUNNER_TEMP, not in the checkout
    assert any(ResponseCache(attack.tmp / "runner-temp" / "evalbot-cache").keys())


def test_a_rerun_is_answered_by_the_signed_cache_and_the_comment_shows_the_hit_share(attack):
    ws = attack.push({"prompts/answers.md": VAGUE})
    env = attack.env(ws)
    assert run_action(env, ws, attack.github).code == 1
    again = run_action(env, ws, attack.github)
    assert again.code == 1
    assert len(attack.llm.requests) == 2 * N
    [comment] = attack.github.comments_on("octo/app", 7)
    assert "100% cached" in comment["body"]
