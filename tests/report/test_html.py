"""report.html: the comment's verdicts, one plot mark per metric, every example up to the cap,
the filters, a self-contained page whose only script is its own."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from evalbot.cli import main
from evalbot.records import MetricKind, RunResult, SuiteStatus, Verdict
from evalbot.report import html as report_html
from evalbot.report import render_comment, write_outputs
from evalbot.report.formatting import verdict_marker, verdict_word
from evalbot.report.html import load_example_rows, render_html, word_diff
from tests.report.factories import (
    example_result,
    make_comparison,
    make_result,
    make_side,
    make_suite,
)
from tests.report.htmlcheck import ALLOWED_TAGS, URL, parse, script_hash


def _comment_verdicts(comment: str) -> list[tuple[str, str]]:
    """(metric, verdict cell) of the comment's metric tables in order, emphasis removed."""
    cells = []
    in_table = False
    for line in comment.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            in_table = False
        elif parts[0] == "Metric":
            in_table = len(parts) >= 8  # not the 3-column score tables of flipped examples
        elif in_table and not set(parts[0]) <= {"-", ":"}:
            cells.append((parts[0].replace("\\_", "_"), parts[6].replace("**", "")))
    return cells


def test_the_verdict_tables_say_what_the_comment_says():
    result = example_result()
    page = parse(render_html(result))
    rows = page.verdict_rows()
    compared = [c for s in result.suites for c in s.comparisons]
    assert [r[0] for r in rows] == [c.metric for c in compared]
    comment = _comment_verdicts(render_comment(result))
    assert [(r[0], r[6]) for r in rows] == comment
    for row, c in zip(rows, compared, strict=True):
        assert row[6] == f"{verdict_marker(c)} {verdict_word(c)}"
    # The same figures too: Base, Head, Δ, CI, p as the comment prints them.
    correct = rows[0]
    assert correct[1:6] == ["90.0%", "82.5%", "−7.5 pts", "[−12.1, −2.9]", "0.004"]


def test_the_forest_plot_has_one_mark_per_metric_coloured_by_verdict():
    result = example_result()
    text = render_html(result)
    page = parse(text)
    # One plot per suite with paired comparisons (a new suite has values, not deltas).
    evaluated = [s for s in result.suites if s.status != SuiteStatus.SKIPPED and s.comparisons]
    assert len(page.tags("svg")) == len(evaluated)
    marks = page.tags("g")
    assert len(marks) == sum(len(s.comparisons) for s in evaluated)
    assert [m["data-verdict"] for m in marks] == [
        verdict_word(c) for s in evaluated for c in s.comparisons
    ]
    # Zero line per plot; a margin line for each metric with max_drop > 0.
    assert len([ln for ln in page.tags("line") if ln.get("class") == "zero"]) == len(evaluated)
    margins = [c for s in evaluated for c in s.comparisons if c.max_drop > 0]
    assert len([ln for ln in page.tags("line") if ln.get("class") == "margin"]) == len(margins)
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert 'stroke="#cf222e"' in svg  # the blocking regression is red


def _many(n: int, *, errors: dict[str, str] | None = None, flipped: list[str] | None = None):
    ids = [f"q{i:03d}" for i in range(n)]
    base = make_side("base", outputs={i: f"base answer {i}" for i in ids})
    head = make_side("head", outputs={i: f"head answer {i}" for i in ids}, errors=errors or {})
    suite = make_suite(base=base, head=head, flipped=flipped or [])
    return make_result(suite), ids


def test_every_example_is_there_with_both_outputs_and_its_flags():
    result, ids = _many(12, errors={"q005": "HTTP 400: bad"}, flipped=["q007", "q002"])
    page = parse(render_html(result))
    assert len(page.articles) == 12
    shown = [text.split("flipped")[0].split("error")[0] for text in page.article_text]
    # Flipped first (in the suite's order), then failed, then the rest in golden-set order.
    order = [re.match(r"q\d+", s).group(0) for s in shown]
    assert order == ["q007", "q002", "q005"] + [i for i in ids if i not in {"q007", "q002", "q005"}]
    flags = {
        o: (a["data-flipped"], a["data-failed"]) for o, a in zip(order, page.articles, strict=True)
    }
    assert (
        flags["q007"] == ("1", "0") and flags["q005"] == ("0", "1") and flags["q000"] == ("0", "0")
    )
    q5 = page.article_text[order.index("q005")]
    assert "base answer q005" in q5 and "error: HTTP 400: bad" in q5
    assert "base answer q009" in page.article_text[order.index("q009")]
    assert "head answer q009" in page.article_text[order.index("q009")]


def test_filters_and_search_are_there():
    result, _ = _many(3, errors={"q001": "timeout"}, flipped=["q002"])
    page = parse(render_html(result))
    radios = [i for i in page.tags("input") if i.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["all", "flipped", "failed"]
    assert "checked" in radios[0]
    assert [i for i in page.tags("input") if i.get("type") == "search"]
    labels = re.findall(r'value="(\w+)"[^>]*> ([^<]+)</label>', render_html(result))
    assert labels == [
        ("all", "All (3)"),
        ("flipped", "Flipped (1)"),
        ("failed", "Failed (errors) (1)"),
    ]
    [script] = page.scripts
    assert 'getAttribute("data-" + mode)' in script and "hidden" in script
    assert "innerHTML" not in script and "outerHTML" not in script and "eval(" not in script


def test_caps_on_examples_and_characters_are_said_on_the_page(monkeypatch):
    monkeypatch.setattr(report_html, "MAX_EXAMPLES", 5)
    result, _ = _many(8, flipped=["q006"])
    long = "word " * 1000  # 5,000 characters
    head = result.suites[0].head.model_copy(
        update={
            "outputs": [
                [o[0].model_copy(update={"text": long})] for o in result.suites[0].head.outputs
            ]
        }
    )
    result = result.model_copy(
        update={"suites": [result.suites[0].model_copy(update={"head": head})]}
    )
    text = render_html(result)
    page = parse(text)
    assert len(page.articles) == 5
    assert page.article_text[0].startswith("q006")  # flipped examples are kept first
    assert "Showing 5 of 8 examples (at most 5 per suite" in text
    assert "3,000 more characters (the first 2,000 shown; results.json has all 5,000)" in text
    assert len(text) < 60_000


def test_word_diff_marks_only_the_changed_words_and_escapes_them():
    old, new = word_diff("Refunds within 30 days <b>now</b>", "Refunds within 14 days <b>now</b>")
    assert old == "Refunds within <del>30</del> days &lt;b&gt;now&lt;/b&gt;"
    assert new == "Refunds within <ins>14</ins> days &lt;b&gt;now&lt;/b&gt;"
    assert word_diff("same", "same") == ("same", "same")


def test_the_page_is_self_contained_and_allows_only_its_own_script():
    text = render_html(example_result())
    page = parse(text)
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    for _, attrs in page.elements:
        for name, value in attrs.items():
            assert not name.startswith("on")
            if name in ("src", "href", "action", "xlink:href", "srcset"):
                pytest.fail(f"{name}={value!r}: the page loads nothing")
    assert not URL.search(text), URL.search(text)
    assert "@import" not in text and "url(" not in text
    csp = page.csp()
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-")
    [script] = page.scripts
    assert f"script-src '{script_hash(script)}'" in csp
    assert "unsafe-eval" not in csp and "script-src 'unsafe-inline'" not in csp


def test_a_run_without_examples_and_an_error_result_still_render():
    error = RunResult(
        tool_version="0",
        command="action",
        created_at="2025-01-01T00:00:00+00:00",
        config_path="evalbot.yml",
        verdict="error",
        summary="could not connect to 127.0.0.1",
    )
    page = parse(render_html(error))
    assert page.articles == [] and page.tags("svg") == []
    assert "could not connect to 127.0.0.1" in render_html(error)
    new = make_suite(
        status=SuiteStatus.NEW,
        comparisons=[
            make_comparison(
                base=None, head=0.9, ci=(None, None), p=None, verdict=Verdict.NOT_COMPARED
            )
        ],
    )
    text = render_html(make_result(new))
    assert "not compared" in text and "not run on this side" in text


def test_written_next_to_results_json_and_rendered_again_by_the_report_command(tmp_path, capsys):
    result = example_result()
    write_outputs(result, tmp_path / "out")
    written = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert written == render_html(result)
    assert main(["report", "--html", str(tmp_path / "out"), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == written
    assert "Report written to" in capsys.readouterr().out
    # Without --html: the terminal summary of the saved results, exit 0 whatever the verdict.
    assert main(["report", str(tmp_path / "out")]) == 0
    assert "evalbot: FAIL" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--html", "{d}/nowhere"], "no results.json here"),
        (["report", "{d}", "-o", "{d}/x.html"], "-o/--output names the HTML file"),
        (["report", "--html", "{d}", "-o", "{d}/no/such/dir/x.html"], "does not exist"),
        (["report", "--html", "{d}/bad"], "not an evalbot results.json"),
    ],
)
def test_report_command_mistakes_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    write_outputs(example_result(), tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text('{"suites": 3}')
    assert main([a.format(d=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_per_example_outputs_next_to_results_json_are_read_or_skipped_without_failing(tmp_path):
    result = example_result()
    write_outputs(result, tmp_path)
    head = json.loads((tmp_path / "results.json").read_text())["suites"][0]["head"]
    assert head["outputs"] == []  # the page reads them from outputs.jsonl.gz
    _, rows = load_example_rows(tmp_path)
    assert [(r.example_id, r.head.text) for r in rows] == [
        (r.example_id, r.head.text) for r in report_html.example_rows(result)
    ]
    assert rows[0].scores == report_html.example_rows(result)[0].scores

    (tmp_path / "outputs.jsonl.gz").write_bytes(gzip.compress(b'{"another": "format"}\n'))
    loaded, rows = load_example_rows(tmp_path)
    assert all(r.head is None for r in rows)
    assert "outputs.jsonl.gz, which this page cannot read" in render_html(loaded, rows)
    (tmp_path / "outputs.jsonl.gz").write_bytes(b"not gzip")
    assert main(["report", "--html", str(tmp_path)]) == 0


def test_scores_per_example_in_the_metric_units():
    suite = make_suite(
        comparisons=[
            make_comparison(),
            make_comparison(
                "latency_ms", kind=MetricKind.HEAVY_TAILED, base=800.0, head=900.0, blocking=False
            ),
        ],
        base=make_side("base", scores={"correct": [1.0, 1.0], "latency_ms": [800.0, 810.0]}),
        head=make_side("head", scores={"correct": [0.0, 1.0], "latency_ms": [950.0, 700.0]}),
        flipped=["ex-1"],
    )
    page = parse(render_html(make_result(suite)))
    scores = [t for t in page.tables if t and t[0][1:] == ["correct", "latency_ms"]]
    assert scores[0][1:] == [["base", "pass", "800 ms"], ["head", "fail", "950 ms"]]
    assert scores[1][1:] == [["base", "pass", "810 ms"], ["head", "pass", "700 ms"]]


def test_repetitive_outputs_are_diffed_without_quadratic_blowup():
    # 2,000 identical tokens against an alternating pattern took SequenceMatcher minutes; with
    # popular tokens unable to start a match it is one pass (no wall-clock assert: the run
    # simply stays inside the suite's time).
    old, new = word_diff("!" * 2000, "!?" * 1000)
    assert old.count("!") == 2000 and new.count("?") == 1000
    assert "<ins>" in new and "&lt;" not in new


def _sliced_and_drifting(slice_name: str = "lang=de", rev: str = "v1.0") -> RunResult:
    from evalbot.records import DriftResult, GateStatus, SliceResult

    worst = make_comparison(
        base=0.9, head=0.6, ci=(-0.45, -0.15), p=0.002, p_adjusted=0.004, max_drop=0.02
    )
    calm = make_comparison(
        base=0.9, head=0.89, ci=(-0.05, 0.03), p=0.6, p_adjusted=0.6, verdict=Verdict.UNCHANGED
    )
    drift = DriftResult(
        baseline_rev=rev,
        baseline_sha="0123456789abcdef",
        n=40,
        n_head=40,
        comparisons=[make_comparison(max_drop=0.03, gate=GateStatus.FAIL)],
        gate=GateStatus.FAIL,
        notes=["a changed golden set is compared on the shared ids"],
    )
    suite = make_suite(
        slices=[
            SliceResult(slice=slice_name, comparison=worst, flagged=True),
            SliceResult(slice="lang=en", comparison=calm),
        ],
        drift=drift,
    )
    return make_result(suite)


def test_slices_and_drift_are_on_the_page_as_in_the_comment():
    result = _sliced_and_drifting()
    text = render_html(result)
    page = parse(text)
    comment = render_comment(result)
    assert "Slices: 1 flagged of 2 (worst first)" in text and "Slices: 1 flagged of 2" in comment
    slice_rows = [row for table in page.tables for row in table if row[:1] == ["lang=de"]]
    comment_rows = [
        [cell.strip().replace("**", "") for cell in line.strip().strip("|").split("|")]
        for line in comment.splitlines()
        if line.startswith("| lang=de")
    ]
    assert slice_rows == comment_rows and len(slice_rows) == 1
    assert slice_rows[0][1:3] == ["correct", "120"]
    assert slice_rows[0][-1] == "❌ beyond margin (flagged)"
    assert "Since the baseline v1.0 (0123456, drift budget)" in text
    rows = [row for table in page.tables for row in table]
    drift_rows = [row for row in rows if "max_total_drop" in " ".join(row)]
    assert len(drift_rows) == 1 and "over budget" in drift_rows[0][6]
    assert "a changed golden set is compared on the shared ids" in text


def test_hostile_slice_names_and_baseline_revisions_stay_text():
    result = _sliced_and_drifting("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
    page = parse(render_html(result))
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    assert len(page.scripts) == 1  # the page's own
    assert not any(name.startswith("on") for _, attrs in page.elements for name in attrs)
