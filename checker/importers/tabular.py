"""CSV and XLSX rows -> records, through a mapping.

One sheet (or .csv file) per record type, one row per record; list-of-objects fields come
from items sheets, one row per item, tied to their record by its id. Every refused row or
cell is a problem naming the sheet or file, the row as the spreadsheet shows it (header =
row 1), the column and the value. Here: reading sheets and matching their headers to the
mapping; turning rows into records is assemble.py's, shared with the database reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from checker.errors import Problem, sort_problems
from checker.importers.assemble import RowCount, assemble, build_row, totals
from checker.importers.convert import is_empty, plain_number
from checker.importers.detect import WORKBOOK_SUFFIXES
from checker.importers.headers import Column, resolve_headers
from checker.importers.layout import FieldSpec
from checker.importers.mapping import ColumnSpec, Options, SheetSpec, compile_mapping, normalize
from checker.importers.origins import Origin
from checker.importers.sources import RawSheet, Unusable, column_letter, read_csv_file, read_csv_folder, read_workbook
from checker.records.reader import ReadResult


@dataclass
class TabularResult:
    built: list
    problems: list
    summary: dict
    files_read: list
    files_ignored: list


def read_tabular(source: Path, mapping: dict) -> tuple[list[dict], list[Problem], dict]:
    """Records from an .xlsx workbook or a folder of .csv files (or one .csv file).

    Returns (records made, problems, summary). Records are plain dicts as the YAML reader
    would give them; problems are sorted; the summary counts rows per sheet."""
    result = import_tabular(Path(source), mapping)
    return [b.data for b in result.built], result.problems, result.summary


def load_tabular(source: Path, mapping: dict) -> ReadResult:
    """The same, as the record reader's ReadResult: each record's file is its sheet
    (book.xlsx[sheet] or file.csv) and its line the row, so findings point at the row."""
    result = import_tabular(Path(source), mapping)
    return ReadResult([b.to_record() for b in result.built], result.problems, result.files_read, result.files_ignored)


def import_tabular(source: Path, mapping: dict, mapping_file: str = "mapping") -> TabularResult:
    summary = {"source": source.name, "format": None, "sheets": [], "sheets_missing": [], "sheets_ignored": [],
               "files_ignored": []}
    compiled, problems = compile_mapping(mapping, mapping_file)
    if problems:
        return TabularResult([], sort_problems(problems), totals(summary), [], [])
    raws, ignored_files, charts = [], [], []
    if source.is_dir():
        summary["format"] = "csv"
        raws, problems, ignored_files = read_csv_folder(source, compiled.csv_delimiter, compiled.csv_quotechar)
    elif source.suffix.lower() == ".csv" and source.is_file():
        summary["format"] = "csv"
        raw, problems = read_csv_file(source, compiled.csv_delimiter, compiled.csv_quotechar)
        raws = [raw] if raw else []
    elif source.suffix.lower() in WORKBOOK_SUFFIXES and source.is_file():
        summary["format"] = "xlsx"
        raws, problems, charts = read_workbook(source)
    else:
        what = "no such file or folder" if not source.exists() else "neither an .xlsx workbook nor a folder of .csv files"
        problems = [Problem(str(source), None, "", what, "an .xlsx workbook, or a folder of .csv files (one per record type)")]
        return TabularResult([], problems, totals(summary), [], [])
    problems = list(problems)
    by_name = {r.name: r for r in raws}
    if summary["format"] == "csv":
        by_name.update({r.label: r for r in raws})      # a mapping may name audit.csv as well as audit
    for raw in raws:
        if raw.name in compiled.sheets or raw.label in compiled.sheets:
            continue
        has_content = any(not is_empty(h) for h in raw.headers) or bool(raw.rows)
        if raw.name in compiled.ignore_sheets or not has_content:
            summary["sheets_ignored"].append(raw.name)
        else:
            what = "file" if summary["format"] == "csv" else "sheet"
            problems.append(Problem(raw.label, None, "", f"{what} {raw.name!r} is not in the mapping; its rows would be lost",
                                    "add it under sheets: with its record type, or list it in ignore_sheets"))
    summary["sheets_ignored"] += charts
    summary["files_ignored"] = ignored_files

    records, items, counts = [], [], []
    for name, spec in compiled.sheets.items():
        raw = by_name.get(name)
        if raw is None:
            summary["sheets_missing"].append(name)
            continue
        count = RowCount(name, raw.label, spec.record_type, spec.items.path if spec.items else None)
        counts.append(count)
        sheet_rows = _read_sheet(raw, spec, summary["format"], compiled.csv_delimiter, problems, count)
        (items if spec.items else records).extend((spec, count, r) for r in sheet_rows)

    if not counts and not problems:
        what = "no .csv files in the folder" if summary["format"] == "csv" else "none of the mapped sheets is in the workbook"
        problems.append(Problem(source.name, None, "", what + "; nothing would be checked",
                                "sheets (or .csv files) named as under sheets: in the mapping: "
                                + ", ".join(list(compiled.sheets)[:8]) + ("..." if len(compiled.sheets) > 8 else "")))
    made = assemble(records, items, problems)
    summary["sheets"] = [c.as_dict() for c in counts]
    files_read = sorted({c.file for c in counts}) if summary["format"] == "csv" else [source.name]
    return TabularResult(made, sort_problems(problems), totals(summary), files_read, ignored_files)


def _header_text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return plain_number(value)
    return str(value)


@dataclass(frozen=True)
class _MappedHeaders:
    """The header rules of a mapped sheet: headers match the mapping ignoring case and spaces."""
    spec: SheetSpec
    fmt: str
    delimiter: str

    def text(self, header) -> str:
        return _header_text(header)

    def blank(self, letter: str, header, first_filled: int | None):
        if isinstance(header, Unusable):
            return f"column {letter}: the header is {header.reason}", "a plain text header"
        if first_filled is not None:
            return (f"column {letter} has values (first in row {first_filled}) but no header",
                    "a header in row 1, mapped under columns: or listed in ignore_columns")
        return None

    def repeated(self, letter: str, text: str, first_letter: str):
        return (f"column {letter} {text!r} repeats the header of column {first_letter}",
                "each header once per sheet (headers match ignoring case and spaces)")

    def classify(self, letter: str, text: str) -> Column:
        spec, key = self.spec, normalize(text)
        if spec.parent_column and key == normalize(spec.parent_column):
            return Column(key, ("parent", None))
        if key in spec.columns:
            return Column(key, ("column", spec.columns[key]))
        if key in spec.ignored:
            return Column(key)
        if spec.extension_columns and text.startswith("x-"):
            return Column(key, ("column", _extension_column(text, spec.options)))
        hint = ""
        if self.fmt == "csv" and self.delimiter == "," and (";" in text or "\t" in text):
            hint = "; the header holds ';' or tabs: if the file is separated by them, set csv: {delimiter: ';'} in the mapping"
        return Column(key, refusal=(f"column {letter} {text!r} is not in the mapping; its values would be lost",
                                    f"map it under sheets: {spec.name}: columns: (to a field of {spec.record_type}), "
                                    f"or list it in ignore_columns{hint}"))


def _resolve_headers(raw: RawSheet, spec: SheetSpec, fmt: str, delimiter: str, problems: list) -> tuple[dict, bool]:
    """Column index -> (what, header, column spec); and whether every column is accounted for."""
    resolved, ok = resolve_headers(raw, _MappedHeaders(spec, fmt, delimiter), problems)
    targets = {idx: (what, text, col) for idx, ((what, col), text) in resolved.items()}
    if spec.parent_column and not any(t[0] == "parent" for t in targets.values()):
        problems.append(Problem(raw.label, 1, "", f"no column {spec.parent_column!r}, which ties each item to its "
                                f"{spec.record_type} record", f"a column {spec.parent_column!r} holding {spec.record_type} ids"))
        ok = False
    return targets, ok


def _extension_column(header: str, options: Options) -> ColumnSpec:
    return ColumnSpec(header, FieldSpec(header, "text"), options, {})


def _read_sheet(raw: RawSheet, spec: SheetSpec, fmt: str, delimiter: str, problems: list, count: RowCount) -> list:
    targets, sheet_ok = _resolve_headers(raw, spec, fmt, delimiter, problems)
    out = []
    for rownum, cells in raw.rows:
        count.rows_read += 1
        if all(is_empty(c) for c in cells):
            count.empty_rows += 1
            continue
        cells = [(what, col, Origin(raw.label, rownum, column_letter(idx), header,
                                    cells[idx - 1] if idx <= len(cells) else None))
                 for idx, (what, header, col) in targets.items()]
        out.append(build_row(spec, Origin(raw.label, rownum), cells, problems, count, not sheet_ok, raw.epoch))
    return out
