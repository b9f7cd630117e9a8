"""The forecast's HTML page: deterministic, escaped, self-contained, and in a real browser a
calendar whose days link to the agenda items due on them."""
import datetime as dt
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from checker.forecast.compute import build_forecast
from checker.forecast.render_html import CSP, STYLE, render_html
from checker.report.html_assets import csp_hash
from tests.chromium_pipe import INSTALL_HINT, Chromium, find_chromium
from tests.forecast_samples import HOSTILE_CLIENT, hostile_forecast
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "checker/forecast/forecast.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_forecast():
    rules, params = shipped_rules()
    return build_forecast("fixtures/demo-cb", rules, params, dt.date(2026, 6, 1), 60)


def test_page_is_deterministic_and_pins_its_only_stylesheet(demo_forecast):
    page = render_html(demo_forecast)
    assert page == render_html(json.loads(json.dumps(demo_forecast)))
    assert f"<style>{STYLE}</style>" in page and csp_hash(STYLE) in CSP and "script-src 'none'" in CSP
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_untrusted_text_is_escaped():
    forecast = hostile_forecast()
    assert [e.message for e in Draft202012Validator(SCHEMA).iter_errors(forecast)] == []
    page = render_html(forecast)
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "Acme, Ltd; &#34;North&#34;" in page and "&lt;script&gt;window.__pwned=1" in page


def test_in_headless_chromium(demo_forecast, tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.fail("Chromium not found. " + INSTALL_HINT)
    page = tmp_path / "forecast.html"
    page.write_text(render_html(demo_forecast), encoding="utf-8")
    hostile = tmp_path / "hostile.html"
    hostile.write_text(render_html(hostile_forecast()), encoding="utf-8")
    profile = tmp_path / "profile"
    profile.mkdir()
    due = demo_forecast["due"]
    assert len(due) >= 3, "the browser test needs items falling due"
    with Chromium(binary, str(profile), width=1280, height=900, timeout=180) as b:
        b.open(page.as_uri())
        assert b.js("document.title") == "cbcheck forecast - fixtures/demo-cb - 2026-06-01 to 2026-07-31"
        # The stylesheet applied (the CSP let it through): the header is dark.
        assert b.js("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(16, 36, 62)"
        # Every day of the window is a cell; each item sits on its due day and links to its agenda entry.
        cells = b.js("document.querySelectorAll('table.cal td:not(.out)').length")
        assert cells == 60
        for item in due:
            links = b.js(f"Array.from(document.querySelectorAll('td[data-date=\"{item['due_date']}\"] a'))"
                         ".map(a => a.getAttribute('href'))")
            target = [h for h in links if item["fingerprint"] in h]
            assert len(target) == 1
            assert b.js(f"document.querySelector('{target[0]}').dataset.fingerprint") == item["fingerprint"]
        assert b.js("document.querySelectorAll('ol.agenda > li').length") == len(due)
        assert b.problems() == []
        assert b.requested_urls() == [page.as_uri()]
        b.open(hostile.as_uri())
        assert b.js("window.__pwned === undefined")
        assert HOSTILE_CLIENT.split("\r")[0] in b.js("document.querySelector('ol.agenda').innerText")


@pytest.fixture(scope="module")
def check_html_with_forecast() -> str:
    """`check --format html --forecast-days 30` on the demo, run once for the tests reading it."""
    from click.testing import CliRunner

    from cli import main
    run = CliRunner().invoke(main, ["check", "fixtures/demo-cb", "--as-of", "2026-06-01", "--format", "html",
                                    "--forecast-days", "30", "--fail-on", "none"], catch_exceptions=False)
    assert run.exit_code == 0
    return run.output


def test_check_html_first_screen_lists_what_falls_due(check_html_with_forecast):
    from click.testing import CliRunner

    from cli import main
    page = check_html_with_forecast
    # From 2026-06-01: REP001 (saltmarsh's overdue report) on 06-12, MGT001 (the CB's management review) on 06-18.
    assert "Falling due in the next 30 days (2)</h3>" in page
    first_screen = page[page.index('id="summary"'):page.index('id="overview"')]
    assert first_screen.count("data-fingerprint-due=") == 2
    assert first_screen.index("2026-06-12") < first_screen.index("2026-06-18")
    assert "act by 2026-06-11: audit" in first_screen and "act by 2026-06-17: cb_activity" in first_screen
    plain = CliRunner().invoke(main, ["check", "fixtures/demo-cb", "--forecast-days", "30"])
    assert plain.exit_code == 2 and "--forecast-days shows in the HTML report" in plain.output


def test_check_html_timeline_marks_what_falls_due_for_its_client(check_html_with_forecast):
    import re
    import xml.etree.ElementTree as ET

    timelines = dict(re.findall(r'<h3 id="cycle-([^"]+)">[^<]*</h3>\s*(<svg.*?</svg>)', check_html_with_forecast,
                                re.S))
    svg = "{http://www.w3.org/2000/svg}"
    due = {client: [c.find(f"{svg}title").text for c in ET.fromstring(drawing).iter(f"{svg}circle")
                    if "tl-due" in c.get("class", "")]
           for client, drawing in timelines.items()}
    # Saltmarsh's overdue report (REP001) appears on 06-12; the management review (MGT001) is
    # CB-wide and belongs to no client's cycle.
    assert {client: marks for client, marks in due.items() if marks} == {
        "saltmarsh": [m for m in due["saltmarsh"] if m.startswith("falls due 2026-06-12 (act by 2026-06-11): ")]}
    assert len(due["saltmarsh"]) == 1 and "REP001" in due["saltmarsh"][0]
