"""JUnit XML rendering, for CI dashboards: every requirement is a test case.

Suites: one per standard, in report order, after a "cbcheck" suite for the run itself (input
and engine errors, each its own test case with an <error>, or one passing "input" case; the
files ignored as not record files in its <system-out>). Not
one per clause group: CI tools list suites flat, clause groups would be a dozen suites whose
names depend on how the catalog numbers clauses, and the classname "<standard>.<clause>"
already lets Jenkins and GitLab group and sort test cases by clause.

A requirement that also evidences other clauses (its `also_clauses`) is a test case under each
of them too, named "... (also; own clause ...)", so a dashboard grouped by clause shows it
there; the counts include those cases. `render(report, structure=...)` (`cbcheck check
--structure 20000-6`) lists the requirements in ISO/IEC 20000-6's own structure instead: one
suite, classname "<standard>.<its clause>", a requirement once per clause it is placed in.

Statuses: nonconforming -> <failure> (type = worst severity, body = every finding);
error -> <error>; manual, not_assessed, not_applicable -> <skipped> with the reason; a
nonconforming requirement whose every finding is waived -> <skipped> too (a known, accepted
gap must not turn a nightly run red, but stays listed); conforming -> passes. Counts are
derived from the elements written, so they cannot drift from the body. Validates against
the Jenkins xUnit junit-10.xsd; no time or timestamp attributes (no clocks in output).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from checker.report import views

SEVERITIES = ("major", "minor", "observation")
SKIP_LABEL = {"manual": "manual check", "not_assessed": "not assessed", "not_applicable": "not applicable"}
# XML 1.0 cannot carry most C0 controls even escaped; record data (JSON "\u0007") can.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_"): _clean(v) for k, v in attrs.items()})
    if text:
        el.text = _clean(text)
    return el


def _where(file: str, line, pointer: str) -> str:
    return file + (f":{line}" if line else "") + (f" {pointer}" if pointer else "")


def _finding_lines(f: dict, remediation: str) -> list[str]:
    who = f"client {f['client']}" if f["client"] else "CB-wide"
    lines = [f"- [{f['severity']}] {who}: {f['record_type']} {f['record_id']} at "
             f"{_where(f['file'], f['line'], f['pointer'])}", f"  {f['message']}"]
    if f["remediation"] != remediation:
        lines.append(f"  Fix: {f['remediation']}")
    if f.get("waived"):
        w = f.get("waiver") or {}
        lines.append(f"  Waived until {w.get('expires', '?')} by {w.get('approver', '?')}: "
                     f"{w.get('justification', '')}")
    elif f.get("waiver_expired"):
        lines.append(f"  Waiver expired on {f['waiver_expired']['expires']}: the finding is active again")
    if f.get("baseline_status"):
        lines.append(f"  Baseline: {f['baseline_status']}")
    return lines


def _count_phrase(findings: list[dict]) -> str:
    by_sev = [f"{n} {s}" for s in SEVERITIES if (n := sum(f["severity"] == s for f in findings))]
    waived = sum(bool(f.get("waived")) for f in findings)
    return (f"{len(findings)} finding(s): " + ", ".join(by_sev)
            + (f" ({waived} waived)" if 0 < waived < len(findings) else ""))


def _requirement_case(suite: ET.Element, req: dict, findings: list[dict], classname: str | None = None) -> None:
    name = f"{req['id']} {req['title']}" + (f" (also; own clause {req['cited_at']})" if req.get("cited_at") else "")
    case = _el(suite, "testcase", classname=classname or f"{req['standard']}.{req['clause']}", name=name)
    status = req["status"]
    if status == "nonconforming":
        body = "\n".join([line for f in findings for line in _finding_lines(f, req["remediation"])]
                         + [f"Fix: {req['remediation']}"]) + "\n"
        active = [f for f in findings if not f.get("waived")]
        if findings and not active:
            _el(case, "skipped", body, message="waived, all " + _count_phrase(findings), type_="waived")
        else:
            worst = next(s for s in SEVERITIES if any(f["severity"] == s for f in active or findings))
            partly = f"; {req['reason']}" if req["reason"] else ""
            _el(case, "failure", body, message=_count_phrase(findings) + partly, type_=worst)
    elif status == "error":
        _el(case, "error", message=req["reason"] or "evaluation failed", type_="engine")
    elif status in SKIP_LABEL:
        reason = f": {req['reason']}" if req["reason"] else ""
        _el(case, "skipped", message=SKIP_LABEL[status] + reason, type_=status)


def _run_suite(root: ET.Element, report: dict) -> ET.Element:
    suite = _el(root, "testsuite", name="cbcheck")
    props = _el(suite, "properties")
    for name, value in (("cbcheck.version", report["tool"]["version"]), ("cbcheck.as_of", report["as_of"]),
                        ("cbcheck.report_format", report["report_format"])):
        _el(props, "property", name=name, value=value)
    if not report["errors"]:
        _el(suite, "testcase", classname="cbcheck", name="input")
    for e in report["errors"]:
        case = _el(suite, "testcase", classname=f"cbcheck.{e['kind']}", name=_where(e["file"], e["line"], e["pointer"]))
        body = _where(e["file"], e["line"], e["pointer"]) + f"\n{e['message']}\n" + (
            f"Expected: {e['expected']}\n" if e["expected"] else "")
        _el(case, "error", body, message=e["message"], type_=e["kind"])
    ignored = report["input"]["files_ignored"]
    if ignored:
        _el(suite, "system-out", "Files ignored, not read (not record files):\n" + "".join(f"  {x}\n" for x in ignored))
    return suite


def _set_counts(el: ET.Element, cases: list[ET.Element], with_skipped: bool) -> None:
    el.set("tests", str(len(cases)))
    tags = (("failures", "failure"), ("errors", "error")) + ((("skipped", "skipped"),) if with_skipped else ())
    for attr, tag in tags:   # junit-10.xsd has no skipped attribute on <testsuites>
        el.set(attr, str(sum(c.find(tag) is not None for c in cases)))


def _structure_suite(root: ET.Element, report: dict, structure: str, by_rule: dict[str, list[dict]]) -> ET.Element:
    """One suite for `structure`, its test cases classed by the structure's clauses."""
    suite = _el(root, "testsuite", name=structure)
    for place, req in views.structure_entries(report, structure):
        _requirement_case(suite, req, by_rule.get(req["id"], []), classname=f"{structure}.{place['clause']}")
    return suite


def render(report: dict, structure: str | None = None) -> str:
    """The report as JUnit XML; with `structure` (ISO/IEC 20000-6:2017) one suite in that
    standard's structure replaces the suites per standard."""
    root = ET.Element("testsuites", {"name": _clean(f"cbcheck {report['as_of']}")})
    by_rule = views.findings_by_rule(report)
    suites = [_run_suite(root, report)]
    if structure:
        suites.append(_structure_suite(root, report, structure, by_rule))
    by_standard: dict[str, ET.Element] = {}
    for req in ([] if structure else views.clause_entries(report)):
        if req["standard"] not in by_standard:
            by_standard[req["standard"]] = _el(root, "testsuite", name=req["standard"])
            suites.append(by_standard[req["standard"]])
        _requirement_case(by_standard[req["standard"]], req, by_rule.get(req["id"], []))
    for suite in suites:
        _set_counts(suite, suite.findall("testcase"), with_skipped=True)
    _set_counts(root, root.findall("testsuite/testcase"), with_skipped=False)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
