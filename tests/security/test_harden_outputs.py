"""Hostile model outputs and metric definitions (issue 8, item 9): each costs that example an
error (with a clear reason) or the run a clean exit 2, and the results already computed are
written; never a hang, a traceback or a lost results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from evalbot.cli.app import main
from evalbot.report import results_io
from evalbot.run.providers import MAX_RESPONSE_BYTES
from tests.fakes.openai_server import FakeOpenAI
from tests.security.harden_repo import config, error_lines, evalbot, make_repo

EVIL = "evil"
"""The question (echoed by the mock provider) of the one hostile example."""


def _golden(evil_question: str) -> str:
    rows = [{"id": str(i), "question": f"q{i}", "expected": f"q{i}"} for i in range(4)]
    rows.append({"id": EVIL, "question": evil_question, "expected": "x"})
    return "".join(json.dumps(row) + "\n" for row in rows)


def _head(out: Path) -> dict:
    return results_io.load_full(out).suites[0].head.model_dump(mode="json")  # with the outputs


def _of(head: dict, metric: str, example: str) -> tuple[float | None, dict]:
    index = head["example_ids"].index(example)
    return head["scores"][metric][index][0], head["score_details"][metric][index][0]


def test_catastrophic_regex_times_out_as_one_example_error(tmp_path: Path):
    metrics = [{"name": "shape", "type": "regex", "pattern": "^(a|a?)+$"}]
    repo = make_repo(
        tmp_path,
        **{"evalbot.yml": config(metrics=metrics), "evals/g.jsonl": _golden("a" * 20_000 + "!")},
    )
    run = evalbot(repo, "run", "--out", "out")  # hung past 60 s before (``re`` has no timeout)
    assert run.code == 0, run.stdout + run.stderr
    head = _head(repo.root / "out")
    value, details = _of(head, "shape", EVIL)
    assert value is None and "regex timed out" in details["error"]
    assert _of(head, "shape", "1")[0] == 0.0  # the others are scored as usual


def test_lone_surrogate_in_a_golden_set_is_written_and_scored(tmp_path: Path):
    repo = make_repo(tmp_path, **{"evals/g.jsonl": _golden("bad \ud800 answer")})
    assert "\\ud800" in (repo.root / "evals/g.jsonl").read_text()  # escaped, as JSON allows
    out = tmp_path / "out"
    assert main(["run", "-C", str(repo.root), "--out", str(out), "-q"]) == 0
    head = _head(out)
    index = head["example_ids"].index(EVIL)
    assert head["outputs"][index][0]["text"].strip() == "bad \ufffd answer"
    assert _of(head, "correct", EVIL)[0] == 0.0
    assert (out / "comment.md").exists() and (out / "junit.xml").exists()


def test_lone_surrogate_from_an_endpoint_is_written_and_scored(tmp_path: Path, monkeypatch):
    repo = make_repo(
        tmp_path,
        **{"models/m.yaml": "provider: openai\nmodel: fake-1\n", "evals/g.jsonl": _golden("s")},
    )

    def answer(body: dict) -> str:
        question = body["messages"][-1]["content"].strip()
        return "\ud800" if question == "s" else question

    with FakeOpenAI(answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        out = tmp_path / "out"
        assert main(["run", "-C", str(repo.root), "--out", str(out), "-q"]) == 0
    head = _head(out)
    assert head["outputs"][head["example_ids"].index(EVIL)][0]["text"] == "\ufffd"


@pytest.mark.parametrize("metric", ["json_valid", "json_schema"])
def test_deeply_nested_json_output_is_one_example_error(tmp_path: Path, metric: str):
    spec: dict = {"name": "shape", "type": metric}
    if metric == "json_schema":
        spec["schema"] = {"type": "array"}
    repo = make_repo(
        tmp_path,
        **{
            "evalbot.yml": config(metrics=[spec]),
            "evals/g.jsonl": _golden("[" * 100_000 + "]" * 100_000),
        },
    )
    out = tmp_path / "out"
    assert main(["run", "-C", str(repo.root), "--out", str(out), "-q"]) == 0
    value, details = _of(_head(out), "shape", EVIL)
    assert value is None and "nested more than 64 levels" in details["error"]


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
            "$ref": "#/$defs/a",
        },
    ],
)
def test_schema_ref_loop_is_a_config_error(tmp_path: Path, capsys, schema: dict):
    metrics = [{"name": "shape", "type": "json_schema", "schema": schema}]
    repo = make_repo(tmp_path, **{"evalbot.yml": config(metrics=metrics)})
    assert main(["run", "-C", str(repo.root), "--out", str(tmp_path / "out")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "evalbot.yml" in line and "$ref loop" in line


def test_recursive_schema_that_descends_is_still_fine(tmp_path: Path):
    tree = {
        "$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "$ref": "#/$defs/node",
    }
    metrics = [{"name": "shape", "type": "json_schema", "schema": tree}]
    repo = make_repo(
        tmp_path, **{"evalbot.yml": config(metrics=metrics), "evals/g.jsonl": _golden("[[[]]]")}
    )
    out = tmp_path / "out"
    assert main(["run", "-C", str(repo.root), "--out", str(out), "-q"]) == 0
    assert _of(_head(out), "shape", EVIL)[0] == 1.0


def test_oversized_endpoint_answer_is_one_example_error(tmp_path: Path, monkeypatch):
    repo = make_repo(
        tmp_path,
        **{"models/m.yaml": "provider: openai\nmodel: fake-1\n", "evals/g.jsonl": _golden("big")},
    )

    def answer(body: dict) -> str:
        question = body["messages"][-1]["content"].strip()
        return "x" * (MAX_RESPONSE_BYTES + 1) if question == "big" else question

    with FakeOpenAI(answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        out = tmp_path / "out"
        assert main(["run", "-C", str(repo.root), "--out", str(out), "-q"]) == 0
    head = _head(out)
    output = head["outputs"][head["example_ids"].index(EVIL)][0]
    assert output["text"] is None and "larger than 16 MiB" in output["error"]
    assert _of(head, "correct", "1")[0] == 1.0


BIG_ANSWER = (
    "import sys, json\n"
    "request = json.load(sys.stdin)\n"
    "question = request['messages'][-1]['content'].strip()\n"
    f"size = {MAX_RESPONSE_BYTES + 1} if question == 'big' else 0\n"
    "sys.stdout.write(question if not size else 'x' * size)\n"
)

APP = (
    "def answer(request):\n"
    "    question = request['messages'][-1]['content'].strip()\n"
    f"    return 'x' * {MAX_RESPONSE_BYTES + 1} if question == 'big' else question\n"
)


@pytest.mark.parametrize("provider", ["exec", "python"])
def test_oversized_code_provider_answer_is_one_example_error(
    tmp_path: Path, provider: str, monkeypatch
):
    if provider == "exec":
        model = {"provider": "exec", "command": [sys.executable, "answer.py"]}
    else:
        model = {"provider": "python", "target": "app:answer"}
    repo = make_repo(
        tmp_path,
        **{
            "models/m.yaml": json.dumps(model),
            "answer.py": BIG_ANSWER,
            "app.py": APP,
            "evals/g.jsonl": _golden("big"),
        },
    )
    monkeypatch.chdir(repo.root)
    assert main(["run", "--out", "out", "-q"]) == 0
    head = _head(repo.root / "out")
    output = head["outputs"][head["example_ids"].index(EVIL)][0]
    assert "larger than 16 MiB" in output["error"]
    assert _of(head, "correct", "1")[0] == 1.0
