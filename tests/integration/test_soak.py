"""Soak: a 2,000-request ``evalbot diff`` against an endpoint that misbehaves the way real ones
do (15 % 429s, half with ``Retry-After``; 5 % 500s; 1 % stalled connections; one restart midway),
through the CLI, the openai SDK's own retries and real HTTP. It must end exactly as a clean run
does: same outputs and scores, every answer cached exactly once, and a second run that sends
nothing."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalbot.cli import main
from evalbot.report import results_io
from evalbot.run.cache import ResponseCache
from tests.fakes.openai_server import FakeOpenAI, Faults
from tests.gitrepo import Repo

N = 1000
"""Examples per side: 2,000 distinct requests (the two sides' prompts differ)."""


TIMED = {"latency_ms", "latency_p95_ms"}
"""Metrics measured on the clock: they differ between any two runs, faults or not."""


def _responder(body: dict) -> str:
    """Deterministic per request; the terse head prompt loses the answer more often."""
    system, question = body["messages"][0]["content"], body["messages"][-1]["content"]
    word = question.rsplit(" ", 1)[-1].strip("?")
    roll = int(hashlib.sha256(f"{system}|{question}".encode()).hexdigest()[:8], 16) / 2**32
    return "I am not sure." if roll < (0.25 if "Terse" in system else 0.1) else f"It is {word}."


def _files(system: str) -> dict[str, str]:
    config = {
        "version": 1,
        "suites": [
            {
                "name": "soak",
                "prompt": "prompts/soak.yaml",
                "model": "models/m.yaml",
                "dataset": "evals/soak.jsonl",
                "metrics": [{"name": "correct", "type": "contains", "value": "{{expected}}"}],
                "thresholds": {"correct": {"max_drop": 0.02}},
            }
        ],
    }
    prompt = {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Question {{n}}: what is {{expected}}?"},
        ]
    }
    rows = (json.dumps({"id": f"q{i}", "n": i, "expected": f"w{i}"}) for i in range(N))
    return {
        "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
        # A short timeout so that stalled connections cost seconds; the SDK retries them.
        "models/m.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0, seed: 3}\n"
        "timeout_s: 3\n",
        "prompts/soak.yaml": yaml.safe_dump(prompt),
        "evals/soak.jsonl": "\n".join(rows) + "\n",
    }


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit(_files("You answer questions."), "base")
    repo.branch("pr")
    repo.commit(_files("Terse. You answer questions."), "terser prompt")
    return repo


def _diff(repo: Repo, out: Path, cache: Path, fake: FakeOpenAI, monkeypatch) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    argv = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "-q"]
    # One cache scope for both servers: the clean and the faulty run file answers under the same
    # keys (otherwise the endpoint URL, which differs by port, is part of every key).
    argv += ["--cache-scope", "soak", "--concurrency", "32"]
    code = main([*argv, "--out", str(out), "--cache-dir", str(cache)])
    assert code == 1  # the terse prompt regresses: the gate fails, the run completes
    return results_io.load_full(out).model_dump(mode="json")  # with the outputs file


def _answers(result: dict[str, Any]) -> dict[str, Any]:
    """Everything about the evaluation that must not depend on how the endpoint behaved."""
    [suite] = result["suites"]
    sides = {
        side: {
            "ids": suite[side]["example_ids"],
            "texts": [[c["text"] for c in row] for row in suite[side]["outputs"]],
            "errors": [[c["error"] for c in row] for row in suite[side]["outputs"]],
            "scores": {m: v for m, v in suite[side]["scores"].items() if m not in TIMED},
        }
        for side in ("base", "head")
    }
    keep = ("metric", "n", "base_mean", "head_mean", "delta", "ci_low", "ci_high", "p_value")
    comparisons = [
        {k: c[k] for k in keep} | {"verdict": c["verdict"]}
        for c in suite["comparisons"]
        if c["metric"] not in TIMED
    ]
    return {"sides": sides, "comparisons": comparisons, "verdict": result["verdict"]}


def _entries(cache: Path) -> dict[str, str]:
    store = ResponseCache(cache)
    entries = {key: completion.text or "" for key, completion in store.entries()}
    store.close()
    assert len(entries) == len(list(store.keys()))  # every entry whole
    return entries


def _restart_midway(fake: FakeOpenAI, done: threading.Event) -> threading.Thread:
    def watch() -> None:
        while not done.is_set() and len(fake.requests) < N:
            time.sleep(0.005)
        if not done.is_set():
            fake.restart()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_soak_with_rate_limits_errors_stalls_and_a_restart(repo: Repo, tmp_path: Path, monkeypatch):
    with FakeOpenAI(_responder) as clean:
        expected = _answers(
            _diff(repo, tmp_path / "clean", tmp_path / "cache-clean", clean, monkeypatch)
        )
        assert len(clean.requests) == 2 * N
    assert all(
        e is None for side in expected["sides"].values() for row in side["errors"] for e in row
    )

    faults = Faults(rate_429=0.15, rate_500=0.05, rate_stall=0.01, seed=9)
    with FakeOpenAI(_responder, faults=faults) as faulty:
        done = threading.Event()
        watcher = _restart_midway(faulty, done)
        cache = tmp_path / "cache"
        try:
            result = _diff(repo, tmp_path / "out", cache, faulty, monkeypatch)
        finally:
            done.set()
            watcher.join(timeout=10)
        assert faulty.restarts == 1  # midway: after N requests, while the run went on
        assert _answers(result) == expected
        sent = len(faulty.requests)
        served = faults.served
        # Every request was answered (an answer cut by the restart or a slow one the client gave
        # up on is answered again), after the faults were retried.
        assert served["ok"] >= 2 * N and sent == sum(served.values())
        for fault in ("429", "429+retry-after", "500", "stall"):
            assert served[fault] > 0, served
        assert _entries(cache) == _entries(tmp_path / "cache-clean")  # none lost, none extra
        assert len(_entries(cache)) == 2 * N

        again = _diff(repo, tmp_path / "again", cache, faulty, monkeypatch)
        assert len(faulty.requests) == sent  # answered from the cache: nothing sent
        assert _answers(again) == expected
