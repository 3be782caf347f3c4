"""`evalbot calibrate` for the correction: se/sp or slope in the record, pairwise labels with
position consistency."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from evalbot.cli import calibrate as calibrate_command
from evalbot.errors import InputError
from evalbot.pipeline.judge_calibration import RECORD_SCHEMA
from tests.fakes.openai_server import FakeOpenAI
from tests.judges.helpers import RUBRIC, fenced, prompt_of, reply_json

CONFIG = """\
version: 1
judge: {model: models/judge.yaml}
suites:
  - name: support
    prompt: prompts/support.md
    model: models/support.yaml
    dataset: evals/support.jsonl
    metrics:
      - {name: grounded, type: llm_rubric, rubric: rubrics/helpful.md, scale: [0, 1]}
      - {name: preferred, type: pairwise}
"""


def _repo(tmp_path: Path, rows: list[dict]) -> Path:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "rubrics").mkdir()
    (repo / "evalbot.yml").write_text(CONFIG)
    (repo / "models" / "judge.yaml").write_text("provider: openai\nmodel: judge-model\n")
    (repo / "rubrics" / "helpful.md").write_text(RUBRIC)
    (repo / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return repo


def _run(repo: Path, metric: str) -> tuple[int, dict]:
    parser = argparse.ArgumentParser()
    calibrate_command.add_arguments(parser)
    args = parser.parse_args(
        ["--labels", str(repo / "labels.jsonl"), "-C", str(repo), "--out", str(repo / "c.json"),
         "--bootstrap", "300", "--suite", "support", "--metric", metric]
    )  # fmt: skip
    code = calibrate_command.run(args)
    return code, json.loads((repo / "c.json").read_text())


@pytest.fixture
def llm(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("EVALBOT_ALLOWED_HOSTS", raising=False)
    return fake


def _quality(text: str) -> int:
    return int(re.search(r"quality (\d)", text)[1])  # type: ignore[index]


def test_binary_record_has_se_sp_and_j_with_intervals(tmp_path, llm, capsys):
    """The judge passes 34 of 40 human passes (se 0.85) and 15 of 60 fails (sp 0.75)."""
    rows = []
    for i in range(100):
        human = 1 if i < 40 else 0
        judged = (i < 34) or (40 <= i < 55)
        rows.append({"id": f"r{i}", "output": f"out {i} [quality {int(judged)}]", "human": human})
    repo = _repo(tmp_path, rows)

    def respond(body: dict) -> str:
        if prompt_of(body) == "rubric-steps/1":
            return reply_json(steps=["Check it."])
        return reply_json(score=_quality(fenced(body, "answer")[0]), reason="ok")

    llm.responder = respond
    _, record = _run(repo, "grounded")
    assert record["schema"] == RECORD_SCHEMA and record["binary"]
    sens = record["sensitivity"]
    assert sens["kind"] == "binary" and sens["estimate"] == pytest.approx(0.60)
    assert sens["details"]["se"] == pytest.approx(0.85)
    assert sens["details"]["sp"] == pytest.approx(0.75)
    assert sens["low"] < 0.6 < sens["high"] and sens["calibrated"]
    assert record["judge_values"]["r0"] == 1.0 and record["judge_values"]["r99"] == 0.0
    assert record["labels"] == "labels.jsonl"  # relative to the repository: a diff finds it
    assert record["prompt_version"].startswith("rubric-steps/1+rubric-score/1")
    out = capsys.readouterr().out
    assert "J = se + sp − 1      0.600" in out and "specificity sp       0.750" in out


def _pairs(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = 1 + i % 5, 1 + (i * 2 + 1) % 5
        human = "tie" if a == b else ("B" if b > a else "A")
        rows.append({"id": f"p{i}", "question": f"q{i}", "output_a": f"A{i} [quality {a}]",
                     "output_b": f"B{i} [quality {b}]", "human": human})  # fmt: skip
    return rows


def test_pairwise_labels_report_agreement_and_position_consistency(tmp_path, llm, capsys):
    repo = _repo(tmp_path, _pairs(40))

    def content_judge(body: dict) -> str:
        first, second = (_quality(t) for t in fenced(body, "answer"))
        return reply_json(
            reason="ok", winner="tie" if first == second else "A" if first > second else "B"
        )

    llm.responder = content_judge
    code, record = _run(repo, "preferred")
    assert code == 0 and record["pairwise"]
    assert record["agreement"] == pytest.approx(1.0) and record["position_consistency"] == 1.0
    assert record["verdict"] == "reliable"
    assert "position consistency 1.000" in capsys.readouterr().out


def test_pairwise_judge_that_follows_the_slot_has_no_consistency(tmp_path, llm):
    repo = _repo(tmp_path, _pairs(40))
    llm.responder = lambda body: reply_json(reason="first is best", winner="A")
    code, record = _run(repo, "preferred")
    assert record["position_consistency"] == 0.0 and record["first_slot_rate"] == 1.0
    assert record["agreement_no_ties"] is None  # every judge verdict became a tie
    assert record["verdict"] == "unreliable" and code == 1


def test_pairwise_label_errors_name_the_line(tmp_path, llm):
    repo = _repo(tmp_path, [{"output_a": "x", "output_b": "y", "human": "maybe"}])
    with pytest.raises(InputError, match="'human' must be") as info:
        _run(repo, "preferred")
    assert info.value.line == 1
