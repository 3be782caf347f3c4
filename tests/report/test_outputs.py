import json
import math

import pytest

from evalbot.records import RunResult
from evalbot.report import render_comment, results_io, write_outputs
from tests.report.factories import make_comparison, make_result, make_side, make_suite


def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_writes_the_three_files_atomically(tmp_path):
    result = make_result(make_suite(flipped=["ex-2"], flipped_inputs={"ex-2": {"q": "hi"}}))
    out = tmp_path / "out" / "nested"
    write_outputs(result, out, check_name="evals")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["comment.md", "junit.xml", "outputs.jsonl.gz", "report.html", "results.json"]
    text = (out / "results.json").read_text(encoding="utf-8")
    strict_json(text)
    written = RunResult.model_validate_json(text)
    assert written.format_version == 2 and written.outputs_file is not None
    assert written.suites[0].head.outputs == []  # texts live in the outputs file
    back = results_io.load_full(out)
    assert back.suites[0].head.outputs == result.suites[0].head.outputs
    assert back.suites[0].head.score_details == result.suites[0].head.score_details
    assert back.model_dump(exclude={"suites", "format_version", "outputs_file"}) == (
        result.model_dump(exclude={"suites", "format_version", "outputs_file"})
    )
    assert (out / "comment.md").read_text(encoding="utf-8") == render_comment(
        result, check_name="evals"
    )


def test_results_json_is_strict_even_with_nan_and_infinity(tmp_path):
    head = make_side(scores={"correct": [math.nan, 1.0]})
    comparison = make_comparison(p=math.nan, ci=(-math.inf, math.inf))
    result = make_result(make_suite(comparisons=[comparison], head=head))
    write_outputs(result, tmp_path)
    data = strict_json((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert data["suites"][0]["comparisons"][0]["p_value"] is None
    assert data["suites"][0]["head"]["scores"]["correct"][0] == [None]
    RunResult.model_validate_json((tmp_path / "results.json").read_text(encoding="utf-8"))


def test_results_json_is_written_even_when_rendering_fails(tmp_path):
    with pytest.raises(ValueError):
        write_outputs(make_result(), tmp_path, check_name="bad -->")
    assert (tmp_path / "results.json").exists()
    assert not (tmp_path / "comment.md").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
