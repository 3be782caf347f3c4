"""A sharded PR end to end: 4 shards of a 2,000-example suite with the CLI against the loopback
model fake, ``evalbot merge``, then ``evalbot publish`` through the loopback GitHub fake.

The merged result must equal one unsharded run (scores, Δ, CI, p, verdicts); only wall time may
differ. A missing or foreign shard is refused before anything is posted.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import pytest
import yaml

from evalbot.cli import main
from evalbot.github import publish
from evalbot.report import results_io
from tests.action.conftest import PR, REPO, TOKEN, fast_github
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 2000
SHARDS = 4
SLOPPY = "Be brief and skip the details."


def _responder(body: dict) -> str:
    system = body["messages"][0]["content"]
    question = body["messages"][-1]["content"]
    word = question.rsplit(" ", 1)[-1].strip("?")
    if SLOPPY in system and random.Random(question).random() < 0.04:
        return "Sure, happy to help with that."
    return f"The answer is {word}."


def _prompt(system: str) -> str:
    return yaml.safe_dump(
        {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": "Question {{n}}: what is {{expected}}?"},
            ]
        }
    )


@pytest.fixture
def repo(tmp_path):
    config = {
        "version": 1,
        "gate": {"alpha": 0.05, "on_inconclusive": "warn"},
        "suites": [
            {
                "name": "big",
                "prompt": "prompts/big.yaml",
                "model": "models/m.yaml",
                "dataset": "evals/big.jsonl",
                "metrics": [
                    {"name": "correct", "type": "contains", "value": "{{expected}}"},
                ],
                "thresholds": {"correct": {"max_drop": 0.01}},
            }
        ],
    }
    rows = (json.dumps({"id": f"ex-{i}", "n": i, "expected": f"w{i}"}) for i in range(N))
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "models/m.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n"
            "price: {input: 0.15, output: 0.6}\n",
            "prompts/big.yaml": _prompt("You answer."),
            "evals/big.jsonl": "\n".join(rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/big.yaml": _prompt("You answer. " + SLOPPY)}, "sloppier prompt")
    return repo


def _diff(repo: Repo, out: Path, cache: Path, *extra: str) -> int:
    argv = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    argv += ["--out", str(out), "--cache-dir", str(cache), "--concurrency", "32", "-q", *extra]
    return main(argv)


def _per_example(result: dict) -> dict:
    suite = result["suites"][0]
    return {
        side: {
            metric: dict(zip(suite[side]["example_ids"], rows, strict=True))
            for metric, rows in suite[side]["scores"].items()
        }
        for side in ("base", "head")
    }


def _examples(results_dir: Path) -> list[tuple]:
    return [
        (
            e.suite,
            e.side,
            e.id,
            e.position,
            e.scores,
            e.score_details,
            [c.model_copy(update={"cached": False}) for c in e.outputs],
        )
        for e in results_io.iter_examples(results_dir)
    ]


def _publish_env(tmp_path: Path, repo: Repo, gh: FakeGitHub) -> dict[str, str]:
    head, base = repo.git("rev-parse", "pr"), repo.git("rev-parse", "main")
    event = {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"sha": head, "ref": "pr", "repo": {"full_name": REPO}},
            "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    (tmp_path / "event.json").write_text(json.dumps(event))
    gh.add_pull(REPO, PR, head_sha=head, base_sha=base)
    return {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_API_URL": gh.url,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_GITHUB-TOKEN": TOKEN,
    }


def test_four_shards_merge_and_publish_exactly_like_one_run(repo, tmp_path, monkeypatch, capsys):
    with FakeOpenAI(_responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("EVALBOT_CACHE_SECRET", "shard-test-secret")
        assert _diff(repo, tmp_path / "whole", tmp_path / "cache-whole") == 1
        assert len(fake.requests) == 2 * N
        shards = [tmp_path / f"shard-{k}" for k in range(1, SHARDS + 1)]
        for k, out in enumerate(shards, 1):
            # Each shard restores its own cache (here seeded from the unsharded run, as a cache
            # restore-key fallback would be): the recorded answers, latencies included, make
            # the shards comparable example by example, and an unchanged PR sends 0 requests.
            shutil.copytree(tmp_path / "cache-whole", tmp_path / f"cache-{k}")
            code = _diff(repo, out, tmp_path / f"cache-{k}", "--shard", f"{k}/{SHARDS}")
            assert code in (0, 1)
        assert len(fake.requests) == 2 * N

    capsys.readouterr()
    assert main(["merge", *map(str, shards[:-1]), "--out", str(tmp_path / "m")]) == 2
    assert f"missing shard(s) {SHARDS}/{SHARDS}" in capsys.readouterr().err
    assert main(["merge", *map(str, shards), str(shards[0]), "--out", str(tmp_path / "m")]) == 2
    assert "shards overlap" in capsys.readouterr().err

    merged_dir = tmp_path / "merged"
    assert main(["merge", *map(str, shards), "--out", str(merged_dir)]) == 1
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())
    merged = json.loads((merged_dir / "results.json").read_text())
    assert merged["verdict"] == whole["verdict"] == "fail"
    w, m = whole["suites"][0], merged["suites"][0]
    assert m["comparisons"] == w["comparisons"]  # Δ, CI, p, verdicts: every field, exactly
    assert m["absolute"] == w["absolute"] and m["gate"] == w["gate"]
    assert sorted(m["flipped"]) == sorted(w["flipped"])
    assert _per_example(merged) == _per_example(whole)
    for side in ("base", "head"):
        for field in ("error_rate", "judge_errors", "served_by", "positions", "groups"):
            assert m[side][field] == w[side][field], (side, field)
    assert sorted(m["head"]["example_ids"]) == sorted(w["head"]["example_ids"])
    # results.json is compact; the per-example outputs come back from the outputs files alike
    # (shards answered from the cache, so only ``cached`` may differ).
    assert w["head"]["outputs"] == m["head"]["outputs"] == []
    assert _examples(merged_dir) == _examples(tmp_path / "whole")

    with FakeGitHub() as gh:
        gh.add_repo(REPO)
        code = publish.publish_command(
            merged_dir,
            env=_publish_env(tmp_path, repo, gh),
            stdout=io.StringIO(),
            github_factory=fast_github,
            retry_sleep=lambda _s: None,
        )
        assert code == 1
        comments = gh.comments_on(REPO, PR)
        checks = gh.check_runs_on(repo.git("rev-parse", "pr"))
    assert len(comments) == 1 and len(checks) == 1
    assert checks[0]["conclusion"] == "failure"
    assert "correct" in comments[0]["body"]
    # Re-rendered from the compact results.json and the outputs file: the merge's comment.md.
    assert comments[0]["body"] == (merged_dir / "comment.md").read_text()
    assert "The answer is" in comments[0]["body"]  # flipped examples with their outputs


def test_each_shard_keeps_its_own_cache_and_a_rerun_sends_nothing(repo, tmp_path, monkeypatch):
    """Item 4: per-shard caches, kept between runs as actions/cache would (exact key on a
    rerun; the shard's previous cache through restore-keys after a new push)."""
    n = 200  # the first 200 examples of the golden set: enough for every shard to have some
    rows = [json.dumps({"id": f"ex-{i}", "n": i, "expected": f"w{i}"}) for i in range(n)]
    repo.checkout("main")
    repo.commit({"evals/big.jsonl": "\n".join(rows) + "\n"}, "smaller golden set")
    repo.checkout("pr")
    repo.git("merge", "--no-edit", "main")
    caches = [tmp_path / f"cache-{k}" for k in range(1, SHARDS + 1)]

    def sharded(run: str) -> list[Path]:
        outs = [tmp_path / run / f"shard-{k}" for k in range(1, SHARDS + 1)]
        for k, (out, cache) in enumerate(zip(outs, caches, strict=True), 1):
            assert _diff(repo, out, cache, "--shard", f"{k}/{SHARDS}") in (0, 1)
        return outs

    with FakeOpenAI(_responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("EVALBOT_CACHE_SECRET", "shard-test-secret")
        first = sharded("first")
        assert len(fake.requests) == 2 * n  # cold caches: every example, both sides, once
        again = sharded("again")
        assert len(fake.requests) == 2 * n  # the rerun of the unchanged PR: 0 requests
        repo.commit({"prompts/big.yaml": _prompt("You answer. Be kind. " + SLOPPY)}, "push")
        sharded("pushed")
        assert len(fake.requests) == 3 * n  # a new push: the head side only; base from cache
    assert main(["merge", *map(str, first), "--out", str(tmp_path / "m1")]) == 1
    assert main(["merge", *map(str, again), "--out", str(tmp_path / "m2")]) == 1
    m1 = json.loads((tmp_path / "m1" / "results.json").read_text())
    m2 = json.loads((tmp_path / "m2" / "results.json").read_text())
    assert m2["suites"][0]["comparisons"] == m1["suites"][0]["comparisons"]
    assert m2["suites"][0]["head"]["usage"]["sent"] == 0
    assert m2["suites"][0]["head"]["usage"]["cache_hits"] == n
