"""A run a person can follow: the plan before the first call and progress while it runs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time

import yaml

from evalbot.cli import main
from evalbot.report.progress import Progress, SuitePlan, plan_line
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 20
PROGRESS = re.compile(r"evalbot: [\d,]+/[\d,]+ calls \(")


def _repo(tmp_path) -> Repo:
    config = {
        "version": 1,
        "suites": [
            {
                "name": "support",
                "prompt": "prompts/support.md",
                "model": "models/m.yaml",
                "dataset": "evals/support.jsonl",
                "metrics": [{"name": "said", "type": "contains", "value": "question"}],
            }
        ],
    }
    rows = [json.dumps({"id": f"q{i}", "question": f"question {i}"}) for i in range(N)]
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": (
                "provider: openai\nmodel: fake-model\nparams: {max_tokens: 100}\n"
                "price: {input: 1.0, output: 2.0}\n"
            ),
            "evals/support.jsonl": "\n".join(rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak")
    return repo


def _start(repo: Repo, tmp_path, fake: FakeOpenAI, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
    env.pop("GITHUB_ACTIONS", None)
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    args += ["--concurrency", "1", "--max-cost-usd", "5", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "evalbot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_slow_run_shows_its_plan_and_progress_on_stderr_before_it_ends(tmp_path):
    repo = _repo(tmp_path)
    with FakeOpenAI(latency_s=0.05) as fake:
        proc = _start(repo, tmp_path, fake)
        assert proc.stderr is not None
        seen: list[str] = []
        while True:
            line = proc.stderr.readline()
            assert line, f"stderr closed before any progress line: {seen}"
            seen.append(line)
            if PROGRESS.match(line):
                break
        # The first progress line arrived while calls were still being sent.
        still_running = proc.poll() is None
        sent_then = len(fake.requests)
        out, err = proc.communicate(timeout=120)
    assert still_running and sent_then < 2 * N
    plan = next(line for line in seen if line.startswith("evalbot: plan support"))
    assert f"{N} examples × 1 sample × 2 sides (base+head) = {2 * N} calls" in plan
    assert f"0 cached, {2 * N} to send" in plan
    assert "est. ≈$" in plan
    assert any("cost cap: $5" in line for line in seen)
    progress = [line for line in seen + err.splitlines() if PROGRESS.match(line)]
    assert progress[-1].startswith(f"evalbot: {2 * N}/{2 * N} calls (100%)")
    assert "evalbot: plan" not in out  # stdout stays the report
    assert not any(PROGRESS.match(line) for line in out.splitlines())


def test_a_second_run_plans_everything_from_the_cache_and_quiet_prints_no_progress(
    tmp_path, monkeypatch, capsys
):
    repo = _repo(tmp_path)
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        assert main(args) == 0
        capsys.readouterr()
        assert main(args) == 0
        out, err = capsys.readouterr()
        assert f"{2 * N} cached, 0 to send" in err
        # The cache-hit counter never runs ahead of the calls landed.
        for line in err.splitlines():
            if m := re.match(r"evalbot: (\d+)/\d+ calls \(\d+%\), cached (\d+)", line):
                assert int(m.group(2)) <= int(m.group(1)), line
        assert f"{2 * N}/{2 * N} calls (100%), cached {2 * N}" in err
        # Honest costs: nothing was sent, so nothing was spent, though the answers cost money.
        assert "cost: $0.00 spent this run (0 calls sent); $0.000" in out
        usage = json.loads((tmp_path / "out" / "results.json").read_text())["usage"]
        assert usage["spent_usd"] == 0 and usage["cost_usd"] > 0
        assert "est. ≈$0.0000" in err
        assert "cost cap: none" in err
        assert main([*args, "--quiet"]) == 0
        err = capsys.readouterr().err
    assert not any(PROGRESS.match(line) for line in err.splitlines())
    assert "evalbot: plan" not in err


def test_plain_lines_every_ten_percent_or_fifteen_seconds():
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(stream=stream, live=False, clock=lambda: now[0])

    class Runner:
        sent, cache_hits, spent_usd = 0, 0, 0.0

        def error_count(self) -> int:
            return 1

    plan = SuitePlan("s", examples=50, samples=2, sides=2, cached=0, estimated_usd=None)
    progress.plan([plan], max_cost_usd=None)
    for _ in range(9):  # 9 % of 200 calls: no step crossed yet
        progress.call_done("generate", Runner())
    assert "calls (" not in stream.getvalue()
    now[0] = 16.0  # ... but 15 s passed
    progress.call_done("generate", Runner())
    for _ in range(190):
        progress.call_done("generate", Runner())
    lines = [line for line in stream.getvalue().splitlines() if "calls (" in line]
    assert lines[0].startswith("evalbot: 10/200 calls (5%), cached 0, errors 1")
    assert "ETA" in lines[0]
    assert len(lines) == 1 + 10  # the 15 s line, then one per 10 % step
    assert lines[-1].startswith("evalbot: 200/200 calls (100%)")
    assert "cost unknown" in plan_line(plan)


def test_live_bar_writes_to_its_stream_with_counters(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # the bar's width: room for every counter
    stream = io.StringIO()
    progress = Progress(stream=stream, live=True)

    class Runner:
        sent, cache_hits, spent_usd = 3, 1, 0.0123

        def error_count(self) -> int:
            return 2

    progress.plan([SuitePlan("s", 2, 1, 2, 1, 0.5)], max_cost_usd=1.0)
    for _ in range(4):
        progress.call_done("generate", Runner())
        time.sleep(0)
    progress.close()
    text = stream.getvalue()
    assert "4/4" in text and "cached 1, errors 2, spent $0.0123" in text


def test_a_suite_name_cannot_break_the_plan_line_into_a_workflow_command():
    line = plan_line(SuitePlan("x\n::error::pwned", 1, 1, 1, 0, None))
    assert "\n" not in line and "::error::" not in line
