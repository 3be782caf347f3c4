"""Flaky examples end to end: ``evalbot run --samples 4`` on main finds the planted flaky example
(its answer alternates with identical inputs), ``evalbot history record`` stores the scores on
the data branch, and a later single-sample PR whose only flip is that example marks it "likely
noise", and plans its power with main's noise floor."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from evalbot.cli import main
from evalbot.records import RunResult
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 20
FLAKY = 3

CONFIG = """\
version: 1
suites:
  - name: qa
    prompt: p.md
    model: m.yaml
    dataset: d.jsonl
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
    thresholds:
      correct: {max_drop: 0.05}
"""


class Flaky:
    """Right answers, except example 3, whose answer alternates call after call (the head
    prompt's sequence starts on the wrong foot)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> str:
        text = body["messages"][-1]["content"]
        n = int(text.rsplit(" ", 1)[-1])
        if n == FLAKY:
            with self.lock:
                self.calls[text] += 1
                count = self.calls[text] + text.startswith("New")
            if count % 2 == 0:
                return "Hmm, not sure"
        return f"It is w{n}"


@pytest.fixture
def repo(tmp_path) -> Repo:
    repo = Repo(tmp_path / "repo")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(N))
    repo.commit(
        {
            ".gitignore": "out*/\n",
            "evalbot.yml": CONFIG,
            "p.md": "Answer {{n}}\n",
            "m.yaml": "provider: openai\nmodel: fake-1\n",
            "d.jsonl": rows,
        },
        "base",
    )
    return repo


def test_a_planted_flaky_example_is_found_on_main_and_its_flip_marked_likely_noise(
    repo, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    with FakeOpenAI(Flaky()) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        root, out_main = str(repo.root), str(tmp_path / "out-main")
        cache = ["--cache-dir", str(tmp_path / "cache-main")]
        main(["run", "-C", root, "--samples", "4", "--out", out_main, *cache])
        nightly = RunResult.model_validate_json((tmp_path / "out-main/results.json").read_text())
        [suite] = nightly.suites
        assert suite.flakiness is not None and suite.flakiness.samples == 4
        # Two of four samples wrong: two runs disagree 2·2·2 / (4·3) = 2/3 of the time.
        assert suite.flakiness.scores["correct"] == {f"e{FLAKY}": pytest.approx(2 / 3)}
        assert suite.flakiness.discordance["correct"] == pytest.approx(2 / 3 / N)
        assert main(["history", "record", out_main, "-C", root, "--local"]) == 0
        assert "flakiness of qa" in capsys.readouterr().out

        repo.branch("pr")
        repo.commit({"p.md": "New answer {{n}}\n"}, "reword")
        out_pr = tmp_path / "out-pr"
        cache = ["--cache-dir", str(tmp_path / "cache-pr")]
        main(["diff", "-C", root, "--base", "main", "--head", "pr", "--out", str(out_pr), *cache])
    result = RunResult.model_validate_json((out_pr / "results.json").read_text())
    [suite] = result.suites
    assert suite.samples == 1 and suite.flakiness is None
    assert suite.flipped == [f"e{FLAKY}"]
    assert suite.flaky == {f"e{FLAKY}": pytest.approx(2 / 3)}
    comment = (out_pr / "comment.md").read_text()
    assert f"**1. e{FLAKY}** · ⚠️ likely noise: flaky" in comment
    [power] = [n for n in suite.notes if n.startswith("Power:")]
    assert "main's flakiness record" in power
