"""Reading the CB's database: the demo CB built as a SQLite database and loaded into a real
PostgreSQL server gives the same findings, fingerprints included, as its YAML; reading is
read-only and one snapshot; every problem is located at table, key, column and value, or is
one clear line (unreachable server, refused credentials, missing table or column)."""
import datetime as dt
import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from checker.importers import database_demo
from checker.importers.database_mapping import compile_database_mapping
from checker.importers.database_url import make_engine, parse_target
from checker.pipeline import load_input, run_check
from checker.report import text
from cli import main
from tests import pg_cluster
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
MAPPING = ROOT / "fixtures" / "demo-db" / "db-mapping.yaml"
AS_OF = dt.date(2026, 11, 25)
READER, READER_PASSWORD = "cb_reader", "reader-secret-for-tests"


def essence(report):
    """What must not change when the same records come from a database: everything but where
    the records sat (file, line); the fingerprint carries rule, records and field."""
    return sorted((f["rule_id"], f["client"], f["record_id"], f["fingerprint"], f["message"])
                  for f in report["findings"])


def run(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def records_of(path, mapping=None):
    return sorted((r.data for r in load_input(path, mapping).read.records), key=lambda d: d["id"])


@pytest.fixture(scope="session")
def yaml_report():
    rules, params = shipped_rules()
    return run_check(DEMO, rules, params, AS_OF)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """The demo CB as a SQLite file, built by the shipped script."""
    path = tmp_path_factory.mktemp("demo-db") / "demo-cb.db"
    assert database_demo.main([str(DEMO), str(path)]) == 0
    return path


@pytest.fixture
def db_copy(demo_db, tmp_path):
    path = tmp_path / "cms.db"
    shutil.copy(demo_db, path)
    return path


def mapping_with(tmp_path, change) -> Path:
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "db-mapping.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_demo_mapping_is_the_one_the_script_writes():
    assert MAPPING.read_text(encoding="utf-8") == database_demo.mapping_text(), \
        "fixtures/demo-db/db-mapping.yaml is stale: python -m checker.importers.database_demo ... --mapping it"


def test_demo_sqlite_gives_the_yaml_findings_with_the_same_fingerprints(demo_db, yaml_report):
    before = demo_db.read_bytes()
    code, out = run("check", f"sqlite:///{demo_db}", "--mapping", MAPPING, "--as-of", AS_OF, "--format", "json",
                    "--fail-on", "none", "--quiet")
    report = json.loads(out)
    assert code == 0 and report["errors"] == []
    assert essence(report) == essence(yaml_report) and len(report["findings"]) > 20
    assert report["input"]["records"] == yaml_report["input"]["records"]
    finding = report["findings"][0]
    assert finding["file"] == f"{finding['record_type']}[id={finding['record_id']}]" and finding["line"] is None
    shown = text.render(report)
    assert f"  {finding['file']} {finding['pointer']}" in shown and ":None" not in shown
    assert demo_db.read_bytes() == before


def test_import_database_writes_the_demo_records_as_yaml(demo_db, tmp_path):
    out = tmp_path / "imported"
    code, output = run("import", "database", f"sqlite:///{demo_db}", "--mapping", MAPPING, "--out", out)
    assert code == 0, output
    assert "0 refused" in output and "record(s) made" in output
    assert records_of(out) == records_of(DEMO)


def test_validate_accepts_the_url(demo_db):
    code, out = run("validate", f"sqlite:///{demo_db}", "--mapping", MAPPING)
    assert code == 0 and "are valid" in out


def test_a_bad_value_names_table_key_column_and_value_and_nothing_is_evaluated(db_copy):
    with sqlite3.connect(db_copy) as conn:
        conn.execute("UPDATE audit SET start_date = '31/02/2024' WHERE id = (SELECT min(id) FROM audit)")
        audit_id = conn.execute("SELECT min(id) FROM audit").fetchone()[0]
        conn.execute("UPDATE client_sites SET central = 7 WHERE item_id = 1")
    code, out = run("check", f"sqlite:///{db_copy}", "--mapping", MAPPING, "--as-of", AS_OF, "--format", "json",
                    "--quiet")
    report = json.loads(out)
    assert code == 2 and report["findings"] == []
    where = {(e["file"], e["pointer"]): e["message"] for e in report["errors"]}
    assert "column 'start_date', value '31/02/2024'" in where[(f"audit[id={audit_id}]", "/start_date")]
    assert "column 'central', value 7: not a yes/no value" in where[("client_sites[item_id=1]", "/central")]
    code, out = run("import", "database", f"sqlite:///{db_copy}", "--mapping", MAPPING, "--out", db_copy.parent / "o")
    summary = re.search(r"(\d+) row\(s\) read, (\d+) record\(s\) made, (\d+) refused; nothing written", out)
    assert code == 2 and summary, out
    assert int(summary[3]) == 3         # the audit, the site, and the client the site belongs to
    assert not (db_copy.parent / "o").exists()


@pytest.mark.parametrize("change, expected", [
    (lambda m: m["tables"]["audit"].update(table="audits"), "audit: no table audits in the database"),
    (lambda m: m["tables"]["audit"]["columns"].update({"start_dat": m["tables"]["audit"]["columns"].pop("start_date")}),
     "audit: table audit has no column 'start_dat'"),
    (lambda m: m["tables"]["client"].update(query="SELECT * FROM no_such_table"), "client at /query: the query fails"),
])
def test_missing_table_column_or_failing_query_is_one_line_and_nothing_is_read(db_copy, tmp_path, change, expected):
    mapping = mapping_with(tmp_path, change)
    code, out = run("validate", f"sqlite:///{db_copy}", "--mapping", mapping)
    assert code == 2 and expected in out and "Traceback" not in out
    assert out.count("\n") == 2, out       # the heading and the one problem


def test_a_query_entry_reads_like_a_table(demo_db, tmp_path):
    def as_query(m):
        m["tables"]["audit"]["query"] = "SELECT * FROM audit WHERE client IS NOT NULL;"
    mapping = mapping_with(tmp_path, as_query)
    assert records_of(f"sqlite:///{demo_db}", mapping) == records_of(DEMO)


def test_mapping_problems_are_located_in_the_mapping_file(demo_db, tmp_path):
    def broken(m):
        m["tables"]["audit"]["colums"] = {}
        m["tables"]["client_sites"].pop("key")
    mapping = mapping_with(tmp_path, broken)
    code, out = run("validate", f"sqlite:///{demo_db}", "--mapping", mapping)
    lines = [ln.strip() for ln in out.splitlines()[1:]]
    assert code == 2 and lines and all(ln.startswith("db-mapping.yaml:") for ln in lines), out
    assert any("/tables/audit" in ln and "colums" in ln for ln in lines)
    mapping = mapping_with(tmp_path, lambda m: m["tables"]["client_sites"].pop("key"))
    code, out = run("validate", f"sqlite:///{demo_db}", "--mapping", mapping)
    assert code == 2 and "/tables/client_sites: no `key`" in out


def test_a_url_with_a_password_is_refused_and_the_password_never_printed(demo_db):
    code, out = run("check", "postgresql://cb:hunter2@127.0.0.1:1/cms", "--mapping", MAPPING, "--format", "json",
                    "--quiet")
    report = json.loads(out)
    assert code == 2 and "hunter2" not in out and report["input"]["path"] == "postgresql://cb:***@127.0.0.1:1/cms"
    assert "holds a password" in report["errors"][0]["message"]
    code, out = run("import", "database", "postgresql://cb@h/cms?password=hunter2", "--mapping", MAPPING, "--out", "x")
    assert code == 2 and "hunter2" not in out and "password=***" in out


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///no/such/file.db", "no such database file"),
    ("sqlite://", "in-memory"),
    ("mysql://cb@h/cms", "not read by cbcheck"),
])
def test_unusable_urls_are_one_line(url, expected):
    code, out = run("validate", url, "--mapping", MAPPING)
    assert code == 2 and expected in out and out.count("\n") == 2


def test_without_the_postgres_extra_the_driver_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)      # as after a plain install: no psycopg
    code, out = run("validate", "postgresql://cb@127.0.0.1:1/cms", "--mapping", MAPPING)
    assert code == 2 and "driver is not installed (psycopg)" in out and "cbcheck[postgres]" in out


def test_a_database_url_needs_a_mapping(demo_db):
    code, out = run("validate", f"sqlite:///{demo_db}")
    assert code == 2 and "needs a mapping" in out


def writes_are_refused_and_reads_see_one_snapshot(url: str, write_from_outside):
    """Through cbcheck's engine: a write fails, and a row committed by someone else during the
    read is not seen by it."""
    from sqlalchemy import text as sql
    from sqlalchemy.exc import DBAPIError

    target, problems = parse_target(url)
    assert problems == []
    engine = make_engine(target)
    try:
        with engine.connect() as conn, conn.begin():
            before = conn.execute(sql("SELECT count(*) FROM complaint")).scalar_one()
            write_from_outside()
            assert conn.execute(sql("SELECT count(*) FROM complaint")).scalar_one() == before
        with engine.connect() as conn, conn.begin():
            assert conn.execute(sql("SELECT count(*) FROM complaint")).scalar_one() == before + 1
            with pytest.raises(DBAPIError, match="(?i)read-?only"):
                conn.execute(sql("INSERT INTO complaint (id, subject) VALUES ('cmp-2', 'a write')"))
    finally:
        engine.dispose()


def test_sqlite_is_read_only_and_one_snapshot(db_copy):
    with sqlite3.connect(db_copy) as conn:
        conn.execute("PRAGMA journal_mode=WAL")    # lets a writer commit while the read is open

    def add_complaint():
        with sqlite3.connect(db_copy) as conn:
            conn.execute("INSERT INTO complaint (id, subject) VALUES ('cmp-new', 'late report')")
    writes_are_refused_and_reads_see_one_snapshot(f"sqlite:///{db_copy}", add_complaint)


# --- PostgreSQL: a real server -------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres():
    """A throwaway cluster with the demo CB loaded in database `cms`, readable by cb_reader;
    stopped and removed at the end of the session, and when starting it fails."""
    bin_dir = pg_cluster.find_server_binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine; install them with "
                    "`apt-get install -y postgresql` as README command 2 does")
    cluster = pg_cluster.new_cluster(bin_dir)
    try:
        cluster.start()
        _load_demo(cluster)
        yield cluster
    finally:
        cluster.stop()


def _load_demo(cluster):
    import psycopg

    admin = dict(host="127.0.0.1", port=cluster.port, user=pg_cluster.ADMIN, password=pg_cluster.ADMIN_PASSWORD)
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute("CREATE DATABASE cms")
        conn.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
    url = cluster.url(pg_cluster.ADMIN, "cms", pg_cluster.ADMIN_PASSWORD)
    assert database_demo.write_database(records_of(DEMO), url) == []
    with psycopg.connect(dbname="cms", autocommit=True, **admin) as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}")
        # cbcheck's read-only transaction, not a missing grant, must be what refuses its writes
        conn.execute(f"GRANT INSERT ON complaint TO {READER}")


def test_postgres_demo_gives_the_yaml_findings_with_the_same_fingerprints(postgres, yaml_report):
    env = {"PGPASSWORD": READER_PASSWORD}
    code, out = run("check", postgres.url(READER, "cms"), "--mapping", MAPPING, "--as-of", AS_OF, "--format", "json",
                    "--fail-on", "none", "--quiet", env=env)
    report = json.loads(out)
    assert code == 0 and report["errors"] == []
    assert essence(report) == essence(yaml_report)
    assert report["input"]["path"] == postgres.url(READER, "cms")


def test_postgres_password_from_pgpass(postgres, tmp_path):
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres.port}:cms:{READER}:{READER_PASSWORD}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    code, out = run("validate", postgres.url(READER, "cms"), "--mapping", MAPPING,
                    env={"PGPASSFILE": str(pgpass), "PGPASSWORD": None})
    assert code == 0 and "are valid" in out


@pytest.mark.parametrize("password, port, expected", [
    ("wrong-password", None, "password authentication failed"),
    (READER_PASSWORD, "closed", "Connection refused"),
])
def test_postgres_refused_credentials_or_unreachable_server_is_one_line(postgres, password, port, expected):
    url = postgres.url(READER, "cms")
    if port == "closed":
        url = url.replace(f":{postgres.port}/", f":{pg_cluster._free_port()}/")
    code, out = run("validate", url, "--mapping", MAPPING, env={"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"})
    assert code == 2 and expected in out and out.count("\n") == 2 and "Traceback" not in out
    assert password not in out


def test_postgres_missing_table_is_one_line(postgres, tmp_path):
    mapping = mapping_with(tmp_path, lambda m: m["tables"]["audit"].update(table="audit", schema="cms_archive"))
    code, out = run("validate", postgres.url(READER, "cms"), "--mapping", mapping, env={"PGPASSWORD": READER_PASSWORD})
    assert code == 2 and "no table cms_archive.audit in the database" in out and out.count("\n") == 2


def test_postgres_is_read_only_and_one_snapshot(postgres, monkeypatch):
    import psycopg

    monkeypatch.setenv("PGPASSWORD", READER_PASSWORD)

    def add_complaint():
        with psycopg.connect(host="127.0.0.1", port=postgres.port, user=READER, dbname="cms", autocommit=True) as conn:
            conn.execute("INSERT INTO complaint (id, subject) VALUES ('cmp-new', 'late report')")
    try:
        writes_are_refused_and_reads_see_one_snapshot(postgres.url(READER, "cms"), add_complaint)
    finally:       # the demo stays the demo for the other tests of the session
        with psycopg.connect(host="127.0.0.1", port=postgres.port, user=pg_cluster.ADMIN, dbname="cms",
                             password=pg_cluster.ADMIN_PASSWORD, autocommit=True) as conn:
            conn.execute("DELETE FROM complaint WHERE id = 'cmp-new'")


def test_postgres_rows_stream_through_server_side_cursors(postgres, monkeypatch):
    """Each entry's rows come through a named (server-side) cursor, fetched in batches, so a
    large table is never held whole by the driver."""
    from sqlalchemy import event

    from checker.importers import database

    cursors = []

    def watched(target):
        engine = make_engine(target)
        event.listen(engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: cursors.append((type(cursor).__name__, statement)))
        return engine
    monkeypatch.setattr(database, "make_engine", watched)
    monkeypatch.setenv("PGPASSWORD", READER_PASSWORD)
    read = load_input(postgres.url(READER, "cms"), MAPPING).read
    assert read.problems == [] and len(read.records) == len(records_of(DEMO))
    row_reads = [kind for kind, statement in cursors if "ORDER BY" in statement and "pg_catalog" not in statement]
    assert len(row_reads) == len(yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["tables"])
    assert set(row_reads) == {"ServerCursor"}


def test_the_readme_mapping_example_is_a_valid_mapping():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("  cbcheck_database_mapping: 1")
    example = yaml.safe_load(readme[start:readme.index("```", start)])
    specs, problems = compile_database_mapping(example, "README.md")
    assert problems == [] and [s.name for s in specs] == ["audits", "team", "competences"]
