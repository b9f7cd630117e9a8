"""Run history: every `cbcheck check --history DB` run's summary and findings in SQLite, and
the trend over the last runs (`cbcheck history`).

Runs are ordered by as_of, then by the order they were recorded: a re-run for the same as_of
is a new run (the records may have changed since), never an overwrite, so the history shows
exactly what was run. The schema is created on first use and versioned with PRAGMA
user_version; a run is written in one transaction, so a crash or a kill leaves no half run.
Reading never creates or changes the database. Every database failure (locked, corrupt, a
foreign SQLite file, written by a newer cbcheck, cannot be opened) is a HistoryError carrying
a Problem that says what to do.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from checker.clauses import clause_sort_key
from checker.errors import Problem, ProblemsFound
from checker.report.model import STATUSES

SCHEMA_VERSION = 1
DEFAULT_DB = "cbcheck-history.sqlite"
LOCK_WAIT_SECONDS = 10.0
SEVERITIES = ("major", "minor", "observation")
EVALUATED = ("conforming", "nonconforming")

_SCHEMA = [
    f"""CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        as_of TEXT NOT NULL,
        recorded_at TEXT NOT NULL,              -- UTC wall clock, for operators only; never rendered
        tool_version TEXT NOT NULL,
        report_format TEXT NOT NULL,
        input_path TEXT NOT NULL,
        records INTEGER NOT NULL,
        clients INTEGER NOT NULL,
        requirements INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        waived INTEGER,                         -- NULL: run without --waivers
        errors INTEGER NOT NULL,
        clients_with_findings INTEGER NOT NULL,
        {", ".join(f"{s} INTEGER NOT NULL" for s in SEVERITIES)},
        {", ".join(f"status_{s} INTEGER NOT NULL" for s in STATUSES)},
        baseline_as_of TEXT,                    -- NULL: run without --baseline
        new INTEGER, persisting INTEGER, resolved INTEGER, unverified INTEGER
    )""",
    "CREATE INDEX runs_order ON runs (as_of, run_id)",
    """CREATE TABLE requirements (
        run_id INTEGER NOT NULL REFERENCES runs (run_id),
        rule_id TEXT NOT NULL, standard TEXT NOT NULL, clause TEXT NOT NULL, title TEXT NOT NULL,
        severity TEXT NOT NULL, status TEXT NOT NULL, finding_count INTEGER NOT NULL, waived_count INTEGER,
        PRIMARY KEY (run_id, rule_id)
    )""",
    """CREATE TABLE findings (
        run_id INTEGER NOT NULL REFERENCES runs (run_id),
        seq INTEGER NOT NULL,                   -- position in the report
        fingerprint TEXT NOT NULL, rule_id TEXT NOT NULL, standard TEXT NOT NULL, clause TEXT NOT NULL,
        severity TEXT NOT NULL, client TEXT, record_id TEXT NOT NULL, record_type TEXT NOT NULL,
        file TEXT NOT NULL, line INTEGER, pointer TEXT NOT NULL, message TEXT NOT NULL,
        waived INTEGER,                         -- NULL: run without --waivers
        baseline_status TEXT,                   -- NULL: run without --baseline
        PRIMARY KEY (run_id, seq)
    )""",
    "CREATE INDEX findings_fingerprint ON findings (fingerprint)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
]


class HistoryError(ProblemsFound):
    """The history database cannot be used; `.problems` says why and what to do."""


def _error(db: str, message: str, expected: str) -> HistoryError:
    return HistoryError([Problem(db, None, "", message, expected)])


def _explain(db: str, exc: sqlite3.Error) -> HistoryError:
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return _error(db, f"the history database is locked by another process ({text})",
                      "no other cbcheck run writing it: wait for that run to finish and retry, "
                      "or give this run its own --history file")
    if "not a database" in low or "malformed" in low or "disk image" in low:
        return _error(db, f"the history database is damaged or not an SQLite file ({text})",
                      "a cbcheck history database: move this file aside (keep it for inspection) "
                      "and the next run creates a new one")
    if "unable to open" in low:
        return _error(db, f"cannot open the history database ({text})",
                      "a path in an existing folder you may write to")
    if "readonly" in low or "read-only" in low:
        return _error(db, f"the history database is read-only ({text})", "a history file you may write to")
    return _error(db, f"the history database failed: {text}", "a healthy cbcheck history database")


def _check_schema(conn: sqlite3.Connection, db: str, writing: bool) -> bool:
    """True when the schema is there; creates it (inside the caller's transaction) when writing."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _error(db, f"the history database has schema version {version}, written by a newer cbcheck "
                         f"(this one knows version {SCHEMA_VERSION})",
                     "that newer cbcheck, or another --history file for this version")
    if version == SCHEMA_VERSION:
        return True
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    if tables:
        # Never add our tables to somebody else's database.
        raise _error(db, "this SQLite file is not a cbcheck history database (it has other tables: "
                         + ", ".join(sorted(t[0] for t in tables)) + ")",
                     "a new file name for --history, or a database written by cbcheck")
    if not writing:
        return False
    for statement in _SCHEMA:
        conn.execute(statement)
    return True


def _connect(db_path, writing: bool, timeout: float) -> sqlite3.Connection:
    path = Path(db_path)
    if not writing and not path.is_file():
        raise _error(str(db_path), "no history database here",
                     "a database written by `cbcheck check --history DB` (give it with --db)")
    try:
        if writing:
            return sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        # Read-only, so looking at the history can never create or alter it.
        return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise _explain(str(db_path), exc) from None


def _run_row(report: dict) -> dict:
    s, inp = report["summary"], report["input"]
    base = report.get("baseline") or {}
    row = {
        "as_of": report["as_of"],
        "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tool_version": report["tool"]["version"], "report_format": report["report_format"],
        "input_path": inp["path"], "records": inp["records"], "clients": inp["clients"],
        "requirements": s["requirements"], "findings": s["findings"], "waived": s.get("waived"),
        "errors": s["errors"], "clients_with_findings": s["clients_with_findings"],
        **{sev: s["severity"].get(sev, 0) for sev in SEVERITIES},
        **{f"status_{st}": s["status"].get(st, 0) for st in STATUSES},
        "baseline_as_of": base.get("as_of"), "new": base.get("new"), "persisting": base.get("persisting"),
        "resolved": base.get("resolved"), "unverified": base.get("unverified"),
    }
    return row


def _waived(finding: dict):
    return None if "waived" not in finding else int(bool(finding["waived"]))


def record_run(db_path, report: dict, *, timeout: float = LOCK_WAIT_SECONDS) -> int:
    """Store one run (summary, every requirement's status and counts, every finding) in one
    transaction and return its run_id. Creates the database and its schema on first use.
    Raises HistoryError when the database cannot take it."""
    db = str(db_path)
    conn = _connect(db_path, writing=True, timeout=timeout)
    try:
        # IMMEDIATE takes the write lock up front: a concurrent writer waits `timeout`, then fails clearly.
        conn.execute("BEGIN IMMEDIATE")
        _check_schema(conn, db, writing=True)
        row = _run_row(report)
        cur = conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           list(row.values()))
        run_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO requirements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, r["id"], r["standard"], r["clause"], r["title"], r["severity"], r["status"],
              r["finding_count"], r.get("waived_count")) for r in report["requirements"]])
        conn.executemany(
            "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, seq, f["fingerprint"], f["rule_id"], f["standard"], f["clause"], f["severity"], f["client"],
              f["record_id"], f["record_type"], f["file"], f["line"], f["pointer"], f["message"], _waived(f),
              f.get("baseline_status")) for seq, f in enumerate(report["findings"])])
        conn.execute("COMMIT")
        return run_id
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise _explain(db, exc) from None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _run_summary(row: sqlite3.Row) -> dict:
    waived = row["waived"]
    return {
        "run_id": row["run_id"], "as_of": row["as_of"], "tool_version": row["tool_version"],
        "input_path": row["input_path"], "records": row["records"], "clients": row["clients"],
        "findings": row["findings"], "waived": waived,
        "active": row["findings"] - (waived or 0),
        "severity": {sev: row[sev] for sev in SEVERITIES},
        "nonconforming": row["status_nonconforming"], "errors": row["errors"],
        "baseline": None if row["baseline_as_of"] is None else {
            "as_of": row["baseline_as_of"], "new": row["new"], "persisting": row["persisting"],
            "resolved": row["resolved"], "unverified": row["unverified"]},
    }


def trend(db_path, last: int = 10, *, timeout: float = LOCK_WAIT_SECONDS) -> dict:
    """The last `last` runs (oldest first) with their totals, and per requirement that had a
    finding in any of them the finding counts run by run (None where that run did not
    evaluate the rule: not assessed, not applicable, error, or not in its catalog)."""
    if last < 1:
        raise ValueError("last must be at least 1")
    db = str(db_path)
    conn = _connect(db_path, writing=False, timeout=timeout)
    conn.row_factory = sqlite3.Row
    try:
        if not _check_schema(conn, db, writing=False):
            return {"last": last, "runs": [], "requirements": []}
        rows = conn.execute("SELECT * FROM runs ORDER BY as_of DESC, run_id DESC LIMIT ?", (last,)).fetchall()
        rows.reverse()
        ids = [r["run_id"] for r in rows]
        where = f"run_id IN ({', '.join('?' * len(ids))})"
        reqs = conn.execute(f"SELECT * FROM requirements WHERE {where}", ids).fetchall() if ids else []
    except sqlite3.Error as exc:
        raise _explain(db, exc) from None
    finally:
        conn.close()
    column = {run_id: n for n, run_id in enumerate(ids)}
    table: dict[str, dict] = {}
    for r in reqs:
        entry = table.setdefault(r["rule_id"], {
            "standard": r["standard"], "clause": r["clause"], "rule_id": r["rule_id"], "title": r["title"],
            "findings": [None] * len(ids), "waived": [None] * len(ids)})
        if r["status"] in EVALUATED:
            entry["findings"][column[r["run_id"]]] = r["finding_count"]
            entry["waived"][column[r["run_id"]]] = r["waived_count"]
    shown = [e for e in table.values() if any(e["findings"][i] for i in range(len(ids)))]
    shown.sort(key=lambda e: (e["standard"], clause_sort_key(e["clause"]), e["rule_id"]))
    return {"last": last, "runs": [_run_summary(r) for r in rows], "requirements": shown}


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _table(header: list[str], rows: list[list[str]], left: int = 0) -> list[str]:
    """Fixed-width columns: the first `left` columns left-aligned, the rest (numbers) right."""
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header)] + [line(r) for r in rows]


def chart_history(db_path) -> dict:
    """The stored runs in the shape the HTML report's charts draw: the last run of each as_of
    date (a day re-run counts once, as it stands now)."""
    runs = {}
    for run_ in trend(db_path, 100)["runs"]:
        runs[run_["as_of"]] = {"as_of": run_["as_of"], "findings": run_["findings"], **run_["severity"]}
    return {"runs": list(runs.values())}


def render_trend(data: dict, fmt: str = "text") -> str:
    """The trend as JSON (the dict as it is) or as text tables; both deterministic."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}; use text or json")
    runs = data["runs"]
    if not runs:
        return "No runs recorded yet: record one with `cbcheck check PATH --history DB`.\n"
    out = [f"cbcheck history: the last {len(runs)} run(s), oldest first (asked for up to {data['last']})", ""]
    header = ["#", "run", "as_of", "records", "findings", "waived", "active", "major", "minor", "observation",
              "nonconforming", "errors", "new", "resolved"]
    rows = []
    for n, r in enumerate(runs, start=1):
        base = r["baseline"] or {}
        rows.append([str(n), str(r["run_id"]), r["as_of"], str(r["records"]), str(r["findings"]), _cell(r["waived"]),
                     str(r["active"]), *(str(r["severity"][s]) for s in SEVERITIES), str(r["nonconforming"]),
                     str(r["errors"]), _cell(base.get("new")), _cell(base.get("resolved"))])
    out += _table(header, rows, left=0)
    versions = sorted({r["tool_version"] for r in runs})
    inputs = sorted({r["input_path"] for r in runs})
    out += ["", f"cbcheck version(s): {', '.join(versions)}; input(s): {', '.join(inputs)}"]
    out += ["", "Findings per requirement, one column per run # above (- = not evaluated in that run):"]
    if not data["requirements"]:
        out.append("  none in these runs")
        return "\n".join(out) + "\n"
    header = ["standard", "clause", "rule", *(str(n) for n in range(1, len(runs) + 1)), "title"]
    rows = [[e["standard"], e["clause"], e["rule_id"], *(_cell(c) for c in e["findings"]), e["title"]]
            for e in data["requirements"]]
    # The title is last and free text: keep it out of the width computation's alignment.
    body = _table(header[:-1], [r[:-1] for r in rows], left=3)
    out.append(body[0] + "  title")
    out += [line.ljust(len(body[0])) + "  " + r[-1] for line, r in zip(body[1:], rows)]
    return "\n".join(out) + "\n"
