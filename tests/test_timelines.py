"""The HTML report's pictures (issue 13): each client's certification cycle as a timeline, and
the competence matrix of the CB's people.

Over the demo CB: one well-formed SVG timeline per client, marks in date order left to right,
finding markers linking to finding rows that exist; hostile names escaped; the same run gives
the same bytes, and the JSON output does not change when the timelines are in the model.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checker.cycles import client_cycles
from checker.pipeline import load_input, run_check
from checker.report import html as html_report
from checker.report import json_out, oscal
from checker.report.svg_timeline import timeline
from tests.helpers import shipped_rules

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>window.__pwned=9</script>"&\'x'


@pytest.fixture(scope="module")
def demo_report() -> dict:
    rules, params = shipped_rules()
    return run_check(DEMO, rules, params, AS_OF, timelines=True)


@pytest.fixture(scope="module")
def demo_page(demo_report) -> str:
    return html_report.render(demo_report)


def _timelines(page: str) -> dict[str, ET.Element]:
    """client id -> its timeline parsed as XML (parsing fails on anything not well-formed)."""
    found = re.findall(r'<h3 id="cycle-([^"]+)">[^<]*</h3>\s*(<svg.*?</svg>)', page, re.S)
    return {client: ET.fromstring(svg) for client, svg in found}


def _title(el: ET.Element) -> str:
    return el.find(f"{SVG}title").text


def test_one_well_formed_timeline_per_client(demo_report, demo_page):
    drawn = _timelines(demo_page)
    clients = sorted(r.id for r in load_input(DEMO).index.records_of_type("client"))
    assert sorted(drawn) == clients
    with_findings = {f["client"] for f in demo_report["findings"] if f["client"]}
    for client, svg in drawn.items():
        marks = svg.findall(f".//{SVG}a/{SVG}circle")
        assert (len(marks) > 0) == (client in with_findings), client
    assert len(with_findings) >= 5


def _in_order(dated: list[tuple[str, float]]) -> bool:
    by_date = sorted(dated)
    return all(a[1] < b[1] for a, b in zip(by_date, by_date[1:]) if a[0] < b[0])


def test_marks_run_left_to_right_in_date_order(demo_page):
    seen = {"audits": 0, "findings": 0, "certificates": 0}
    for client, svg in _timelines(demo_page).items():
        audits = [(re.search(r": (\d{4}-\d\d-\d\d)", _title(g)).group(1), float(g.find(f"{SVG}rect").get("x")))
                  for g in svg.iter(f"{SVG}g") if g.find(f"{SVG}rect") is not None]
        findings = [(re.search(r"\((\d{4}-\d\d-\d\d)\)", _title(c)).group(1), float(c.get("cx")))
                    for c in svg.iter(f"{SVG}circle")]
        certificates = [(re.search(r"valid (\d{4}-\d\d-\d\d)", _title(r)).group(1), float(r.get("x")))
                        for r in svg.iter(f"{SVG}rect") if "tl-cert" in r.get("class", "")]
        seen = {"audits": seen["audits"] + len(audits), "findings": seen["findings"] + len(findings),
                "certificates": seen["certificates"] + len(certificates)}
        assert _in_order(audits) and _in_order(findings) and _in_order(certificates), client
        # Across kinds too: an audit's mark is never left of a finding dated before it.
        assert all(ax > fx for ad, ax in audits for fd, fx in findings if fd < ad), client
    assert seen["audits"] > 20 and seen["findings"] > 20 and seen["certificates"] > 10, seen


def test_finding_markers_link_to_existing_finding_rows(demo_report, demo_page):
    ids = set(re.findall(r'\sid="([^"]+)"', demo_page))
    links = [a.get("href") for svg in _timelines(demo_page).values() for a in svg.iter(f"{SVG}a")]
    placed = sum(len(t["findings"]) for t in demo_report["timelines"])
    assert len(links) == placed == sum(1 for f in demo_report["findings"] if f["client"]) - \
        sum(t["undated"] for t in demo_report["timelines"])
    for href in links:
        assert href.startswith("#finding-") and href[1:] in ids
        assert re.search(rf'<tr id="{re.escape(href[1:])}">', demo_page)


def test_events_come_from_the_records_in_date_order():
    cycles = {c["client"]: c for c in client_cycles(load_input(DEMO).index)}
    kestrel = cycles["kestrel"]["events"]
    assert [e["start"] for e in kestrel] == sorted(e["start"] for e in kestrel)
    certificates = [(e["record_id"], e["start"], e["end"]) for e in kestrel if e["kind"] == "certificate"]
    assert certificates == [("ke-cert-1", "2021-04-12", "2024-04-11"), ("ke-cert-2", "2024-04-12", "2027-04-11")]
    assert ("decision", "grant", "2021-04-12") in [(e["kind"], e["detail"], e["start"]) for e in kestrel]
    assert cycles["kestrel"]["record_dates"]["ke-s2-t2"] == "2021-03-08"   # a team assignment: its audit's date


def test_json_and_oscal_unchanged_by_the_pictures(demo_report):
    without = {k: v for k, v in demo_report.items() if k not in ("timelines", "competence")}
    assert "timelines" in demo_report and "competence" in demo_report
    assert json_out.render(demo_report) == json_out.render(without)
    assert oscal.render(demo_report) == oscal.render(without)


def test_same_run_same_bytes(demo_report, demo_page):
    rules, params = shipped_rules()
    again = run_check(DEMO, rules, params, AS_OF, jobs=2, timelines=True)
    assert html_report.render(again) == demo_page


def test_hostile_names_are_escaped(demo_report):
    report = copy.deepcopy(demo_report)
    cycle = next(t for t in report["timelines"] if t["findings"])
    cycle["client"] = HOSTILE
    cycle["events"][0].update(record_id=HOSTILE, detail=HOSTILE)
    cycle["findings"][0].update(rule_id=HOSTILE, record_id=HOSTILE, severity=HOSTILE)
    svg = timeline(cycle, report["as_of"], {cycle["findings"][0]["fingerprint"]: 'x"><script>'}, label_id="t")
    parsed = ET.fromstring(svg)
    assert not [el for el in parsed.iter() if el.tag.endswith("script")]
    assert HOSTILE in _title(parsed) and "<script>" not in svg
    page = html_report.render(report)
    assert "<script>window.__pwned=9" not in page


def _matrix(page: str) -> str:
    return re.search(r'<section class="block" id="competence".*?</section>', page, re.S).group(0)


def test_competence_matrix_rows_dates_and_gaps(demo_report, demo_page):
    matrix = _matrix(demo_page)
    people = sorted(r.id for r in load_input(DEMO).index.records_of_type("personnel"))
    assert re.findall(r'<th scope="row"><span class="mono">([^<]+)</span>', matrix) == people
    byrne = re.search(r'<span class="mono">p-byrne</span>.*?</tr>', matrix, re.S).group(0)
    assert "2020-07-20" in byrne and "2023-01-23" in byrne   # evaluated as auditor; observed on site
    pers = [f for f in demo_report["findings"] if f["rule_id"].startswith("PERS")]
    links = re.findall(r'<a href="#(finding-[^"]+)">(PERS\d+)</a>', matrix)
    assert len(links) == len(pers) >= 3
    ids = set(re.findall(r'\sid="([^"]+)"', demo_page))
    assert all(anchor in ids for anchor, _rule in links)


def test_competence_matrix_escapes_names(demo_report):
    report = copy.deepcopy(demo_report)
    report["competence"][0].update(name=HOSTILE, person=HOSTILE)
    report["competence"][0]["competences"][0]["technical_area"] = HOSTILE
    matrix = _matrix(html_report.render(report))
    assert "<script>window.__pwned=9" not in matrix and "&lt;script&gt;window.__pwned=9" in matrix
