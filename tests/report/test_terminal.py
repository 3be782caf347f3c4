from pathlib import Path

from evalbot.records import SuiteStatus
from evalbot.report import render_terminal
from tests.report.factories import make_result, make_suite


def test_plain_text_table_verdict_and_where_outputs_went():
    result = make_result(
        make_suite(), make_suite("faq", status=SuiteStatus.SKIPPED, comparisons=[])
    )
    text = render_terminal(result, out_dir=Path("evalbot-results"))
    lines = text.splitlines()
    assert lines[0] == "evalbot: FAIL - 1 regression - 1 suite evaluated, 1 skipped"
    assert any(line.split()[:3] == ["Metric", "Base", "Head"] for line in lines)
    row = next(line for line in lines if line.strip().startswith("correct"))
    assert "82.5%" in row and "−7.5 pts" in row and "regressed FAIL (blocking)" in row
    assert "skipped: faq" in text
    assert lines[-1] == "results: evalbot-results/results.json, comment.md, junit.xml"
    assert "|" not in text and "<br>" not in text and "**" not in text and "\033" not in text


def test_color_and_untrusted_control_characters():
    suite = make_suite("evil\033[2J::error::x", notes=["line1\nline2\033[31m"])
    colored = render_terminal(make_result(suite), color=True)
    assert "\033[31mFAIL\033[0m" in colored
    assert "\033[2J" not in colored and "::error::" not in colored
    assert "line1 ⏎ line2" in colored
