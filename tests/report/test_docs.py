from pathlib import Path

from evalbot.report import render_comment
from tests.report.factories import EXAMPLE_DETAILS_URL, example_result

DOC = Path(__file__).parents[2] / "docs" / "comment.md"


def test_docs_example_is_what_the_renderer_produces():
    rendered = render_comment(example_result(), details_url=EXAMPLE_DETAILS_URL)
    doc = DOC.read_text(encoding="utf-8")
    assert f"````markdown\n{rendered}\n````" in doc
