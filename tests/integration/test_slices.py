"""Slices: a drop confined to one slice (a fifth of the golden set) stays within the suite's
margin, and the slice is flagged; a ``metric@slice`` threshold makes it fail. Plus the error rate
of the slice family under the null, by a vectorized simulation of the exact test evalbot runs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from evalbot.cli import main
from evalbot.records import MetricKind, RunResult, Verdict
from evalbot.report.headline import short_description
from evalbot.stats import compare_metric
from evalbot.stats.exact_binary import p_values_all
from evalbot.stats.slices import holm_reject_any
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

LANGS = ("de", "en", "es", "fr", "it")
N = 200
LOST = 16
"""Examples of lang=de (40 of them) the head gets wrong: 40 points on the slice, 8 overall."""


def _config(slice_threshold: str = "") -> str:
    return (
        "version: 1\n"
        "suites:\n"
        "  - name: support\n"
        "    prompt: prompts/support.md\n"
        "    model: models/chat.yaml\n"
        "    dataset: evals/support.jsonl\n"
        "    metrics:\n"
        '      - {name: correct, type: contains, value: "{{expected}}"}\n'
        "    thresholds:\n"
        "      correct: {max_drop: 0.1}\n" + slice_threshold
    )


def _rows() -> str:
    rows = []
    for i in range(N):
        lang = LANGS[i % len(LANGS)]
        tags = [f"lang={lang}", "tier=pro" if i % 2 else "tier=free"]
        rows.append(json.dumps({"id": f"q{i}", "n": i, "expected": f"w{i}", "tags": tags}))
    return "\n".join(rows) + "\n"


def _responder(body: dict) -> str:
    """The terse prompt loses the first LOST German examples; everything else is right."""
    text = body["messages"][-1]["content"]
    n = int(re.search(r"#(\d+)", text).group(1))  # type: ignore[union-attr]
    german_rank = n // len(LANGS) if n % len(LANGS) == 0 else None
    if text.startswith("Tersely") and german_rank is not None and german_rank < LOST:
        return "Sorry?"
    return f"It is w{n}"


@pytest.fixture
def repo(tmp_path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": _config(),
            "prompts/support.md": "Answer #{{n}}.\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\n",
            "evals/support.jsonl": _rows(),
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Tersely answer #{{n}}.\n"}, "terse")
    return repo


def _diff(repo: Repo, tmp_path, out: str) -> tuple[int, RunResult, str]:
    code = main(
        [
            *("diff", "-C", str(repo.root), "--base", "main", "--head", "pr"),
            *("--out", str(tmp_path / out), "--cache-dir", str(tmp_path / "cache")),
        ]
    )
    result = RunResult.model_validate_json((tmp_path / out / "results.json").read_text())
    return code, result, (tmp_path / out / "comment.md").read_text()


def test_a_drop_in_one_slice_is_flagged_while_the_suite_is_within_its_margin(
    repo, tmp_path, monkeypatch
):
    with FakeOpenAI(_responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        code, result, comment = _diff(repo, tmp_path, "flagged")
        [suite] = result.suites
        correct = next(c for c in suite.comparisons if c.metric == "correct")
        assert correct.delta == pytest.approx(-LOST / N)  # 8 points, margin 10
        assert correct.verdict != Verdict.REGRESSED
        worst = suite.slices[0]
        assert (worst.slice, worst.flagged, worst.named) == ("lang=de", True, False)
        assert worst.comparison.delta == pytest.approx(-LOST / (N / len(LANGS)))
        assert worst.comparison.n == N // len(LANGS)
        assert [s.slice for s in suite.slices if s.flagged] == ["lang=de"]
        # Five languages and two tiers: one Holm family of seven slices for `correct`.
        assert len(suite.slices) == 7
        assert worst.comparison.p_adjusted <= 7 * worst.comparison.p_value + 1e-12
        assert (code, result.verdict, suite.gate) == (0, "pass", "warn")
        assert "Slices: 1 flagged of 7" in comment and "lang=de" in comment
        sent = len(fake.requests)

        # A threshold that names the slice gates on it (answers from the cache).
        repo.commit({"evalbot.yml": _config("      correct@lang=de: {max_drop: 0.05}\n")})
        code, result, comment = _diff(repo, tmp_path, "named")
        assert len(fake.requests) == sent
    [suite] = result.suites
    assert (code, result.verdict, suite.gate) == (1, "fail", "fail")
    worst = suite.slices[0]
    assert (worst.slice, worst.named, worst.comparison.max_drop) == ("lang=de", True, 0.05)
    # The failing regression is the slice's (latency, informational, may also regress by chance
    # on a loaded machine, so the count is not pinned).
    assert " in support (correct@lang=de −40.0 pts" in short_description(result)
    assert "fails its slice threshold" in comment


def test_slice_thresholds_take_only_max_drop(repo, tmp_path, capsys):
    repo.commit({"evalbot.yml": _config("      correct@lang=de: {min: 0.9}\n")})
    code = main(["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "--dry-run"])
    assert code == 2
    err = capsys.readouterr().err
    assert "correct@lang=de" in err and "only max_drop and blocking" in err


def test_null_slices_flag_at_most_alpha_of_the_time():
    """10 slices of 40 examples with no change (discordance 20 %): the chance that Holm over
    the exact test evalbot runs flags any slice stays ≤ α. Vectorized: the exact p-value of
    every outcome (b, c) at n = 40 is computed once and looked up for 40,000 simulated runs."""
    alpha, n, slices, runs, psi = 0.05, 40, 10, 40_000, 0.2
    b_all, c_all, p_all = p_values_all(n, 0.0, "less")
    table = np.full((n + 1, n + 1), np.nan)
    table[b_all.astype(int), c_all.astype(int)] = p_all
    rng = np.random.default_rng(16)
    # Per pair: worse with probability ψ/2, better with ψ/2 (no change in the mean).
    draws = rng.multinomial(n, [psi / 2, psi / 2, 1 - psi], size=(runs, slices))
    worse, better = draws[..., 0], draws[..., 1]
    p = table[worse, better]  # exact_binary's (b, c): b pairs got worse, c better
    assert not np.isnan(p).any()
    flagged = holm_reject_any(p, alpha)
    rate = flagged.mean()
    assert rate <= alpha
    assert rate > 0  # the simulation can flag: the bound is not vacuous

    # The table is the test compare_metric runs: same p for a few simulated slices.
    for run in range(3):
        w, bt = int(worse[run, 0]), int(better[run, 0])
        base = np.ones(n)
        head = np.ones(n)
        head[:w] = 0.0
        base[w : w + bt] = 0.0
        c = compare_metric("correct", base, head, kind=MetricKind.BINARY, alpha=alpha, max_drop=0.0)
        assert c.p_value == pytest.approx(p[run, 0], rel=1e-9, abs=1e-12)
