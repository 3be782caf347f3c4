"""junit.xml: a testsuite per eval suite, a testcase per metric comparison and absolute check.

CI systems that read JUnit (GitLab, Jenkins, test-report actions) then show the gate's failures
without knowing evalbot. ``failure`` = the gate failed; ``error`` = past the error budget.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalbot.records import GateStatus, MetricComparison, RunResult, SuiteResult, SuiteStatus
from evalbot.report.escape import xml_safe
from evalbot.report.formatting import format_p, scale_for, unit_of
from evalbot.report.headline import absolute_text

__all__ = ["render_junit"]


def _case(parent: ET.Element, suite: SuiteResult, name: str) -> ET.Element:
    return ET.SubElement(
        parent,
        "testcase",
        name=xml_safe(name),
        classname=xml_safe(f"evalbot.{suite.name}"),
        time="0",
    )


def _describe(c: MetricComparison) -> str:
    scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean])
    text = (
        f"{c.verdict}: base {scale.value(c.base_mean)}, head {scale.value(c.head_mean)}, "
        f"Δ {scale.delta(c.delta)} {scale.interval(c.ci_low, c.ci_high)}, "
        f"p {format_p(c.p_two_sided)}, n {c.n} ({c.test})"
    )
    if c.blocking:
        text += f"; blocking, margin {scale.magnitude(c.max_drop)}"
    return text


def _outcome(case: ET.Element, status: GateStatus, message: str, detail: str = "") -> None:
    if status == GateStatus.FAIL:
        tag, kind = "failure", "regression"
    elif status == GateStatus.ERROR:
        tag, kind = "error", "evaluation-error"
    else:
        ET.SubElement(case, "system-out").text = xml_safe(f"{status}: {message}")
        return
    element = ET.SubElement(case, tag, message=xml_safe(message), type=kind)
    element.text = xml_safe(detail or message)


def _suite(root: ET.Element, suite: SuiteResult) -> None:
    element = ET.SubElement(root, "testsuite", name=xml_safe(suite.name))
    if suite.status == SuiteStatus.SKIPPED:
        case = _case(element, suite, "suite")
        ET.SubElement(case, "skipped", message=xml_safe("; ".join(suite.notes) or "not affected"))
    for c in suite.comparisons:
        _outcome(_case(element, suite, c.metric), c.gate, _describe(c), "\n".join(c.notes))
    for check in suite.absolute:
        value, limit = absolute_text(suite, check)
        case = _case(element, suite, f"{check.metric} {limit}")
        status = GateStatus.PASS if check.passed else GateStatus.FAIL
        _outcome(case, status, f"head {value}, needs {limit}", check.note)
    reported = {"failure", "error"} & {e.tag for e in element.iter()}
    suite_failed = suite.status == SuiteStatus.ERROR or suite.gate in (
        GateStatus.FAIL,
        GateStatus.ERROR,
    )
    if suite_failed and not reported:
        status = GateStatus.ERROR if suite.status == SuiteStatus.ERROR else suite.gate
        _outcome(_case(element, suite, "gate"), status, "; ".join(suite.notes) or str(status))
    cases = element.findall("testcase")
    element.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        element.set(attribute, str(sum(1 for case in cases if case.find(tag) is not None)))


def render_junit(result: RunResult) -> str:
    """The JUnit XML document (UTF-8, with declaration)."""
    root = ET.Element("testsuites", name="evalbot")
    for suite in result.suites:
        _suite(root, suite)
    for attribute in ("tests", "failures", "errors", "skipped"):
        total = sum(int(s.get(attribute, "0")) for s in root.findall("testsuite"))
        root.set(attribute, str(total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
