"""Sequential evaluation end to end: the CLI against the loopback model fake on a planted
20-point regression. The early stop must reach the full run's verdict with at most half of its
requests, and a re-run of the stopped PR must answer every request from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalbot.cli import main
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo
from tests.planted import PLANTED_CONFIG

N = 500


def _twenty_points(body: dict) -> str:
    """Right answers, except that the vague prompt misses every fifth example (20 points)."""
    prompt = body["messages"][-1]["content"]
    word = prompt.rsplit(" ", 1)[-1]
    if prompt.startswith("Be vague.") and int(word.removeprefix("w")) % 5 == 0:
        return "Happy to help!"
    return f"It is {word}"


@pytest.fixture
def repo(tmp_path):
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(N))
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": PLANTED_CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n"
            "price: {input: 0.15, output: 0.6}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")
    return repo


@pytest.fixture
def fake(monkeypatch):
    with FakeOpenAI(_twenty_points) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def _diff(repo: Repo, out: Path, cache: Path, *extra: str) -> int:
    argv = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "-q", *extra]
    return main([*argv, "--out", str(out), "--cache-dir", str(cache), "--concurrency", "16"])


def _suite(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["suites"][0]


def test_planted_regression_stops_early_with_the_full_runs_verdict(repo, fake, tmp_path):
    assert _diff(repo, tmp_path / "full", tmp_path / "cache-full") == 1
    full_requests = len(fake.requests)
    assert full_requests == 2 * N

    assert _diff(repo, tmp_path / "seq", tmp_path / "cache-seq", "--sequential") == 1
    seq_requests = len(fake.requests) - full_requests
    assert 0 < seq_requests <= full_requests / 2

    full, seq = _suite(tmp_path / "full"), _suite(tmp_path / "seq")
    assert seq["gate"] == full["gate"] == "fail"
    by_metric = {c["metric"]: c for c in seq["comparisons"]}
    correct = by_metric["correct"]
    assert correct["verdict"] == "regressed" and correct["gate"] == "fail"
    assert correct["test"].startswith("betting test")
    assert correct["ci_high"] < -0.02  # the sequence excludes the margin
    record = seq["sequential"]
    assert record["stopped_early"] and record["reason"] == "all blocking metrics decided"
    assert record["examples_evaluated"] == len(seq["head"]["example_ids"]) < N
    assert record["examples_total"] == N
    assert 2 * record["examples_evaluated"] == seq_requests  # base and head of each example
    assert record["requests_saved"] == 2 * (N - record["examples_evaluated"])
    assert record["decisions"] == {"correct": "regressed"}
    # Both sides of every evaluated example were evaluated together.
    assert seq["base"]["example_ids"] == seq["head"]["example_ids"]
    # Non-blocking metrics say they were computed on what was evaluated.
    latency = by_metric["latency_ms"]
    assert any("before the early stop" in n for n in latency["notes"])
    comment = (tmp_path / "seq" / "comment.md").read_text()
    stop_line = f"stopped after {record['examples_evaluated']:,} of {N:,} examples"
    assert stop_line in comment and "(all blocking metrics decided)" in comment
    assert f"{record['requests_saved']:,} requests saved by the early stop" in comment

    # A re-run of the stopped PR draws the same seeded order: every request is a cache hit.
    assert _diff(repo, tmp_path / "again", tmp_path / "cache-seq", "--sequential") == 1
    assert len(fake.requests) == full_requests + seq_requests
    again = _suite(tmp_path / "again")
    assert again["head"]["example_ids"] == seq["head"]["example_ids"]
    assert again["head"]["usage"]["sent"] == 0 and again["base"]["usage"]["sent"] == 0


COSMETIC_CONFIG = """\
version: 1
gate: {sequential: true}
suites:
  - name: answers
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    samples: 2
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
    thresholds:
      correct: {max_drop: 0.05}
"""


def test_a_cosmetic_change_stops_within_the_margin_drawing_whole_groups(tmp_path, fake):
    """``gate.sequential`` in the config; groups of three examples are drawn whole, and each
    example's two samples are evaluated on both sides."""
    rows = "".join(
        f'{{"id": "e{i}", "n": {i}, "expected": "w{i}", "group": "g{i // 3}"}}\n'
        for i in range(3 * 200)
    )
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": COSMETIC_CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/answers.md": "Answer  {{n}}: w{{n}}\n"}, "cosmetic")
    assert _diff(repo, tmp_path / "out", tmp_path / "cache") == 0
    suite = _suite(tmp_path / "out")
    record = suite["sequential"]
    assert record["unit"] == "group" and record["units_total"] == 200
    assert record["stopped_early"] and record["decisions"] == {"correct": "within margin"}
    assert record["units_evaluated"] < 200
    assert record["examples_evaluated"] == 3 * record["units_evaluated"]
    ids = suite["head"]["example_ids"]
    groups = {}
    for example_id in ids:
        groups.setdefault(int(example_id[1:]) // 3, []).append(example_id)
    assert len(groups) == record["units_evaluated"]
    assert all(len(members) == 3 for members in groups.values())  # whole groups only
    assert all(len(row) == 2 for row in suite["head"]["outputs"])  # K samples together
    assert len(fake.requests) == 2 * 2 * len(ids)  # both sides, two samples each
    correct = next(c for c in suite["comparisons"] if c["metric"] == "correct")
    assert correct["verdict"] in ("unchanged", "improved") and correct["gate"] == "pass"
    assert correct["ci_low"] > -0.05


def test_the_order_is_seeded_and_keeps_groups_whole():
    from evalbot.pipeline.sequential import unit_order
    from evalbot.records import Example

    examples = [Example(id=f"e{i}", group=f"g{i % 7}" if i < 21 else None) for i in range(40)]
    first = unit_order(examples, suite="s", seed=0)
    assert first == unit_order(examples, suite="s", seed=0)
    assert first != unit_order(examples, suite="s", seed=1)
    assert sorted(i for unit in first for i in unit) == list(range(40))
    assert sum(1 for unit in first if len(unit) == 3) == 7  # each group one unit
    assert sum(1 for unit in first if len(unit) == 1) == 19


RUBRIC = "# Helpful\n\n- 5: answers with the right word.\n- 1: does not answer.\n"
JUDGED_CONFIG = """\
version: 1
judge: {model: models/judge.yaml}
suites:
  - name: support
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    metrics:
      - {name: helpful, type: llm_rubric, rubric: rubrics/helpful.md}
    thresholds:
      helpful: {max_drop: 0.2}
"""


def _judged(body: dict) -> str:
    """The model (vague prompt: every other answer unhelpful) and its 1-5 judge."""
    if body["model"] == "judge-model":
        text = "\n".join(m["content"] for m in body["messages"])
        if "evaluation procedures" in text:
            return '{"steps": ["Check that the answer names the word."]}'
        return '{"score": 1}' if "Happy to help" in text else '{"score": 5}'
    return _twenty_points(body) if "w1" not in body["messages"][-1]["content"] else "It is w1"


def test_a_judged_metric_stops_early_on_its_declared_scale(tmp_path, monkeypatch):
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(300))
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": JUDGED_CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "models/judge.yaml": "provider: openai\nmodel: judge-model\n",
            "rubrics/helpful.md": RUBRIC,
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")
    with FakeOpenAI(_judged) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        assert _diff(repo, tmp_path / "out", tmp_path / "cache", "--sequential") == 1
        suite = _suite(tmp_path / "out")
        record = suite["sequential"]
        assert record["stopped_early"] and record["decisions"] == {"helpful": "regressed"}
        evaluated = record["examples_evaluated"]
        judge_calls = [r for r in llm.requests if r["model"] == "judge-model"]
        # One steps call, then a judge call per evaluated output on each side; a head answer
        # identical to the base's is judged once (the second is a cache hit).
        judged = [suite[side]["judge_usage"] for side in ("base", "head")]
        assert sum(u["requests"] for u in judged) == 1 + 2 * evaluated  # with the steps call
        assert len(judge_calls) == sum(u["sent"] for u in judged)
        full_judge_calls = 1 + 300 + 300 // 5  # every base answer, and head's differing ones
        assert len(judge_calls) < full_judge_calls
        helpful = next(c for c in suite["comparisons"] if c["metric"] == "helpful")
        assert helpful["verdict"] == "regressed" and helpful["ci_high"] < -0.2
