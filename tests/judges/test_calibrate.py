"""evalbot calibrate: labels → judge over HTTP → agreement record, verdict, PR-comment note."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pytest

from evalbot.cli import calibrate as calibrate_command
from evalbot.errors import InputError, UserError
from evalbot.pipeline import calibrate
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
      - {name: correct, type: contains, value: "{{expected}}"}
      - {name: helpful, type: llm_rubric, rubric: rubrics/helpful.md, scale: [1, 5]}
"""


def _repo(tmp_path: Path, n: int = 40) -> Path:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "rubrics").mkdir()
    (repo / "evalbot.yml").write_text(CONFIG)
    (repo / "models" / "judge.yaml").write_text("provider: openai\nmodel: judge-model\n")
    (repo / "rubrics" / "helpful.md").write_text(RUBRIC)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        quality = int(rng.integers(1, 6))
        row = {
            "id": f"ex{i}",
            "question": f"Question {i}?",
            "output": f"Answer {i} [quality {quality}]",
            "human": [quality, quality] if i < 12 else quality,
        }
        rows.append(row)
    rows.append({"question": "other", "output": "x", "human": 1, "metric": "other_metric"})
    (repo / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return repo


def _judge(noise: bool):
    rng = np.random.default_rng(1)

    def respond(body: dict) -> str:
        if prompt_of(body) == "rubric-steps/1":
            return reply_json(steps=["Read the answer.", "Score it."])
        quality = int(re.search(r"quality (\d)", fenced(body, "answer")[0])[1])  # type: ignore[index]
        score = int(rng.integers(1, 6)) if noise else quality
        return reply_json(score=score, reason="ok")

    return respond


def _args(repo: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    calibrate_command.add_arguments(parser)
    labels, out = str(repo / "labels.jsonl"), str(repo / "cal.json")
    return parser.parse_args(
        ["--labels", labels, "-C", str(repo), "--out", out, "--bootstrap", "300", *extra]
    )


@pytest.fixture
def env(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("EVALBOT_ALLOWED_HOSTS", raising=False)
    return fake


def test_calibrate__agreeing_judge_is_reliable(tmp_path: Path, env: FakeOpenAI, capsys) -> None:
    repo = _repo(tmp_path)
    env.responder = _judge(noise=False)
    assert calibrate_command.run(_args(repo)) == 0
    record = json.loads((repo / "cal.json").read_text())
    assert record["judge_model"] == "judge-model" and record["metric"] == "helpful"
    assert record["n"] == 40 and record["n_dropped"] == 0  # the other metric's row is skipped
    assert len(record["rubric_sha256"]) == 64
    for key in ("kappa", "weighted_kappa", "alpha", "spearman"):
        assert record[key] == pytest.approx(1.0)
        assert record["cis"][key] == pytest.approx([1.0, 1.0])
    assert record["alpha_level"] == "ordinal" and record["verdict"] == "reliable"
    assert record["ceiling"]["n"] == 12 and record["ceiling"]["alpha"] == pytest.approx(1.0)
    assert {"created_at", "scale", "confidence"} <= set(record)
    assert "Verdict: reliable" in capsys.readouterr().out
    assert (
        calibrate.calibration_note(
            record, judge_model="judge-model", rubric_sha256=record["rubric_sha256"]
        )
        is None
    )

    # Offline re-run: everything from the response cache and the frozen steps.
    sent = len(env.requests)
    assert calibrate_command.run(_args(repo, "--offline")) == 0
    assert len(env.requests) == sent


def test_calibrate__random_judge_is_unreliable(tmp_path: Path, env: FakeOpenAI) -> None:
    repo = _repo(tmp_path)
    env.responder = _judge(noise=True)
    assert calibrate_command.run(_args(repo, "--metric", "helpful", "--suite", "support")) == 1
    record = json.loads((repo / "cal.json").read_text())
    assert record["verdict"] == "unreliable"
    assert record["cis"]["alpha"][0] < calibrate.ALPHA_TENTATIVE
    note = calibrate.calibration_note(record, judge_model="judge-model", rubric_sha256=None)
    assert note is not None and note.startswith("Judge calibration is unreliable")


def test_calibrate__rejects_non_judge_metric(tmp_path: Path, env: FakeOpenAI) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(UserError, match="calibrate supports judge metrics"):
        calibrate_command.run(_args(repo, "--metric", "correct"))


def test_agreement__binary_labels() -> None:
    human = [[1], [1], [0], [0], [1], [0], [1], [0]] * 5
    judge = [1.0, 0.8, 0.1, 0.6, 1.0, 0.0, 0.3, 0.0] * 5 + []
    result = calibrate.agreement(judge, human, n_resamples=200)
    assert result["binary"] and result["alpha_level"] == "nominal"
    assert result["weighted_kappa"] is None and result["scale"] == [0, 1]
    assert result["sensitivity"] == pytest.approx(0.75)  # 0.3 rounds to 0 on one positive
    assert result["specificity"] == pytest.approx(0.75)  # 0.6 rounds to 1 on one negative
    assert result["kappa"] == pytest.approx(0.5)


def test_agreement__drops_judge_errors() -> None:
    result = calibrate.agreement([None, 2.0, 3.0, 4.0], [[1], [2], [3], [4]], scale=(1, 5))
    assert result["n"] == 3 and result["n_dropped"] == 1


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "not calibrated"),
        ({"oops": 1}, "unreadable"),
        ({"judge_model": "old-judge", "verdict": "reliable"}, "made for old-judge"),
        ({"judge_model": "j", "rubric_sha256": "aaa", "verdict": "reliable"}, "rubric changed"),
        (
            {"judge_model": "j", "verdict": "tentative", "n": 80, "cis": {"alpha": [0.7, 0.9]}},
            "tentative: Krippendorff's α lower bound 0.70",
        ),
    ],
)
def test_calibration_note(record: dict | None, expected: str) -> None:
    note = calibrate.calibration_note(record, judge_model="j", rubric_sha256="bbb")
    assert note is not None and expected in note and "\n" not in note


def test_calibration_note__fine() -> None:
    record = {"judge_model": "j", "rubric_sha256": "bbb", "verdict": "reliable"}
    assert calibrate.calibration_note(record, judge_model="j", rubric_sha256="bbb") is None
    assert calibrate.calibration_note(record, judge_model="j", rubric_sha256=None) is None


def test_load_labels__errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"output": "a", "human": 3}\n{"output": "b", "human": "good"}\n')
    with pytest.raises(InputError) as error:
        calibrate.load_labels(path)
    assert error.value.line == 2
    path.write_text('{"output": "a"}\n')
    with pytest.raises(InputError, match="'human'"):
        calibrate.load_labels(path)
    path.write_text('{"vars": {"q": "Q"}, "output": "a", "human": [4, null, 5]}\n')
    (row,) = calibrate.load_labels(path)
    assert row.example.vars == {"q": "Q"} and row.human == [4.0, 5.0]
    assert row.example.id.startswith("h-")
