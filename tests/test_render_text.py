"""The text report a quality manager reads first: findings first (by severity, then clause,
each once, with client, record, file:line and the fix), then a one-screen summary; the full
requirement listing only with --all."""
from __future__ import annotations

import copy
import datetime as dt
from collections import Counter

import pytest
from click.testing import CliRunner

from benchmarks.generate_cb import generate
from checker.pipeline import run_check
from checker.report import text, views
from tests.helpers import shipped_rules
from cli import main

SCREEN_LINES = 40


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cb")
    generate(base / "records", 40, seed=1, layout="folders")
    rules, params = shipped_rules()
    report = run_check(base / "records", rules, params, dt.date(2026, 11, 25))
    severities = {f["severity"] for f in report["findings"]}
    assert not report["errors"] and len(severities) >= 2, "the generated CB must give findings of several severities"
    report = copy.deepcopy(report)
    report["findings"][-1]["waived"] = True
    report["findings"][-1]["waiver"] = {"justification": "agreed", "approver": "QM", "expires": "2027-01-31",
                                        "file": "w.yaml", "line": 1}
    return report


def _finding_line(f: dict) -> str:
    return f"{f['record_type']} {f['record_id']}  {views.location(f)} {f['pointer'] or '/'}"


def _blocks(out: str) -> list[str]:
    """Each finding's block in the findings section: its "  - " line and the message under it."""
    blocks: list[str] = []
    for line in out[:out.index("SUMMARY")].splitlines():
        if line.startswith("  - "):
            blocks.append(line)
        elif line.startswith("    ") and blocks:
            blocks[-1] += " " + line.strip()
    return blocks


def test_every_finding_once_by_severity_then_clause(report):
    out = text.render(report)
    blocks = _blocks(out)
    assert len(blocks) == len(report["findings"])
    keys = Counter((_finding_line(f), " ".join(f["message"].split())) for f in report["findings"])
    first_block = {}
    for key, n in keys.items():
        hits = [i for i, b in enumerate(blocks) if key[0] in b and b.endswith(key[1])]
        assert len(hits) == n, f"{key[0]} shown {len(hits)} times, expected {n}"
        first_block[key] = hits[0]
    order = {r["id"]: i for i, r in enumerate(report["requirements"])}
    rank = {"major": 0, "minor": 1, "observation": 2}
    placed = sorted(report["findings"], key=lambda f: first_block[(_finding_line(f), " ".join(f["message"].split()))])
    shown = [(3 if f.get("waived") else rank[f["severity"]], order[f["rule_id"]]) for f in placed]
    assert shown == sorted(shown)
    assert out.index("MAJOR (") < out.index("WAIVED") < out.index("SUMMARY")


def test_each_finding_group_ends_with_its_fix(report):
    out = text.render(report)
    groups = views.findings_first(report)
    assert out.count("  Fix: ") == sum(len(rows) for _, rows in groups)
    first_req = groups[0][1][0][0]
    assert " ".join(first_req["remediation"].split())[:60] in " ".join(out.split())


def test_summary_fits_a_screen_and_no_listing_without_all(report):
    out = text.render(report)
    summary = out[out.index("SUMMARY"):].splitlines()
    assert len(summary) <= SCREEN_LINES
    assert "Requirements: " in summary[1] and "--all" in summary[-1]
    assert "[conforming]" not in out and "Manual checks" not in out and "Parameters used" not in out


def test_all_adds_every_requirement_manual_checklist_and_parameters(report):
    out = text.render(report, full=True)
    listing = out[out.index("ALL REQUIREMENTS"):]
    assert out.index("SUMMARY") < out.index("ALL REQUIREMENTS")
    for r in report["requirements"]:
        assert f" {r['id']}  {r['title']}" in listing
    assert "[conforming; judged on " in listing and "Manual checks" in listing and "Parameters used" in listing


def test_no_findings_says_so_and_never_as_a_pass_when_errors_stopped_the_run(report):
    empty = dict(report, findings=[])
    assert "FINDINGS: none\n" in text.render(empty)
    stopped = dict(empty, errors=[{"kind": "input", "file": "a.yaml", "line": 3, "pointer": "/x", "message": "bad",
                                   "expected": "good"}])
    out = text.render(stopped)
    assert out.index("ERRORS (1)") < out.index("FINDINGS: none found, but the errors above stopped")


@pytest.mark.parametrize("command", ["check", "prescreen"])
def test_all_option(tmp_path, command):
    folder = tmp_path / "cb"
    folder.mkdir()
    (folder / "c.yaml").write_text("- {type: client, id: c1, name: A}\n")
    plain = CliRunner().invoke(main, [command, str(folder), "--as-of", "2025-06-30"])
    full = CliRunner().invoke(main, [command, str(folder), "--as-of", "2025-06-30", "--all"])
    assert plain.exit_code == full.exit_code != 2
    assert "SUMMARY" in plain.output and "ALL REQUIREMENTS" not in plain.output
    assert "ALL REQUIREMENTS" in full.output and "[NOT ASSESSED]" in full.output
    assert full.output.startswith(plain.output.rstrip("\n").rsplit("\n", 1)[0])


def test_coverage_text_keeps_every_topic_whole():
    from checker.catalog.coverage import coverage, load_clauses, render_text
    from checker.catalog.loader import default_rules_dir

    rules, _params = shipped_rules()
    cov = coverage(rules, load_clauses(default_rules_dir()))
    out = render_text(cov)
    rows = [row for s in cov["standards"] for row in s["by_clause"]]
    assert any(len(row["topic"]) > 60 for row in rows)
    for row in rows:
        ids = " ".join(r + ("+" if r in row["also"] else "") for r in row["rules"])   # + cites it as an additional clause
        assert f"manual  {row['topic']}: {ids or 'MISSING'}" in out

