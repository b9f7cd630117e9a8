"""The human-readable renderers (HTML and Markdown) over real reports of the pipeline.

Reports come from a generated CB run through the whole pipeline, a folder with a malformed
YAML file, and a copy of the real report whose strings were replaced by hostile ones (the
renderers only ever see the dict, so that is exactly what untrusted record content looks
like to them). The browser test opens the HTML from disk in headless Chromium.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from benchmarks.generate_cb import generate
from checker.pipeline import run_check
from checker.report import html as html_report
from checker.report import markdown as md_report
from checker.report import svg_charts, views
from tests.chromium_pipe import INSTALL_HINT, Chromium, find_chromium
from tests.helpers import shipped_rules

SCHEMA = json.loads((Path(__file__).parent.parent / "checker/report/report.schema.json").read_text())
HOSTILE = ("</p><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\"> a | b || "
           "*bold* _em_ `code` [link](javascript:alert(1)) <!-- c --> &amp; \\ # ~~x~~ $x$")
HISTORY = {"runs": [{"as_of": "2024-11-01", "findings": 9, "major": 6, "minor": 3, "observation": 0},
                    {"as_of": "2025-05-01", "findings": 5, "major": 4, "minor": 1},
                    {"as_of": "2025-08-01", "findings": 4, "major": 3, "minor": 0, "observation": 1}]}


def _valid(report: dict) -> dict:
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(report), key=str)
    assert not errors, [e.message for e in errors][:5]
    return report


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cb")
    generate(base / "records", 40, seed=1, layout="folders")
    (base / "params.yaml").write_text("not_applicable:\n  TEAM004: We never admit observers to audits.\n")
    rules, params = shipped_rules(params_file=base / "params.yaml")
    report = _valid(run_check(base / "records", rules, params, dt.date(2026, 11, 25), timelines=True))
    # What the tests below rely on; if the generator changes, fail here rather than pass vacuously.
    assert report["findings"] and not report["errors"]
    assert len({f["client"] for f in report["findings"]}) > 3
    assert report["summary"]["status"]["not_applicable"] == 1 and report["summary"]["status"]["manual"] > 0
    return report


@pytest.fixture(scope="module")
def error_report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "records.yaml").write_text("- {type: client, id: c1, name: [unclosed\n")
    (folder / "notes.txt").write_text("not a record file")
    rules, params = shipped_rules()
    report = _valid(run_check(folder, rules, params, dt.date(2026, 11, 25)))
    assert report["errors"] and not report["findings"]
    return report


@pytest.fixture(scope="module")
def hostile_report(real_report) -> dict:
    """The real report with untrusted strings where the CB's data ends up, and one waived finding."""
    r = copy.deepcopy(real_report)
    f = r["findings"][0]
    f.update(message=HOSTILE, client='<img src=x onerror="window.__pwned=3">|c', record_id="id|<b>x</b>",
             file='a"b\'<c>|d.yaml', pointer="/x|<y>")
    f["related"].append({"binding": "z", "record_id": "<script>r</script>", "record_type": "audit",
                         "file": "r|<i>.yaml", "line": 3, "pointer": "/q|"})
    r["findings"][-1]["waived"] = True
    cycle = next(t for t in r["timelines"] if t["findings"])
    cycle.update(client="<img src=x onerror=\"window.__pwned=6\">|t")
    cycle["events"][0]["record_id"] = "<script>window.__pwned=7</script>"
    r["competence"][0]["name"] = "<img src=x onerror=\"window.__pwned=8\">|n"
    r["requirements"][0]["title"] = "Title | with <script>window.__pwned=4</script> pipe"
    r["not_applicable"]["TEAM004"] = "reason | " + HOSTILE
    r["input"]["path"] = "cb|<script>window.__pwned=5</script>"
    r["errors"] = [{"kind": "engine", "file": "e|<x>.yaml", "line": None, "pointer": "/p|q",
                    "message": HOSTILE, "expected": "no | pipes <here>"}]
    return r


# -- HTML ----------------------------------------------------------------------------------

class _Page(HTMLParser):
    """Elements, attributes and text of a page as a browser's tokenizer sees them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def test_html_is_deterministic(real_report, hostile_report, error_report):
    for report in (real_report, hostile_report, error_report):
        first = html_report.render(report, HISTORY)
        assert html_report.render(copy.deepcopy(report), copy.deepcopy(HISTORY)) == first
        assert html_report.render(report) == html_report.render(copy.deepcopy(report))
    assert html_report.render(real_report) != html_report.render(real_report, HISTORY)


def test_html_shows_every_requirement_and_finding(real_report):
    page = _Page(html_report.render(real_report))
    reqs = page.all("details")
    listed = [a for a in reqs if "req" in a.get("class", "").split()]
    by_id = {a["id"]: a for a in listed if "data-also" not in a}
    assert len(by_id) == len(real_report["requirements"])
    also = {r["id"]: len(r["also_clauses"]) for r in real_report["requirements"]}
    assert len(listed) - len(by_id) == sum(also.values()) > 0   # listed again under each clause it also evidences
    for r in real_report["requirements"]:
        shown = by_id["req-" + r["id"]]
        expected = views.display_status(r, views.findings_by_rule(real_report).get(r["id"], []))
        assert shown["data-status"] == expected
    fingerprints = [a["data-fingerprint"] for a in page.all("li") if "data-fingerprint" in a]
    assert sorted(fingerprints) == sorted(f["fingerprint"] for f in real_report["findings"]
                                          for _ in range(1 + also[f["rule_id"]]))
    text = "".join(page.text)
    for f in real_report["findings"]:
        assert f["message"] in text and f["record_id"] in text
    clients = [a for a in reqs if "client" in a.get("class", "").split()]
    assert len(clients) == len({f["client"] for f in real_report["findings"]})
    for p in real_report["parameters"]:
        assert p["name"] in text
    for st, n in real_report["summary"]["status"].items():
        assert f"{views.STATUS_LABEL[st]} ({n})" in text or n == 0


def test_html_first_screen_lists_open_majors_and_clients(real_report):
    page = _Page(html_report.render(real_report))
    shown = [a["data-fingerprint-major"] for a in page.all("li") if "data-fingerprint-major" in a]
    expected = [f["fingerprint"] for group, rows in views.findings_first(real_report) if group == "major"
                for _, found in rows for f in found]
    assert shown == expected and len(shown) == sum(1 for f in real_report["findings"] if f["severity"] == "major")
    links = [a["href"] for a in page.all("a") if a.get("href", "").startswith("#client-")]
    ids = {a["id"] for a in page.all("details") if "client" in a.get("class", "").split()}
    assert set(links) == {"#" + i for i in ids} and len(ids) == len(views.clients(real_report))
    out = html_report.render(real_report)
    assert out.index('id="majors-h"') < out.index('id="clients-first-h"') < out.index('<svg class="chart"')


def test_html_escapes_untrusted_text(hostile_report):
    out = html_report.render(hostile_report, HISTORY)
    page = _Page(out)
    assert len(page.all("script")) == 1 and not page.all("img") and not page.all("b") and not page.all("i")
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        assert "src" not in attrs and tag not in ("link", "iframe", "object", "embed", "base")
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
    text = "".join(page.text)
    assert HOSTILE in text  # shown to the reader exactly as the data has it, as text
    assert hostile_report["findings"][0]["client"] in text and "Title | with <script>" in text
    # Nothing in the page may reach out: a CSP forbids it and no stylesheet names a URL.
    csp = page.all("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert "url(" not in html_report.CSS and "@import" not in html_report.CSS
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg\")", out)


def test_html_lists_input_errors(error_report):
    page = _Page(html_report.render(error_report))
    text = "".join(page.text)
    assert page.all("section", id="errors") and page.all("div", role="alert")
    for err in error_report["errors"]:
        assert err["message"] in text and err["file"] in text
    assert "No findings, so no chart." in text
    assert "notes.txt" in text  # ignored files are listed, never silently skipped


def test_bar_chart_lengths_follow_the_counts(real_report):
    out = html_report.render(real_report)
    svg = out[out.index('<svg class="chart"'):]
    svg = svg[:svg.index("</svg>")]
    bars = re.findall(r'width="([\d.]+)" height="[\d.]+"><title>([^<]+): (\d+) (\w+)</title>', svg)
    counts = views.clause_finding_counts(real_report)
    assert len(bars) == sum(1 for _, _, c in counts for n in c.values() if n)
    per_unit = [float(w) / int(n) for w, _, n, _ in bars]
    assert max(per_unit) - min(per_unit) <= 0.05 * max(per_unit)  # one scale for every bar (widths are rounded)
    drawn = {(label, sev): int(n) for _, label, n, sev in bars}
    for std, clause, c in counts:
        for sev, n in c.items():
            if n:
                assert drawn[(f"{views.standard_short(std)} {clause}", sev)] == n


def test_bar_chart_scale_with_many_rows():
    rows = [(f"c{i}", {"major": i % 4, "minor": 1}) for i in range(25)]
    svg = svg_charts.bar_chart(rows, [("major", "Major"), ("minor", "Minor")], title="t", desc="d", label_id="x")
    bars = re.findall(r'width="([\d.]+)" height="[\d.]+"><title>(c\d+): (\d+) (\w+)</title>', svg)
    assert len(bars) == sum(1 for _, c in rows for n in c.values() if n)
    assert len({round(float(w) / int(n), 1) for w, _, n, _ in bars}) == 1
    totals = re.findall(r'<text class="value"[^>]*>(\d+)</text>', svg)
    assert [int(t) for t in totals] == [sum(c.values()) for _, c in rows]


def test_history_chart_and_its_shape(real_report):
    runs = views.normalise_history(HISTORY, real_report)
    assert [r["as_of"] for r in runs] == ["2024-11-01", "2025-05-01", "2025-08-01", real_report["as_of"]]
    assert runs[-1] == views.history_run(real_report)
    charts_only = {k: v for k, v in real_report.items() if k != "timelines"}   # the cycles: test_timelines.py
    page = _Page(html_report.render(charts_only, HISTORY))
    assert len(page.all("svg")) == 2 and page.all("polyline")
    circles = page.all("circle")
    assert len(circles) == sum(1 for r in runs for k in ("findings", "major", "minor", "observation") if k in r)
    # A run on the report's own date is not doubled.
    same_day = {"runs": [{"as_of": real_report["as_of"], "findings": 1}]}
    assert views.normalise_history(same_day, real_report) == [{"as_of": real_report["as_of"], "findings": 1}]
    for bad in ({}, {"runs": {}}, {"runs": [{"findings": 1}]}, {"runs": [{"as_of": "1.2.2025"}]},
                {"runs": [{"as_of": "2025-01-01", "major": -1}]}, {"runs": [{"as_of": "2025-01-01", "minor": "2"}]},
                {"runs": [{"as_of": "2025-01-01"}, {"as_of": "2025-01-01"}]}):
        with pytest.raises(ValueError):
            html_report.render(real_report, bad)


def test_nice_ticks():
    assert svg_charts.nice_ticks(0) == [0, 1]
    assert svg_charts.nice_ticks(4) == [0, 1, 2, 3, 4]
    assert svg_charts.nice_ticks(38) == [0, 10, 20, 30, 40]
    assert svg_charts.nice_ticks(120)[-1] >= 120 and len(svg_charts.nice_ticks(120)) <= 7


# -- Markdown ------------------------------------------------------------------------------

def _md_tokens(text: str):
    from markdown_it import MarkdownIt  # test dependency: markdown-it-py (CommonMark + GFM tables)
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)


def _inline_text(tokens) -> list[str]:
    """The plain text of each inline token, as a reader sees it after rendering."""
    out = []
    for t in tokens:
        if t.type == "inline":
            out.append("".join(c.content for c in t.children if c.type in ("text", "code_inline", "softbreak")))
    return out


def _tables(tokens) -> list[list[int]]:
    """Cells per row of each table."""
    tables, row = [], None
    for t in tokens:
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            row = 0
        elif t.type in ("th_open", "td_open"):
            row += 1
        elif t.type == "tr_close":
            tables[-1].append(row)
    return tables


def test_markdown_is_deterministic(real_report, hostile_report, error_report):
    for report in (real_report, hostile_report, error_report):
        assert md_report.render(report) == md_report.render(copy.deepcopy(report))


def test_markdown_structure(real_report):
    out = md_report.render(real_report)
    tokens = _md_tokens(out)
    headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    h2 = [c for tag, c in headings if tag == "h2"]
    assert headings[0] == ("h1", "Conformance gap report")
    assert h2 == ["Summary", "Requirements by clause", "ISO/IEC 20000-6:2017 clause by clause", "Findings by client",
                  "Manual checklist", "Not applicable", "Parameters used", "Input"]
    standards = list(dict.fromkeys(r["standard"] for r in real_report["requirements"]))
    assert [c for tag, c in headings if tag == "h3" and c in standards] == standards
    for cells in _tables(tokens):
        assert len(set(cells)) == 1, cells  # every row as wide as its header
    texts = _inline_text(tokens)
    # Requirement tables: one row per requirement, with its id and status.
    rows = {}
    for i, t in enumerate(tokens):
        if t.type == "tr_open" and tokens[i + 1].type == "td_open":
            cells = [tokens[j + 1].content for j in range(i, len(tokens)) if tokens[j].type == "td_open"][:6]
            if "(also; own clause " not in cells[0]:   # listed again under a clause it also evidences
                rows.setdefault(cells[1], cells)
    by_rule = views.findings_by_rule(real_report)
    for r in real_report["requirements"]:
        row = rows[r["id"]]
        assert row[0] == r["clause"] and row[4] == views.STATUS_LABEL[views.display_status(r, by_rule.get(r["id"], []))]
        assert row[5] == str(r["finding_count"])
    # Every finding under its requirement (and again under each clause that also lists it) and its client.
    also = {r["id"]: len(r["also_clauses"]) for r in real_report["requirements"]}
    for f in real_report["findings"]:
        assert sum(1 for t in texts if t == f"Fingerprint: {f['fingerprint']}") == 2 + also[f["rule_id"]]
        assert sum(1 for t in texts if f["message"] in t) == 2
    # Summary table counts are the report's.
    for st, n in real_report["summary"]["status"].items():
        assert f"| {views.STATUS_LABEL[st]} | {n} |" in out
    for r in views.manual_requirements(real_report):
        assert any(line.startswith(f"- [ ] **{r['id']}**") for line in out.splitlines())


def test_markdown_escapes_untrusted_text(hostile_report):
    out = md_report.render(hostile_report)
    tokens = _md_tokens(out)
    kinds = {t.type for t in tokens} | {c.type for t in tokens if t.children for c in t.children}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "s_open", "code_inline"}, kinds
    for cells in _tables(tokens):
        assert len(set(cells)) == 1, cells
    texts = _inline_text(tokens)
    assert sum(1 for t in texts if HOSTILE in t) >= 3  # requirement list, client list, errors table
    assert any(t == "reason | " + HOSTILE for t in texts)  # not-applicable table cell, pipes and all
    assert any(t == "Title | with <script>window.__pwned=4</script> pipe" for t in texts)
    strong = [tokens[i].children for i in range(len(tokens)) if tokens[i].children]
    emphasised = [c[j + 1].content for c in strong for j, x in enumerate(c[:-1]) if x.type in ("em_open", "strong_open")]
    assert "bold" not in emphasised and "em" not in emphasised


def test_markdown_lists_input_errors(error_report):
    out = md_report.render(error_report)
    texts = _inline_text(_md_tokens(out))
    assert f"## Input errors ({len(error_report['errors'])})" in out.splitlines()
    for err in error_report["errors"]:
        assert err["message"] in texts
    assert "notes.txt" in out


# -- the page in a real browser ------------------------------------------------------------

def test_html_in_headless_chromium(hostile_report, tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.fail("Chromium not found. " + INSTALL_HINT)
    page = tmp_path / "report.html"
    page.write_text(html_report.render(hostile_report, HISTORY), encoding="utf-8")
    by_rule = views.findings_by_rule(hostile_report)
    req = next(r for r in hostile_report["requirements"] if len(by_rule.get(r["id"], [])) > 0)
    n_findings = len(by_rule[req["id"]])
    n_majors = sum(1 for f in hostile_report["findings"] if f["severity"] == "major" and not f.get("waived"))
    assert n_majors, "the browser test needs major findings to show on the first screen"
    profile = tmp_path / "profile"
    profile.mkdir()
    # A hang guard, not a speed check: printing a long page takes tens of seconds on a loaded machine.
    with Chromium(binary, str(profile), width=1280, height=900, timeout=180) as b:
        b.open(page.as_uri())
        assert b.js("document.title") == (f"cbcheck report - {hostile_report['input']['path']} - "
                                          f"as of {hostile_report['as_of']}")
        assert b.visible("#summary h2") and b.visible("#overview svg.chart")
        cards = b.js("Array.from(document.querySelectorAll('#summary .card')).map(c => c.innerText)")
        assert f"{hostile_report['summary']['findings']}\nFindings" in cards
        # The first screen, before any scrolling: the major findings and the clients with
        # findings are in the viewport; the findings-per-clause chart is below it.
        in_view = ("(function(sel){var r=document.querySelector(sel).getBoundingClientRect();"
                   "return r.top>=0 && r.bottom<=window.innerHeight && r.width>0;})")
        assert b.js(f"{in_view}('#majors-h')") and b.js(f"{in_view}('ol.majors-list > li')")
        assert b.js(f"{in_view}('#clients-first-h')") and b.js(f"{in_view}('ul.clients-list > li')")
        assert b.js("document.querySelectorAll('ol.majors-list > li').length") == n_majors
        assert not b.js(f"{in_view}('#overview svg.chart')")
        assert b.js("document.querySelector('#overview svg.chart').getBoundingClientRect().top > "
                    "document.querySelector('ol.majors-list > li').getBoundingClientRect().bottom")
        assert b.js("window.__pwned === undefined"), "markup from the data ran"

        # Drill-down: closed at first, a click on its summary shows the findings.
        sel = f"#req-{req['id']}"
        assert not b.visible(f"{sel} ol.findings")
        b.click(f"{sel} > summary")
        assert b.visible(f"{sel} ol.findings")
        assert b.js(f"document.querySelectorAll('{sel} ol.findings > li').length") == n_findings

        # Client view, by keyboard: Enter on a client's summary opens its table.
        first = "details.client"
        assert not b.visible(f"{first} table")
        b.press_enter_on(f"{first} > summary")
        assert b.visible(f"{first} table")
        # Its requirement link opens that requirement wherever it is.
        target = b.js(f"document.querySelector('{first} td a').getAttribute('href')")
        b.js(f"document.querySelector('{target}').open = false")
        b.click(f"{first} td a")
        b.wait_for(f"document.querySelector('{target}').open")

        # Client search hides the others.
        last_client = b.js("Array.from(document.querySelectorAll('details.client')).pop().id")
        b.js("document.getElementById('client-filter').focus()")
        b.call("Input.insertText", {"text": "zz-no-such-client"})
        assert not b.visible(f"#{last_client} > summary")
        b.js("var f=document.getElementById('client-filter'); f.value=''; f.dispatchEvent(new Event('input'))")
        assert b.visible(f"#{last_client} > summary")

        # Status filter: unticking "Conforming" hides the conforming requirements.
        conforming = b.js("document.querySelector('details.req[data-status=conforming]').id")
        assert b.visible(f"#{conforming}")
        b.click("input[data-status-filter=conforming]")
        assert not b.visible(f"#{conforming}")
        b.click("input[data-status-filter=conforming]")
        assert b.visible(f"#{conforming}")

        # Paper: the navigation is not printed, and a PDF comes out.
        b.call("Emulation.setEmulatedMedia", {"media": "print"})
        assert not b.visible("nav.toc")
        b.call("Emulation.setEmulatedMedia", {"media": ""})
        # Its first page only: printing all of this long report took a minute on a loaded machine.
        pdf = b.call("Page.printToPDF", {"printBackground": True, "pageRanges": "1"})["data"]
        assert pdf.startswith("JVBERi0")  # base64 of "%PDF-"

        b.js("window.scrollTo(0, 0)")
        # The whole page when someone asked for the picture; else its top three screens (beyond
        # the viewport all the same, without encoding a 16 MB PNG).
        wanted = os.environ.get("CBCHECK_SCREENSHOT_DIR")
        png = b.screenshot(full_page=True, max_height=None if wanted else 3 * 900)
        assert b.problems() == []
        assert b.requested_urls() == [page.as_uri()]  # the page itself and nothing else
    shots = Path(wanted or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "report-screenshot.png").write_bytes(png)
    saved = (shots / "report-screenshot.png").read_bytes()
    assert saved[:8] == b"\x89PNG\r\n\x1a\n" and len(saved) > 10_000
    width, height = struct.unpack(">II", saved[16:24])
    assert width == 1280 and height > 900
