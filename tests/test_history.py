"""Run history in SQLite: what a run stores, how the trend orders and counts runs, and that
every way the database can be unusable is a clear error, never a traceback or a half run."""
import copy
import datetime as dt
import json
import sqlite3

import pytest

from benchmarks.generate_cb import generate
from checker.errors import ProblemsFound
from checker.history import SCHEMA_VERSION, HistoryError, record_run, render_trend, trend
from checker.pipeline import run_check
from checker.report.baseline import apply_baseline
from checker.report.waivers import Waiver, apply_waivers
from tests.helpers import shipped_rules


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cb") / "cb"
    generate(folder, 30, layout="folders")
    rules, params = shipped_rules()
    out = run_check(folder, rules, params, dt.date(2025, 11, 1))
    assert out["findings"] and not out["errors"]
    return out


def dated(report, as_of, drop=0):
    """The same report for another day, with its last `drop` findings fixed."""
    out = copy.deepcopy(report)
    out["as_of"] = as_of
    gone = out["findings"][len(out["findings"]) - drop:] if drop else []
    out["findings"] = out["findings"][:len(out["findings"]) - drop]
    for f in gone:
        req = next(r for r in out["requirements"] if r["id"] == f["rule_id"])
        req["finding_count"] -= 1
        if not req["finding_count"]:
            req["status"] = "conforming"
    out["summary"]["findings"] = len(out["findings"])
    for sev in out["summary"]["severity"]:
        out["summary"]["severity"][sev] = sum(f["severity"] == sev for f in out["findings"])
    return out


def rows(db, sql, *args):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_a_run_stores_summary_requirements_and_every_finding(tmp_path, report):
    db = tmp_path / "h.sqlite"
    target = report["findings"][0]
    full = apply_baseline(apply_waivers(report, [Waiver(target["rule_id"], "j", "QM", "2099-01-01",
                                                        fingerprint=target["fingerprint"])], report["as_of"]),
                          dated(report, "2025-10-01", drop=1))
    run_id = record_run(db, full)
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    (run,) = rows(db, "SELECT run_id, as_of, tool_version, input_path, findings, waived, errors, major, "
                      "status_nonconforming, baseline_as_of, new, persisting, resolved FROM runs")
    s, b = full["summary"], full["baseline"]
    assert run == (run_id, full["as_of"], full["tool"]["version"], full["input"]["path"], s["findings"], 1,
                   s["errors"], s["severity"]["major"], s["status"]["nonconforming"], "2025-10-01",
                   b["new"], b["persisting"], b["resolved"])
    stored = rows(db, "SELECT fingerprint, rule_id, clause, client, severity, record_id, message, waived, "
                      "baseline_status FROM findings WHERE run_id = ? ORDER BY seq", run_id)
    assert stored == [(f["fingerprint"], f["rule_id"], f["clause"], f["client"], f["severity"], f["record_id"],
                       f["message"], int(f["waived"]), f["baseline_status"]) for f in full["findings"]]
    reqs = rows(db, "SELECT rule_id, status, finding_count, waived_count FROM requirements WHERE run_id = ?", run_id)
    assert sorted(reqs) == sorted((r["id"], r["status"], r["finding_count"], r["waived_count"])
                                  for r in full["requirements"])


def test_a_plain_report_stores_nulls_for_what_it_lacks(tmp_path, report):
    db = tmp_path / "h.sqlite"
    record_run(db, report)
    assert rows(db, "SELECT waived, baseline_as_of, new FROM runs") == [(None, None, None)]
    assert {r for r in rows(db, "SELECT waived, baseline_status FROM findings")} == {(None, None)}


def test_trend_orders_by_as_of_then_insertion_and_counts_per_rule(tmp_path, report):
    db = tmp_path / "h.sqlite"
    later = record_run(db, dated(report, "2025-11-02", drop=1))
    first = record_run(db, dated(report, "2025-11-01"))
    rerun = record_run(db, dated(report, "2025-11-01", drop=1))     # same as_of again: a new run
    assert len({later, first, rerun}) == 3

    data = trend(db, last=10)
    assert [r["run_id"] for r in data["runs"]] == [first, rerun, later]
    assert [r["findings"] for r in data["runs"]] == [len(report["findings"]), len(report["findings"]) - 1,
                                                     len(report["findings"]) - 1]
    expected = {}
    for n, rep in enumerate([dated(report, "x"), dated(report, "x", drop=1), dated(report, "x", drop=1)]):
        for f in rep["findings"]:
            expected.setdefault(f["rule_id"], [0, 0, 0])[n] += 1
    dropped = report["findings"][-1]["rule_id"]
    expected.setdefault(dropped, [1, 0, 0])
    assert {e["rule_id"]: e["findings"] for e in data["requirements"]} == expected

    assert [r["run_id"] for r in trend(db, last=2)["runs"]] == [rerun, later]
    with pytest.raises(ValueError):
        trend(db, last=0)


def test_rules_not_evaluated_in_a_run_show_as_none(tmp_path, report):
    db = tmp_path / "h.sqlite"
    record_run(db, report)
    na = copy.deepcopy(report)
    rule = report["findings"][0]["rule_id"]
    na["findings"] = [f for f in na["findings"] if f["rule_id"] != rule]
    req = next(r for r in na["requirements"] if r["id"] == rule)
    req.update(status="not_applicable", finding_count=0)
    record_run(db, na)
    entry = next(e for e in trend(db)["requirements"] if e["rule_id"] == rule)
    assert entry["findings"] == [sum(f["rule_id"] == rule for f in report["findings"]), None]
    cells = render_trend(trend(db)).split(f"  {rule}  ")[1].split()[:2]
    assert cells == [str(entry["findings"][0]), "-"]


def test_trend_renders_deterministically_in_text_and_json(tmp_path, report):
    texts, jsons = set(), set()
    for name in ("a.sqlite", "b.sqlite"):
        db = tmp_path / name
        record_run(db, dated(report, "2025-11-01"))
        record_run(db, dated(report, "2025-11-02", drop=1))
        data = trend(db, last=5)
        texts.add(render_trend(data))
        jsons.add(render_trend(data, "json"))
    assert len(texts) == 1 and len(jsons) == 1
    assert json.loads(jsons.pop()) == data
    text = texts.pop()
    for f in report["findings"]:
        assert f["rule_id"] in text
    table = text.split("\n\n")[1].splitlines()
    assert table[1].split()[2:5] == ["2025-11-01", str(report["input"]["records"]), str(len(report["findings"]))]
    assert table[2].split()[2:5] == ["2025-11-02", str(report["input"]["records"]), str(len(report["findings"]) - 1)]
    with pytest.raises(ValueError):
        render_trend(data, "html")


def test_an_empty_database_has_no_runs(tmp_path):
    db = tmp_path / "empty.sqlite"
    sqlite3.connect(db).close()
    data = trend(db)
    assert data["runs"] == [] and "No runs recorded yet" in render_trend(data)


def test_a_failed_write_leaves_no_half_run(tmp_path, report):
    db = tmp_path / "h.sqlite"
    record_run(db, report)
    broken = copy.deepcopy(report)
    del broken["findings"][-1]["message"]
    with pytest.raises(KeyError):
        record_run(db, broken)
    assert rows(db, "SELECT count(*) FROM runs") == [(1,)]
    assert rows(db, "SELECT count(*) FROM findings") == [(len(report["findings"]),)]


def test_a_locked_database_is_a_clear_error(tmp_path, report):
    db = tmp_path / "h.sqlite"
    record_run(db, report)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for attempt in (lambda: record_run(db, report, timeout=0.1), lambda: trend(db, timeout=0.1)):
            with pytest.raises(HistoryError) as err:
                attempt()
            (problem,) = err.value.problems
            assert "locked" in problem.message and "wait for that run to finish" in problem.expected
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rows(db, "SELECT count(*) FROM runs") == [(1,)]


def test_a_corrupt_file_is_a_clear_error(tmp_path, report):
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"these are not the pages you are looking for\n" * 200)
    for attempt in (lambda: record_run(db, report), lambda: trend(db)):
        with pytest.raises(HistoryError) as err:
            attempt()
        assert "damaged" in err.value.problems[0].message and "move this file aside" in err.value.problems[0].expected


def test_a_foreign_or_newer_database_is_left_alone(tmp_path, report):
    foreign = tmp_path / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError) as err:
        record_run(foreign, report)
    assert "not a cbcheck history database" in err.value.problems[0].message
    assert rows(foreign, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("invoices",)]

    newer = tmp_path / "newer.sqlite"
    record_run(newer, report)
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    for attempt in (lambda: record_run(newer, report), lambda: trend(newer)):
        with pytest.raises(HistoryError) as err:
            attempt()
        assert "newer cbcheck" in err.value.problems[0].message
    assert rows(newer, "SELECT count(*) FROM runs") == [(1,)]


def test_reading_never_creates_a_database(tmp_path):
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(HistoryError) as err:
        trend(missing)
    assert isinstance(err.value, ProblemsFound)
    assert "cbcheck check --history" in err.value.problems[0].expected
    assert not missing.exists()


def test_an_unwritable_location_is_a_clear_error(tmp_path, report):
    with pytest.raises(HistoryError) as err:
        record_run(tmp_path / "no-such-folder" / "h.sqlite", report)
    assert "cannot open" in err.value.problems[0].message
