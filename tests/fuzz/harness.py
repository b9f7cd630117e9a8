"""Fuzzing the readers: hypothesis generates record files (YAML, JSON, JSON Lines, CSV,
XLSX, and zipped submissions for prescreen), then mutates their bytes with edits an attacker
or a broken exporter would make. Each input goes through the same reading a `check`,
`validate` or `prescreen` run does, and must keep three promises:

- no exception leaves the reader (the CLI would print a traceback);
- `validate` exits 0 or 2 (0 only without problems);
- no record is dropped without a problem: when a file is read without problems, it yields
  as many records as an independent parser finds in it (for spreadsheets: every data row is
  a record or a refused row, and a refused row comes with a problem).

`tests/test_fuzz_readers.py` runs a short, derandomized pass in the suite;
`tests/fuzz/run_long.py` runs the long one.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import strategies as st

from checker.importers.dispatch import detect_source, load_source
from checker.importers.mapping import default_mapping
from checker.importers.tabular import read_tabular
from checker.plain_text import shown
from checker.pipeline import load_input
from checker.prescreen.archive import Limits, open_submission
from checker.records.reader import READERS

SUFFIXES = set(READERS)

TYPES = ["client", "audit", "certificate", "decision", "personnel", "nonconformity", "widget"]
# Fragments that have broken YAML/JSON readers: aliases and anchors, deep or unbalanced
# brackets, document markers, tags, complex keys, merge keys, BOMs, control and invalid bytes,
# over-long numbers, surrogate escapes, tabs.
HOSTILE = [b"&a ", b"*a", b"[" * 70, b"{" * 70, b"- " * 70, b"]", b"}", b"---\n", b"...\n", b"!!binary aGk=",
           b"!!python/object:os.system", b"? [a]\n: b\n", b"<<: *a\n", b"\xef\xbb\xbf", b"\x00", b"\xff", b"\t",
           b"7" * 4400, b'"\\udcff"', b"\\u0000", b"\r", b"\n", b"#", b":", b",", b'"', b"'", b"|\n", b">\n",
           b"%YAML 1.1\n", b"!a!b c", b".nan", b".inf", b"NaN", b"1e999", b"null", b"~", b"yes", b"0x1F", b"1:20:30"]

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), _text,
                    st.sampled_from(["2024-01-05", "2024-13-40", "stage2", "c1", "p1"]))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                      max_leaves=8)


@st.composite
def records(draw) -> list[dict]:
    out = []
    for i in range(draw(st.integers(0, 4))):
        record = {"type": draw(st.sampled_from(TYPES)), "id": draw(st.sampled_from([f"r{i}", "c1", "dup"]))}
        record.update(draw(st.dictionaries(st.sampled_from(["client", "name", "audit", "x-note", "grade", "days",
                                                            "start_date", "unknown"]), _value, max_size=4)))
        out.append(record)
    return out


def render(fmt: str, recs: list[dict], draw) -> bytes:
    if fmt == "yaml":
        style = draw(st.sampled_from([None, True, False]))
        text = yaml.safe_dump(recs, default_flow_style=style, allow_unicode=draw(st.booleans()), sort_keys=False)
        return text.encode("utf-8")
    if fmt == "json":
        return json.dumps(recs, indent=draw(st.sampled_from([None, 1])), ensure_ascii=False).encode("utf-8")
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode("utf-8")


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """`data` with up to four edits: a hostile fragment inserted, a span deleted or repeated,
    a byte replaced, or the end cut off."""
    for _ in range(draw(st.integers(0, 4))):
        # drawn apart from len(data), so an input that differs run to run (a workbook's zip
        # timestamps) is still mutated the same way
        at = draw(st.integers(0, 2 ** 20)) % (len(data) + 1)
        edit = draw(st.sampled_from(["insert", "delete", "repeat", "byte", "truncate"]))
        if edit == "insert":
            data = data[:at] + draw(st.sampled_from(HOSTILE) | st.binary(max_size=8)) + data[at:]
        elif edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 16)):]
        elif edit == "repeat":
            data = data[:at] + data[at:at + 16] * draw(st.integers(2, 40)) + data[at:]
        elif edit == "byte":
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif edit == "truncate":
            data = data[:at]
    return data


@st.composite
def record_folders(draw) -> dict[str, bytes]:
    """File name -> content of a record folder: one to three files, generated then mutated."""
    files = {}
    for i in range(draw(st.integers(1, 3))):
        fmt = draw(st.sampled_from(["yaml", "json", "jsonl"]))
        suffix = {"yaml": draw(st.sampled_from([".yaml", ".yml"])), "json": ".json", "jsonl": ".jsonl"}[fmt]
        files[f"sub{i % 2}/f{i}{suffix}"] = draw(mutated(render(fmt, draw(records()), draw)))
    return files


TEMPLATE_SHEETS = {"client": ["id", "name", "group"],
                   "audit": ["id", "client", "audit_type", "start_date", "end_date", "remote"],
                   "certificate": ["id", "client", "number", "issue_date", "expiry_date", "status"]}
_cell = st.one_of(_scalar, st.sampled_from(["=1/0", "=A1", "#N/A", "", " ", "04/03/2024", "Stage 2", "yes", "x;y"]))


@st.composite
def sheets(draw) -> dict[str, list[list]]:
    out = {}
    for name in draw(st.lists(st.sampled_from(sorted(TEMPLATE_SHEETS) + ["notes"]), min_size=1, max_size=3,
                              unique=True)):
        headers = TEMPLATE_SHEETS.get(name, ["a", "b"])
        if draw(st.booleans()):
            headers = draw(st.permutations(headers))
        rows = draw(st.lists(st.lists(_cell, min_size=len(headers), max_size=len(headers) + 1), max_size=4))
        out[name] = [list(headers)] + rows
    return out


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["" if c is None else c for c in row] for row in rows])
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(book_sheets: dict[str, list[list]]) -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in book_sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- the promises ---------------------------------------------------------------------------

class _PlainLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, dates kept as text as cbcheck keeps them."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _independent_count(suffix: str, data: bytes) -> int:
    """How many records a plain parser finds in a file our reader read without problems."""
    text = data.decode("utf-8-sig")
    if suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    docs = [json.loads(text)] if suffix == ".json" else list(yaml.load_all(text, Loader=_PlainLoader))
    return sum(len(d) if isinstance(d, list) else 1 for d in docs if d is not None)


def _check_read(root: Path, files: dict[str, bytes]) -> None:
    """The reading promises for the record files `files` (name -> bytes) under `root`."""
    loaded = load_input(root)
    by_file = {}
    for record in loaded.read.records:
        by_file[record.file] = by_file.get(record.file, 0) + 1
    with_problems = {p.file for p in loaded.problems}
    for name, data in files.items():
        if name not in with_problems:
            assert by_file.get(name, 0) == _independent_count(Path(name).suffix, data), name
    result = CliRunner().invoke(_cli(), ["validate", str(root)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == (2 if loaded.problems else 0), result.output


def check_record_folder(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        _check_read(root, files)


def check_tabular(source: Path) -> None:
    records, problems, summary = read_tabular(source, default_mapping())
    for sheet in summary.get("sheets", []):
        refused = sheet["rows_refused"] + sheet.get("rows_with_refused_parent", 0)
        made = sheet.get("records_made", sheet.get("items_made", 0)) + sheet.get("empty_lists", 0)
        assert sheet["rows_read"] - sheet["empty_rows"] == made + refused, sheet
        assert not refused or problems, sheet
    if detect_source(source):
        read = load_source(source)
        assert len(read.records) == (len(records) if not problems else len(read.records))
    result = CliRunner().invoke(_cli(), ["validate", str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output


def _members(path: Path) -> list[str]:
    """The file members of a zip as prescreen names them, or [] when it cannot be opened."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [shown(i.filename) for i in archive.infolist() if not i.filename.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return []


def check_submission(path: Path) -> None:
    """prescreen's opening of an untrusted zip: every member is copied, refused with a
    problem or listed as ignored (or the whole zip is refused, saying why); what was copied
    is read under the record-folder promises."""
    members = _members(path)
    opened = open_submission(path, Limits(max_bytes=4 * 1024 * 1024, max_files=50))
    try:
        if opened.folder is None:
            assert opened.problems, "a submission refused without a reason"
            return
        copied = {p.relative_to(opened.folder).as_posix(): p.read_bytes()
                  for p in opened.folder.rglob("*") if p.is_file()}
        accounted = set(copied) | {p.file for p in opened.problems} | {i["path"] for i in opened.info.ignored}
        # a member may be accounted for by its folder's refusal
        unaccounted = {m for m in members if not any(m == a or m.startswith(a + "/") for a in accounted)}
        assert not unaccounted, unaccounted
        _check_read(opened.folder, {n: d for n, d in copied.items() if Path(n).suffix.lower() in SUFFIXES})
    finally:
        opened.cleanup()


# --- the targets: each draws its input from `data` (hypothesis's st.data()) and checks it ------

def fuzz_record_files(data) -> None:
    check_record_folder(data.draw(record_folders()))


def fuzz_csv_folders(data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in data.draw(sheets()).items():
            (Path(tmp) / f"{name}.csv").write_bytes(data.draw(mutated(csv_bytes(rows))))
        check_tabular(Path(tmp))


def _perhaps_mutated(data, raw: bytes) -> bytes:
    """Half the workbooks and zips stay intact, so their contents are reached too."""
    return data.draw(mutated(raw)) if data.draw(st.booleans()) else raw


def fuzz_workbooks(data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.xlsx"
        path.write_bytes(_perhaps_mutated(data, xlsx_bytes(data.draw(sheets()))))
        check_tabular(path)


def fuzz_zipped_submissions(data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.zip"
        path.write_bytes(_perhaps_mutated(data, zip_bytes(data.draw(record_folders()))))
        check_submission(path)


TARGETS = {"record files": fuzz_record_files, "csv folders": fuzz_csv_folders,
           "zipped submissions": fuzz_zipped_submissions, "workbooks": fuzz_workbooks}


def _cli():
    from cli import main
    return main
