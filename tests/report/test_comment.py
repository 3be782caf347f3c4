import re

import pytest

from evalbot.records import AbsoluteCheck, GateStatus, MetricKind, SuiteStatus, Verdict
from evalbot.report import (
    check_title_and_summary,
    comment_marker,
    render_comment,
    render_summary,
    short_description,
)
from tests.report.factories import make_comparison, make_result, make_side, make_suite
from tests.report.test_escape import EVIL, unescaped_pipes

MARKER = "<!-- evalbot:evalbot -->"


def tables(markdown: str) -> list[list[str]]:
    """Every run of consecutive lines starting with '|'."""
    found: list[list[str]] = []
    previous = False
    for line in markdown.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous:
            found.append([])
        if is_row:
            found[-1].append(line)
        previous = is_row
    return found


def assert_tables_well_formed(markdown: str) -> None:
    for rows in tables(markdown):
        widths = {unescaped_pipes(row) for row in rows}
        assert len(widths) == 1, rows
        assert re.fullmatch(r"\|(-+\|)+", rows[1]), rows[1]


def outside_fences(markdown: str) -> str:
    """The text with fenced code blocks removed (nothing renders, pings or links inside them)."""
    kept, fence = [], None
    for line in markdown.splitlines():
        if fence is None and (opening := re.match(r"(`{3,})text$", line)):
            fence = opening.group(1)
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            kept.append(line)
    assert fence is None, "unclosed fence"
    return "\n".join(kept)


def flipped_suite(name: str = "support-answers", *, count: int, chars: int, text: str = "x"):
    ids = [f"{name}-{i}" for i in range(count)]
    body = (text * chars)[:chars]
    scores = {"correct": [1.0] * count}
    return make_suite(
        name,
        base=make_side("base", outputs=dict.fromkeys(ids, body), scores=scores),
        head=make_side("head", outputs=dict.fromkeys(ids, body), scores={"correct": [0.0] * count}),
        flipped=ids,
        flipped_inputs={i: {"question": body[:1000], "expected": "yes"} for i in ids},
    )


def test_marker_is_the_first_line():
    comment = render_comment(make_result(), check_name="evalbot-nightly")
    assert comment.splitlines()[0] == "<!-- evalbot:evalbot-nightly -->"
    assert comment.count("<!--") == 1


def test_marker_rejects_check_names_that_would_break_the_comment():
    with pytest.raises(ValueError):
        comment_marker("x --> y")


def test_verdict_line_counts_suites():
    result = make_result(
        make_suite(), make_suite("faq", status=SuiteStatus.SKIPPED, comparisons=[])
    )
    line = render_comment(result).splitlines()[1]
    assert line.startswith("### ❌ evalbot: fail")
    assert "1 regression" in line and "1 suite evaluated, 1 skipped" in line


def test_metric_table_columns_and_formatting():
    comment = render_comment(make_result())
    assert_tables_well_formed(comment)
    header, _, correct, helpful = tables(comment)[0]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "Metric",
        "Base",
        "Head",
        "Δ",
        "CI",
        "p",
        "Verdict",
        "n",
        "MDE",
    ]
    cells = [c.strip() for c in correct.strip("|").split("|")]
    assert cells == [
        "correct",
        "90.0%",
        "82.5%",
        "−7.5 pts",
        "[−12.1, −2.9]",
        "0.004",
        "❌ **regressed** (blocking)",
        "120",
        "5.0 pts",
    ]
    assert "✅ unchanged" in helpful and "4.12" in helpful and "+0.08" in helpful
    assert "McNemar mid-p" in comment and "sign-flip permutation" in comment


@pytest.mark.parametrize(
    ("verdict", "blocking", "marker"),
    [
        (Verdict.IMPROVED, False, "✅ improved"),
        (Verdict.UNCHANGED, True, "✅ unchanged (blocking)"),
        (Verdict.INCONCLUSIVE, True, "⚠️ inconclusive (blocking)"),
        (Verdict.REGRESSED, True, "❌ **regressed** (blocking)"),
        (Verdict.REGRESSED, False, "🔻 regressed"),  # informational: not the blocking ❌
        (Verdict.NOT_COMPARED, False, "➖ n/a"),
    ],
)
def test_verdict_markers(verdict, blocking, marker):
    suite = make_suite(comparisons=[make_comparison(verdict=verdict, blocking=blocking)])
    assert marker in render_comment(make_result(suite))


def test_latency_and_cost_rows():
    suite = make_suite(
        comparisons=[
            make_comparison(
                "latency_ms",
                kind=MetricKind.HEAVY_TAILED,
                base=850.0,
                head=1210.0,
                ci=(250.0, 480.0),
                p=0.0001,
                verdict=Verdict.REGRESSED,
                blocking=False,
            ),
            make_comparison(
                "cost_usd",
                kind=MetricKind.HEAVY_TAILED,
                base=0.0123,
                head=0.0101,
                ci=(-0.003, -0.001),
                p=0.02,
                verdict=Verdict.IMPROVED,
                blocking=False,
            ),
        ]
    )
    comment = render_comment(make_result(suite))
    assert "| 0.85 s" in comment and "+0.36 s" in comment and "<0.001" in comment
    assert "$0.0123" in comment and "−$0.0022" in comment


def test_triggers_thresholds_usage_and_footer():
    suite = make_suite(
        absolute=[
            AbsoluteCheck(metric="correct", bound="min", limit=0.85, value=0.825, passed=False)
        ]
    )
    comment = render_comment(make_result(suite), details_url="https://github.com/o/r/runs/1")
    assert "Triggered by: prompts/support.yaml" in comment
    assert "| correct     | ≥ 85.0% | 82.5%  | ❌ **fail** |" in comment
    assert "Latency p50 / p95" in comment and "0.80 s / 2.30 s" in comment
    assert "base aaaaaaa → head bbbbbbb" in comment
    assert "[details](https://github.com/o/r/runs/1)" in comment
    assert "Full report: job summary / results artifact" in comment


def test_flipped_examples_section():
    comment = render_comment(make_result(flipped_suite(count=2, chars=20)))
    assert "<details><summary>Flipped examples (all 2, worst first)</summary>\n\n" in comment
    assert "**Base output**" in comment and "**Head output**" in comment
    assert '"question": "xxxxxxxxxxxxxxxxxxxx"' in comment
    assert "| correct  | pass   | fail   |" in comment
    assert comment.count("<details>") == comment.count("</details>") == 1


def test_malicious_text_cannot_break_out():
    ids = [EVIL, "ok"]
    side = {"outputs": dict.fromkeys(ids, EVIL), "model": EVIL, "scores": {"correct": [1, 0]}}
    suite = make_suite(
        "support-answers",
        comparisons=[make_comparison(test=EVIL, notes=[EVIL])],
        absolute=[
            AbsoluteCheck(metric="x", bound="max", limit=1, value=2, passed=False, note=EVIL)
        ],
        base=make_side("base", **side),
        head=make_side("head", **side),
        triggers=[EVIL, "prompts/|x|.md"],
        notes=[EVIL],
        flipped=ids,
        flipped_inputs={EVIL: {EVIL: EVIL}},
    )
    skipped = make_suite(EVIL, status=SuiteStatus.SKIPPED, comparisons=[], notes=[EVIL])
    result = make_result(suite, skipped, notes=[EVIL], summary=EVIL, tool_version=EVIL)
    for text in (
        render_comment(result),
        render_summary(result),
        check_title_and_summary(result)[1],
    ):
        assert text.count("<!--") == text.count(MARKER) == (1 if text.startswith(MARKER) else 0)
        rendered = outside_fences(text)
        assert not re.search(r"@[A-Za-z0-9]", rendered)
        assert not re.search(r"#\d", rendered)
        assert "<script" not in rendered and not re.search(r"(?<!\\)\]\(http", rendered)
        assert "http://" not in rendered
        assert rendered.count("<details>") == rendered.count("</details>")
        assert "`" not in rendered.replace("\\`", "")  # untrusted backticks are escaped
        assert_tables_well_formed(rendered)
    comment = render_comment(result)
    assert comment.startswith(MARKER + "\n")
    assert "````text" in comment  # EVIL has a ``` run: the fence is longer


def test_500_flipped_examples_show_the_worst_ten_in_the_comment_and_all_in_the_summary():
    result = make_result(flipped_suite(count=500, chars=5_000, text="lorem ipsum "))
    comment = render_comment(result, details_url="https://github.com/o/r/actions/runs/9")
    assert len(comment) < 65_536
    assert comment.startswith(MARKER + "\n")
    assert len(tables(comment)[0]) == 4  # header, rule, correct, helpful
    assert "| Side " in comment  # usage table kept
    assert "Flipped examples (10 of 500, worst first)" in comment
    assert comment.count("<details>") == comment.count("</details>") == 1
    assert_tables_well_formed(comment)
    summary = render_summary(result)
    assert "Flipped examples (" in summary and summary.count("**500. ") <= 1


def test_many_suites_of_long_flipped_examples_are_trimmed_with_a_notice():
    suites = [
        flipped_suite(count=60, chars=5_000, text="lorem ipsum ").model_copy(
            update={"name": f"suite-{i}"}
        )
        for i in range(6)
    ]
    result = make_result(*suites)
    comment = render_comment(result, details_url="https://github.com/o/r/actions/runs/9")
    assert len(comment) < 65_536
    assert "✂️ **Trimmed to fit the 65,536-character comment limit:**" in comment
    assert (
        "Full report: job summary / results artifact ([details](https://github.com/o/r/" in comment
    )
    assert len(tables(comment)) >= 6  # every suite's metric table is kept
    assert comment.count("<details>") == comment.count("</details>")
    assert_tables_well_formed(comment)


def test_trimming_shares_examples_between_suites():
    result = make_result(
        flipped_suite("a", count=200, chars=3_000), flipped_suite("b", count=200, chars=3_000)
    )
    comment = render_comment(result, max_chars=30_000)
    assert len(comment) < 30_000
    counts = [int(n) for n in re.findall(r"Flipped examples \((\d+) of 200", comment)]
    assert len(counts) == 2 and abs(counts[0] - counts[1]) <= 1


def test_small_outputs_are_not_trimmed():
    comment = render_comment(make_result(flipped_suite(count=3, chars=100)))
    assert "Trimmed" not in comment
    assert "x" * 100 in comment


def test_tiny_limit_keeps_marker_and_verdict_and_stays_under():
    result = make_result(*(flipped_suite(f"s{i}", count=20, chars=500) for i in range(6)))
    for limit in (20_000, 4_000, 2_000):
        comment = render_comment(result, max_chars=limit)
        assert len(comment) < limit
        assert comment.startswith(MARKER + "\n### ❌ evalbot: fail")
        assert "Trimmed to fit" in comment


def test_max_chars_below_the_minimum_is_refused():
    with pytest.raises(ValueError):
        render_comment(make_result(), max_chars=500)


def test_notes_are_dropped_before_tables():
    suite = flipped_suite(count=5, chars=200)
    suite = suite.model_copy(update={"notes": [f"{i} " + "n" * 400 for i in range(30)]})
    full = render_comment(make_result(suite))
    table_lines = "\n".join("\n".join(t) for t in tables(full)[:1])
    limit = len(full) - 10_000
    comment = render_comment(make_result(suite), max_chars=limit)
    assert len(comment) < limit
    assert "notes omitted" in comment and table_lines in comment


def test_new_suite_says_absolute_thresholds_only():
    suite = make_suite(
        "onboarding",
        status=SuiteStatus.NEW,
        comparisons=[
            make_comparison(
                base=None,
                head=0.9,
                ci=(None, None),
                p=None,
                mde=None,
                verdict=Verdict.NOT_COMPARED,
                blocking=False,
            )
        ],
        absolute=[AbsoluteCheck(metric="correct", bound="min", limit=0.85, value=0.9, passed=True)],
    )
    comment = render_comment(make_result(suite))
    assert "#### ✅ onboarding: pass (new suite)" in comment
    assert "New suite: no base side, absolute thresholds only." in comment
    assert "| correct  | —      | 90.0%  | —   | —    | —   | ➖ n/a    | 120 |" in comment
    assert "| base " not in comment  # usage: head only


def test_error_suite_and_error_rate():
    errored = make_suite(
        "support-answers",
        status=SuiteStatus.ERROR,
        comparisons=[],
        gate=GateStatus.ERROR,
        notes=["ProviderError: 12% of calls failed (max_error_rate 5%)"],
    )
    flaky = make_suite("faq", head=make_side(errors={"ex-1": "timeout"}))
    result = make_result(errored, flaky, summary="provider failed")
    comment = render_comment(result)
    assert comment.splitlines()[1].startswith("### ❗ evalbot: error")
    assert "**Error:** provider failed" in comment
    assert "#### ❗ support-answers: error" in comment
    assert "- ProviderError: 12% of calls failed" in comment
    assert "Errored examples (base 0.0%, head 50.0%)" in comment
    assert "not run on this side" not in comment


def test_all_skipped_is_neutral():
    result = make_result(
        make_suite("a", status=SuiteStatus.SKIPPED, comparisons=[]),
        make_suite("b", status=SuiteStatus.SKIPPED, comparisons=[]),
    )
    comment = render_comment(result)
    assert (
        "### ⚪ evalbot: neutral · nothing to evaluate · 0 suites evaluated, 2 skipped" in comment
    )
    assert "⏭️ Skipped (no changed file affects them): a, b" in comment
    assert short_description(result) == "Nothing to evaluate (2 skipped)"


def test_short_description():
    assert short_description(make_result()) == (
        "1 regression in support-answers (correct −7.5 pts, p=0.004)"
    )
    passing = make_suite(comparisons=[make_comparison(verdict=Verdict.UNCHANGED)])
    assert short_description(make_result(passing)) == "No regressions: 1 suite evaluated"
    many = [make_suite("s" * 60 + str(i)) for i in range(5)]
    text = short_description(make_result(*many, summary="x" * 500))
    assert len(text) <= 140 and "\n" not in text


def test_check_title_and_summary():
    title, summary = check_title_and_summary(make_result(flipped_suite(count=3, chars=50)))
    assert title == short_description(make_result(flipped_suite(count=3, chars=50)))
    assert "<!--" not in summary and "<details>" not in summary
    assert "| correct " in summary
    big = make_result(*(make_suite(f"s{i}", triggers=["p" * 100] * 20) for i in range(80)))
    summary = check_title_and_summary(big)[1]
    assert len(summary) <= 65_535 and "suite sections omitted" in summary


def test_summary_keeps_long_outputs_and_stays_under_1_mib():
    comment_suite = flipped_suite(count=3, chars=10_000, text="abc ")
    summary = render_summary(make_result(comment_suite))
    assert not summary.startswith("<!--")
    assert "abc " * 2_000 in summary.replace("\n", " ") and "Trimmed" not in summary
    huge = render_summary(make_result(flipped_suite(count=200, chars=5_000, text="é")))
    assert len(huge.encode()) < 1_048_576 and "Trimmed to fit the 1 MiB" in huge
