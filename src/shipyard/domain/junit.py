"""JUnit XML, the test-report format CI test reporters read (GitHub's among them).

One `<testsuite>` inside `<testsuites>`; each case is a `<testcase>` with its time in seconds
and, when it failed, one `<failure>` whose `message` is the first reason and whose text lists
them all. ElementTree escapes what the text holds (quotes, `<`, `&`); control characters XML
1.0 cannot carry are replaced, since a service's answer may hold any byte.

>>> report = junit_xml("smoke", [Case("GET /health", "smoke.staging", 0.01)], "2026-01-01")
>>> report.splitlines()[1][:60]
'<testsuites name="smoke" tests="1" failures="0" errors="0" t'
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    seconds: float
    failures: tuple[str, ...] = field(default=())


def junit_xml(suite: str, cases: list[Case], timestamp: str) -> str:
    """The report as an XML document (UTF-8 declared)."""
    failed = sum(1 for case in cases if case.failures)
    total = f"{sum(case.seconds for case in cases):.3f}"
    counts = {"tests": str(len(cases)), "failures": str(failed), "errors": "0"}
    root = ET.Element("testsuites", {"name": _text(suite), **counts, "time": total})
    element = ET.SubElement(root, "testsuite", {"name": _text(suite), **counts,
                                                "skipped": "0", "time": total,
                                                "timestamp": timestamp})
    for case in cases:
        testcase = ET.SubElement(element, "testcase", {
            "name": _text(case.name), "classname": _text(case.classname),
            "time": f"{case.seconds:.3f}"})
        if case.failures:
            failure = ET.SubElement(testcase, "failure", {"message": _text(case.failures[0]),
                                                          "type": "AssertionError"})
            failure.text = _text("\n".join(case.failures))
    ET.indent(root)  # readable in a text editor too; whitespace between elements is ignored
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
