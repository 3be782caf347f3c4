"""results.json + outputs.jsonl.gz: written compact, read back whole, refused when they do not
belong together (the artifact is untrusted)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evalbot.records import Completion, RunResult
from evalbot.report import render_comment, results_io, write_outputs
from evalbot.report.results_io import OutputsProblem
from tests.report.factories import make_result, make_side, make_suite

FLIPPED = "ex-2"


def _result() -> RunResult:
    head = make_side(
        outputs={"ex-1": "Hello.", "ex-2": "Refund: 3 days.", "ex-3": None},
        scores={"correct": [1.0, 0.0, None]},
        errors={"ex-3": "HTTP 500 from the endpoint"},
        score_details={"correct": [[{"matched": "Hello"}], [{}], [{"error": "no output"}]]},
        positions=[0, 1, 2],
        groups=["a", "b", None],
    )
    base = make_side(
        "base",
        outputs={"ex-1": "Hello!", "ex-2": "Refund: 30 days.", "ex-3": "Sure."},
        scores={"correct": [1.0, 1.0, 1.0]},
    )
    suite = make_suite(
        base=base,
        head=head,
        flipped=[FLIPPED],
        flipped_inputs={FLIPPED: {"q": "refund?", "expected": "30 days"}},
    )
    return make_result(suite)


def _written(tmp_path: Path) -> tuple[RunResult, Path]:
    result = _result()
    out = tmp_path / "out"
    write_outputs(result, out, check_name="evals")
    return result, out


def _rows(out: Path) -> list[dict]:
    text = gzip.decompress((out / results_io.OUTPUTS_NAME).read_bytes()).decode()
    return [json.loads(line) for line in text.splitlines()]


def _rewrite(out: Path, rows: list[dict]) -> None:
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()
    (out / results_io.OUTPUTS_NAME).write_bytes(gzip.compress(data))


def test_compact_results_json_and_the_outputs_file_give_back_the_whole_result(tmp_path):
    result, out = _written(tmp_path)
    text = (out / "results.json").read_text()
    assert "Refund: 3 days." not in text and "HTTP 500" in text  # reasons kept, texts not
    compact = RunResult.model_validate_json(text)
    assert compact.format_version == 2 and compact.outputs_file.rows == 6
    head = compact.suites[0].head
    assert head.outputs == [] and head.score_details == {"correct": []}
    assert [(r.reason, r.calls, r.example) for r in head.error_reasons] == [
        ("HTTP 500 from the endpoint", 1, "ex-3")
    ]
    full = results_io.load_full(out)
    for side in ("base", "head"):
        want, got = getattr(result.suites[0], side), getattr(full.suites[0], side)
        assert got.outputs == want.outputs and got.score_details == want.score_details
        assert got.scores == want.scores and got.example_ids == want.example_ids
    rows = _rows(out)
    assert [(r["suite"], r["side"], r["index"], r["id"]) for r in rows[:2]] == [
        ("support-answers", "base", 0, "ex-1"),
        ("support-answers", "base", 1, "ex-2"),
    ]
    assert (out / results_io.OUTPUTS_NAME).stat().st_mode & 0o777 == 0o644


def test_the_comment_rendered_from_the_compact_artifact_is_the_one_written(tmp_path):
    _, out = _written(tmp_path)
    compact = results_io.with_flipped_outputs(results_io.load_results(out), out)
    assert compact.suites[0].flipped_outputs["head"][FLIPPED].text == "Refund: 3 days."
    body = render_comment(compact, check_name="evals")
    assert body == (out / "comment.md").read_text()
    assert "Refund: 3 days." in body and "HTTP 500 from the endpoint" in body


def test_iter_examples_reads_both_formats_alike(tmp_path):
    result, out = _written(tmp_path)
    old = tmp_path / "old"
    old.mkdir()
    # A results.json written before the outputs file existed: everything inline, indented.
    (old / "results.json").write_text(result.model_dump_json(indent=2))
    new_rows = list(results_io.iter_examples(out))
    old_rows = list(results_io.iter_examples(old))
    assert new_rows == old_rows and len(new_rows) == 6
    row = next(r for r in new_rows if r.side == "head" and r.id == "ex-3")
    assert row.scores == {"correct": [None]} and row.outputs[0].error.startswith("HTTP 500")
    assert row.score_details == {"correct": [{"error": "no output"}]}
    assert (row.position, row.group, row.index) == (2, None, 2)
    # The old file loads whole too (merge) and renders the same comment (publish).
    assert results_io.load_full(old) == result
    assert (
        render_comment(results_io.load_results(old), check_name="evals")
        == (out / "comment.md").read_text()
    )


def _problem(out: Path) -> str:
    with pytest.raises(OutputsProblem) as info:
        results_io.load_full(out)
    line = info.value.render()
    assert "\n" not in line
    return line


def test_an_outputs_file_that_is_not_the_one_results_json_names_is_refused(tmp_path):
    _, out = _written(tmp_path)
    rows = _rows(out)
    rows[1]["outputs"][0]["text"] = "Refund: 9 days."  # same size, altered text
    _rewrite(out, rows)
    assert "does not match the sha256" in _problem(out)
    _rewrite(out, [rows[1], rows[0], *rows[2:]])
    assert "not the outputs of this results.json" in _problem(out)
    _rewrite(out, rows[:-1])
    assert "has 5 rows, results.json expects 6" in _problem(out)
    _rewrite(out, [*rows, rows[-1]])
    assert "decompresses to more than the" in _problem(out)  # an extra row
    (out / results_io.OUTPUTS_NAME).write_bytes(b"\x1f\x8b\x08garbage")
    assert "not a readable gzip file" in _problem(out)
    (out / results_io.OUTPUTS_NAME).unlink()
    assert "outputs.jsonl.gz is missing" in _problem(out)


def test_a_compression_bomb_is_refused_after_a_bounded_read(tmp_path):
    _, out = _written(tmp_path)
    zeros = bytes(1 << 20)
    with gzip.open(out / results_io.OUTPUTS_NAME, "wb") as bomb:
        for _ in range(64):  # 64 MiB of zeros, no newline, ~64 KiB on disk
            bomb.write(zeros)
    assert (out / results_io.OUTPUTS_NAME).stat().st_size < 1 << 20
    assert "compression bomb" in _problem(out)


def test_a_results_json_naming_another_file_or_a_newer_format_is_refused(tmp_path):
    _, out = _written(tmp_path)
    data = json.loads((out / "results.json").read_text())
    data["outputs_file"]["name"] = "../../etc/passwd"
    (out / "results.json").write_text(json.dumps(data))
    assert "not outputs.jsonl.gz" in _problem(out)
    data["format_version"] = 3
    (out / "results.json").write_text(json.dumps(data))
    with pytest.raises(results_io.InputError, match="newer than this evalbot reads"):
        results_io.load_results(out)


def test_rewriting_a_compact_record_keeps_its_outputs_file(tmp_path):
    _, out = _written(tmp_path)
    before = (out / results_io.OUTPUTS_NAME).read_bytes()
    compact = results_io.load_results(out)
    results_io.write_results(compact.model_copy(update={"summary": "again"}), out)
    assert (out / results_io.OUTPUTS_NAME).read_bytes() == before
    assert results_io.load_full(out).suites[0].head.outputs[1][0] == Completion(
        text="Refund: 3 days.", input_tokens=50, output_tokens=20, latency_ms=800.0
    )


def test_a_results_json_listing_a_suite_twice_is_refused(tmp_path):
    _, out = _written(tmp_path)
    data = json.loads((out / "results.json").read_text())
    data["suites"].append(data["suites"][0])
    (out / "results.json").write_text(json.dumps(data))
    with pytest.raises(results_io.InputError, match="suite 'support-answers' twice"):
        results_io.load_results(out)
