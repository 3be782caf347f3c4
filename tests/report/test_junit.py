import xml.etree.ElementTree as ET

from evalbot.records import AbsoluteCheck, GateStatus, SuiteStatus, Verdict
from evalbot.report import render_junit
from tests.report.factories import make_comparison, make_result, make_suite


def parse(result) -> ET.Element:
    return ET.fromstring(render_junit(result).encode("utf-8"))


def test_a_testsuite_per_suite_and_a_testcase_per_metric_and_check():
    suite = make_suite(
        absolute=[AbsoluteCheck(metric="correct", bound="min", limit=0.85, value=0.8, passed=False)]
    )
    skipped = make_suite("faq", status=SuiteStatus.SKIPPED, comparisons=[])
    root = parse(make_result(suite, skipped))
    assert [s.get("name") for s in root.findall("testsuite")] == ["support-answers", "faq"]
    first = root.find("testsuite")
    assert [c.get("name") for c in first.findall("testcase")] == [
        "correct",
        "helpful",
        "correct ≥ 85.0%",
    ]
    assert first.get("tests") == "3" and first.get("failures") == "2"
    failure = first.find("testcase/failure")
    assert failure is not None and "−7.5 pts" in failure.get("message")
    assert root.get("failures") == "2" and root.get("skipped") == "1"


def test_passing_run_has_no_failures():
    passing = make_suite(comparisons=[make_comparison(verdict=Verdict.UNCHANGED)])
    root = parse(make_result(passing))
    assert root.get("failures") == "0" and root.find(".//failure") is None


def test_error_suite_gets_an_error_element():
    errored = make_suite(
        status=SuiteStatus.ERROR, comparisons=[], gate=GateStatus.ERROR, notes=["boom \x00\x1b"]
    )
    root = parse(make_result(errored))
    error = root.find(".//testcase/error")
    assert error is not None and error.get("message") == "boom "
    assert root.get("errors") == "1"


def test_untrusted_text_stays_well_formed_xml():
    evil = '<x a="1">&amp;</x>]]>\x07'
    suite = make_suite(evil, comparisons=[make_comparison(evil, notes=[evil], test=evil)])
    root = parse(make_result(suite))
    assert root.find("testsuite").get("name") == evil[:-1]
