"""The power warning: a golden set too small for its own ``max_drop`` says so once, with the n
that ``evalbot power`` gives for the same discordance; a large enough one says nothing."""

from __future__ import annotations

import re

import pytest

from evalbot.cli import main
from evalbot.records import RunResult
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo


def _config(max_drop: float) -> str:
    return (
        "version: 1\nsuites:\n  - name: qa\n    prompt: p.md\n    model: m.yaml\n"
        "    dataset: d.jsonl\n    metrics:\n"
        '      - {name: correct, type: contains, value: "{{expected}}"}\n'
        f"    thresholds:\n      correct: {{max_drop: {max_drop}}}\n"
    )


def _responder(body: dict) -> str:
    """Under the new prompt every fifth answer flips: 1 in 10 worse, 1 in 10 better."""
    text = body["messages"][-1]["content"]
    n = int(text.rsplit(" ", 1)[-1])
    right = f"It is w{n}"
    if text.startswith("New"):
        return "No idea" if n % 10 == 0 else right
    return "No idea" if n % 10 == 5 else right


def _run(tmp_path, monkeypatch, *, n: int, max_drop: float) -> RunResult:
    repo = Repo(tmp_path / f"repo{n}")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(n))
    files = {"evalbot.yml": _config(max_drop), "p.md": "Answer {{n}}\n", "d.jsonl": rows}
    repo.commit({**files, "m.yaml": "provider: openai\nmodel: fake-1\n"}, "base")
    repo.branch("pr")
    repo.commit({"p.md": "New answer {{n}}\n"}, "new prompt")
    with FakeOpenAI(_responder) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        out = tmp_path / f"out{n}"
        main(["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "--out", str(out)])
    return RunResult.model_validate_json((out / "results.json").read_text())


def test_too_small_a_golden_set_warns_once_with_the_n_evalbot_power_gives(
    tmp_path, monkeypatch, capsys
):
    result = _run(tmp_path, monkeypatch, n=40, max_drop=0.05)
    [suite] = result.suites
    warnings = [note for note in suite.notes if note.startswith("Power:")]
    assert len(warnings) == 1
    [note] = warnings
    assert "40 examples" in note and "max_drop 0.05" in note
    assert "20% of examples changing outcome (this run's pairs)" in note
    needed = int(re.search(r"about ([\d,]+) examples", note).group(1).replace(",", ""))
    capsys.readouterr()
    assert main(["power", "--drop", "0.05", "--discordance", "0.2", "--n", "40"]) == 0
    printed = capsys.readouterr().out
    assert f"drop: {needed:,}" in printed
    comment = (tmp_path / "out40" / "comment.md").read_text()
    assert comment.count("Power: this golden set") == 1


@pytest.mark.parametrize("max_drop", [0.3])
def test_a_golden_set_that_can_see_its_margin_says_nothing(tmp_path, monkeypatch, max_drop):
    result = _run(tmp_path, monkeypatch, n=40, max_drop=max_drop)
    [suite] = result.suites
    assert not [n for n in suite.notes if n.startswith("Power:")]
