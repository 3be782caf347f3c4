"""`evalbot diff` end to end: a real git repository, the CLI, real HTTP to a loopback fake."""

from __future__ import annotations

import gzip
import json
import random
import shutil

import pytest
import yaml

from evalbot.cli import main
from evalbot.report import results_io
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 40
SUITES = ("alpha", "beta", "gamma")
SLOPPY = "Be brief and skip the details."


def _responder(body: dict) -> str:
    """Answers with the expected word, except under the sloppy prompt, where it often drops it."""
    system = body["messages"][0]["content"]
    question = body["messages"][-1]["content"]
    word = question.rsplit(" ", 1)[-1].strip("?")
    rng = random.Random(f"{question}|{body.get('seed')}")
    if SLOPPY in system and rng.random() < 0.45:
        return "Sure, happy to help with that."
    return f"The answer is {word}."


def _files(prompts: dict[str, str]) -> dict[str, str]:
    config = {
        "version": 1,
        "gate": {"alpha": 0.05, "on_inconclusive": "warn"},
        "suites": [
            {
                "name": name,
                "prompt": f"prompts/{name}.yaml",
                "model": "models/m.yaml",
                "dataset": f"evals/{name}.jsonl",
                "metrics": [{"name": "correct", "type": "contains", "value": "{{expected}}"}],
                "thresholds": {"correct": {"max_drop": 0.02}},
            }
            for name in SUITES
        ],
    }
    files = {
        "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
        "models/m.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0, seed: 3}\n"
        "price: {input: 0.15, output: 0.6}\n",
    }
    for name in SUITES:
        files[f"prompts/{name}.yaml"] = yaml.safe_dump(
            {
                "messages": [
                    {"role": "system", "content": prompts.get(name, f"You answer {name}.")},
                    {"role": "user", "content": "Question {{n}}: what is {{expected}}?"},
                ]
            }
        )
        rows = [
            json.dumps({"id": f"{name}-{i}", "n": i, "expected": f"w{name}{i}"}) for i in range(N)
        ]
        files[f"evals/{name}.jsonl"] = "\n".join(rows) + "\n"
    return files


@pytest.fixture
def repo(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit(_files({}), "base")
    repo.branch("pr")
    return repo


@pytest.fixture
def fake(monkeypatch):
    with FakeOpenAI(_responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def _diff(repo: Repo, tmp_path, *extra: str, out: str = "out") -> int:
    return main(
        [
            "diff",
            "-C",
            str(repo.root),
            "--base",
            "main",
            "--head",
            "pr",
            "--out",
            str(tmp_path / out),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ]
    )


def test_only_the_changed_suite_runs_and_a_rerun_sends_nothing(repo, fake, tmp_path, capsys):
    repo.commit(
        {"prompts/beta.yaml": _files({"beta": "You answer beta. " + SLOPPY})["prompts/beta.yaml"]}
    )
    assert _diff(repo, tmp_path) == 1  # the planted regression fails the gate
    first = len(fake.requests)
    assert first == 2 * N  # beta only: base and head, one sample each
    assert all("beta" in r["messages"][0]["content"] for r in fake.requests)

    result = json.loads((tmp_path / "out" / "results.json").read_text())
    by_name = {s["name"]: s for s in result["suites"]}
    assert by_name["alpha"]["status"] == "skipped" and by_name["gamma"]["status"] == "skipped"
    beta = by_name["beta"]
    assert beta["triggers"] == ["prompts/beta.yaml"]
    correct = next(c for c in beta["comparisons"] if c["metric"] == "correct")
    assert correct["test"] == "exact unconditional score test"
    assert correct["verdict"] == "regressed" and correct["gate"] == "fail"
    assert correct["delta"] < -0.2
    assert result["verdict"] == "fail"
    assert result["head_sha"] == repo.git("rev-parse", "pr")
    assert result["merge_base"] == repo.git("rev-parse", "main")
    comment = (tmp_path / "out" / "comment.md").read_text()
    assert comment.startswith("<!-- evalbot:evalbot -->")
    assert (tmp_path / "out" / "junit.xml").exists()
    assert "regressed" in capsys.readouterr().out

    assert _diff(repo, tmp_path) == 1
    assert len(fake.requests) == first  # everything came from the cache
    rerun = json.loads((tmp_path / "out" / "results.json").read_text())
    beta2 = next(s for s in rerun["suites"] if s["name"] == "beta")
    assert beta2["head"]["usage"]["sent"] == 0 and beta2["head"]["usage"]["cache_hits"] == N

    assert _diff(repo, tmp_path, "--offline") == 1
    assert len(fake.requests) == first


def test_unchanged_prompt_sends_identical_requests_once(repo, fake, tmp_path):
    repo.commit({"evals/alpha.jsonl": (repo.root / "evals/alpha.jsonl").read_text() + "\n"})
    assert _diff(repo, tmp_path) == 0
    # the golden set changed, so alpha ran; base and head prompts are identical: sent once
    assert len(fake.requests) == N
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    alpha = next(s for s in result["suites"] if s["name"] == "alpha")
    correct = next(c for c in alpha["comparisons"] if c["metric"] == "correct")
    assert correct["delta"] == 0 and correct["verdict"] in ("unchanged", "inconclusive")


def test_no_eval_change_passes_without_a_model_call(repo, fake, tmp_path):
    repo.commit({"README.md": "docs only\n"})
    assert _diff(repo, tmp_path) == 0
    assert fake.requests == []
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {s["status"] for s in result["suites"]} == {"skipped"}


def test_offline_miss_is_a_clear_usage_error(repo, fake, tmp_path, capsys):
    repo.commit(
        {"prompts/gamma.yaml": _files({"gamma": "New gamma prompt."})["prompts/gamma.yaml"]}
    )
    assert _diff(repo, tmp_path, "--offline") == 2
    err = capsys.readouterr().err
    assert "offline" in err and "Traceback" not in err
    assert fake.requests == []
    assert (tmp_path / "out" / "results.json").exists()  # written before the non-zero exit


def test_bad_config_is_one_line_exit_2(repo, tmp_path, capsys):
    repo.commit({"evalbot.yml": "version: 1\nsuites:\n  - name: x\n    prompt: p\n"})
    assert _diff(repo, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pr:evalbot.yml" in err[0] and "model" in err[0]


def test_missing_placeholder_names_file_variable_and_example(repo, tmp_path, capsys):
    prompt = yaml.safe_dump({"messages": [{"role": "user", "content": "{{nope}}"}]})
    repo.commit({"prompts/alpha.yaml": prompt})
    assert _diff(repo, tmp_path) == 2
    err = capsys.readouterr().err
    assert "prompts/alpha.yaml" in err and "nope" in err and "alpha-0" in err


def test_provider_auth_failure_exits_3_and_keeps_results(repo, tmp_path, monkeypatch, capsys):
    with FakeOpenAI(_responder, api_key="right-key") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "wrong-key-123")
        repo.commit({"prompts/alpha.yaml": _files({"alpha": "v2"})["prompts/alpha.yaml"]})
        assert _diff(repo, tmp_path) == 3
    err = capsys.readouterr().err
    assert "wrong-key-123" not in err
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["verdict"] == "error"


def test_shards_merge_to_the_same_verdict_as_one_run(repo, fake, tmp_path):
    repo.commit(
        {"prompts/beta.yaml": _files({"beta": "You answer beta. " + SLOPPY})["prompts/beta.yaml"]}
    )
    assert _diff(repo, tmp_path) == 1
    whole = json.loads((tmp_path / "out" / "results.json").read_text())
    sent = len(fake.requests)
    dirs = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        code = _diff(repo, tmp_path, "--shard", f"{k}/3", out=out.name)
        assert code in (0, 1)
        dirs.append(str(out))
    assert len(fake.requests) == sent  # the shards were answered from the shared cache

    def beta_of(path) -> dict:
        result = json.loads(path.read_text())
        return next(s for s in result["suites"] if s["name"] == "beta")

    sizes = [
        len(beta_of(tmp_path / f"shard{k}" / "results.json")["head"]["example_ids"])
        for k in (1, 2, 3)
    ]
    assert sum(sizes) == N and all(sizes)
    assert main(["merge", *dirs, "--out", str(tmp_path / "merged")]) == 1
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    pick = lambda r: next(  # noqa: E731
        c
        for s in r["suites"]
        if s["name"] == "beta"
        for c in s["comparisons"]
        if c["metric"] == "correct"
    )
    assert pick(merged)["delta"] == pytest.approx(pick(whole)["delta"])
    assert pick(merged)["verdict"] == pick(whole)["verdict"] == "regressed"
    assert merged["command"] == "merge"


def test_run_evaluates_one_revision_with_absolute_thresholds(repo, fake, tmp_path):
    code = main(
        [
            "run",
            "-C",
            str(repo.root),
            "--rev",
            "main",
            "--out",
            str(tmp_path / "one"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--suite",
            "alpha",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "one" / "results.json").read_text())
    alpha = next(s for s in result["suites"] if s["name"] == "alpha")
    assert alpha["status"] == "new" and alpha["base"] is None and alpha["comparisons"] == []
    assert len(fake.requests) == N
    assert any("absolute thresholds only" in n for n in result["notes"])


def test_samples_override_and_cost_cap(repo, fake, tmp_path, capsys):
    repo.commit({"prompts/alpha.yaml": _files({"alpha": "v2"})["prompts/alpha.yaml"]})
    assert _diff(repo, tmp_path, "--samples", "2") == 0
    seeds = sorted({r.get("seed") for r in fake.requests})
    assert len(fake.requests) == 2 * N * 2 and seeds == [3, 4]  # seed + sample index
    fake.reset()
    code = _diff(
        repo,
        tmp_path,
        "--samples",
        "3",
        "--max-cost-usd",
        "0.000001",
        "--cache-dir",
        str(tmp_path / "cold"),
    )
    assert code == 3
    assert "cost cap" in capsys.readouterr().err


def test_a_template_error_in_any_suite_stops_the_run_before_any_spend(repo, fake, tmp_path):
    bad = yaml.safe_dump({"messages": [{"role": "user", "content": "{{missing}}"}]})
    repo.commit({"models/m.yaml": "provider: openai\nmodel: fake-2\n", "prompts/gamma.yaml": bad})
    assert _diff(repo, tmp_path) == 2
    assert fake.requests == []  # alpha and beta were ready, but nothing is sent
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["verdict"] == "error"


def test_suites_sharing_a_changed_model_generate_together(repo, fake, tmp_path):
    """The last alpha calls wait (in the fake) until a beta call arrives: that only happens in
    time if suites generate concurrently; run one after the other, they would time out."""
    import threading

    beta_arrived = threading.Event()
    alpha_seen: list[int] = []
    timed_out: list[bool] = []

    def responder(body: dict) -> str:
        suite = body["messages"][0]["content"].split()[-1].rstrip(".")
        if suite == "beta":
            beta_arrived.set()
        elif suite == "alpha":
            alpha_seen.append(1)
            if len(alpha_seen) > 60:
                timed_out.append(not beta_arrived.wait(timeout=10))
        return _responder(body)

    fake.responder = responder
    repo.commit({"models/m.yaml": "provider: openai\nmodel: fake-2\nparams: {seed: 3}\n"})
    assert _diff(repo, tmp_path, "--concurrency", "24") == 0
    assert len(fake.requests) == 3 * 2 * N  # three suites, base (fake-1) and head (fake-2)
    assert timed_out and not any(timed_out)


def _edit(path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_merge_refuses_shards_it_cannot_vouch_for(repo, fake, tmp_path, capsys):
    repo.commit(
        {"prompts/beta.yaml": _files({"beta": "You answer beta. " + SLOPPY})["prompts/beta.yaml"]}
    )
    for k in (1, 2):
        assert _diff(repo, tmp_path, "--shard", f"{k}/2", out=f"s{k}") in (0, 1)
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    capsys.readouterr()

    def refused(*dirs) -> str:
        assert main(["merge", *map(str, dirs), "--out", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
        return err

    assert "missing shard(s) 2/2" in refused(s1)  # half the data is not a verdict
    assert "shards overlap: shard 1/2" in refused(s1, s1)
    for field, label in [
        ("head_sha", "head commit"),
        ("base_sha", "base commit"),
        ("config_sha256", "evalbot.yml"),
        ("tool_version", "evalbot version"),
    ]:
        bad = tmp_path / f"bad-{field}"
        shutil.copytree(s2, bad)
        _edit(bad / "results.json", **{field: "0" * 40})
        err = refused(s1, bad)
        assert label in err and str(bad) in err
    bad = tmp_path / "bad-shard"
    shutil.copytree(s2, bad)
    _edit(bad / "results.json", shard="2/3")
    assert "3-way split" in refused(s1, bad)
    _edit(bad / "results.json", shard="../2")
    assert "invalid shard" in refused(s1, bad)
    # The outputs file is part of the artifact: missing, or a compression bomb, is refused.
    bad = tmp_path / "bad-outputs"
    shutil.copytree(s2, bad)
    (bad / "outputs.jsonl.gz").unlink()
    assert "outputs.jsonl.gz is missing" in refused(s1, bad)
    with gzip.open(bad / "outputs.jsonl.gz", "wb") as bomb:
        for _ in range(64):  # 64 MiB of zeros in ~64 KiB
            bomb.write(bytes(1 << 20))
    assert "compression bomb" in refused(s1, bad)
    # The complete set still merges.
    assert main(["merge", str(s1), str(s2), "--out", str(tmp_path / "m")]) == 1
    # Shards written before the outputs file existed (format 1: texts inline) merge alike.
    for k, shard in ((1, s1), (2, s2)):
        old = tmp_path / f"old{k}"
        old.mkdir()
        whole = results_io.load_full(shard).model_copy(
            update={"format_version": 1, "outputs_file": None}
        )
        (old / "results.json").write_text(whole.model_dump_json(indent=2))
    assert main(["merge", str(tmp_path / "old1"), str(s2), "--out", str(tmp_path / "m2")]) == 1
    merged = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("m", "m2")]
    assert merged[0]["suites"] == merged[1]["suites"]
    assert (
        results_io.load_full(tmp_path / "m2").suites == results_io.load_full(tmp_path / "m").suites
    )
