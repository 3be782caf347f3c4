import evalbot.report as report


def test_all_is_sorted_and_complete():
    assert report.__all__ == sorted(report.__all__)
    for name in report.__all__:
        assert callable(getattr(report, name))
    expected = {
        "check_title_and_summary",
        "escape_cell",
        "fenced",
        "render_comment",
        "render_junit",
        "render_summary",
        "render_terminal",
        "short_description",
        "write_outputs",
    }
    assert expected <= set(report.__all__)
