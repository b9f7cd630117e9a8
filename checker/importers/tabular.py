"""CSV and XLSX rows -> records, through a mapping.

One sheet (or .csv file) per record type, one row per record; list-of-objects fields come
from items sheets, one row per item, tied to their record by its id. Every row ends up in
exactly one count of the summary (empty, refused, made), and every refused row or cell is a
problem naming the sheet or file, the row as the spreadsheet shows it (header = row 1), the
column and the value. A record is made only when every cell behind it converted and the
whole record passed its schema: a record with a hole in it could pass a check it should fail.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from checker.errors import Problem, sort_problems
from checker.importers.convert import Refused, convert_cell, is_empty, plain_number
from checker.importers.layout import FieldSpec
from checker.importers.mapping import ColumnSpec, Options, SheetSpec, compile_mapping, normalize
from checker.importers.origins import Built, Origin, pointer_of, set_path
from checker.importers.sources import RawSheet, Unusable, column_letter, read_csv_file, read_csv_folder, read_workbook
from checker.records.reader import ReadResult

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_ID_SPEC = FieldSpec("id", "id")


@dataclass
class _Item:
    parent_id: str | None
    data: dict
    origin: Origin
    origins: dict
    empty_columns: dict
    parent_origin: Origin | None
    refused: bool = False


@dataclass
class _SheetCount:
    sheet: str
    file: str
    record_type: str
    items: str | None
    rows_read: int = 0
    empty_rows: int = 0
    refused_rows: set = field(default_factory=set)
    made: int = 0
    empty_lists: int = 0

    def as_dict(self) -> dict:
        out = {"sheet": self.sheet, "file": self.file, "record_type": self.record_type, "items": self.items,
               "rows_read": self.rows_read, "empty_rows": self.empty_rows, "rows_refused": len(self.refused_rows)}
        if self.items:
            out["items_made"] = self.made
            out["empty_lists"] = self.empty_lists
            out["rows_with_refused_parent"] = (self.rows_read - self.empty_rows - len(self.refused_rows)
                                               - self.made - self.empty_lists)
        else:
            out["records_made"] = self.made
        return out


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
        return TabularResult([], sort_problems(problems), _totals(summary), [], [])
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
        return TabularResult([], problems, _totals(summary), [], [])
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
        count = _SheetCount(name, raw.label, spec.record_type, spec.items.path if spec.items else None)
        counts.append(count)
        sheet_rows = _read_sheet(raw, spec, summary["format"], compiled.csv_delimiter, problems, count)
        (items if spec.items else records).extend((spec, count, r) for r in sheet_rows)

    if not counts and not problems:
        what = "no .csv files in the folder" if summary["format"] == "csv" else "none of the mapped sheets is in the workbook"
        problems.append(Problem(source.name, None, "", what + "; nothing would be checked",
                                "sheets (or .csv files) named as under sheets: in the mapping: "
                                + ", ".join(list(compiled.sheets)[:8]) + ("..." if len(compiled.sheets) > 8 else "")))
    made = _assemble(records, items, problems)
    summary["sheets"] = [c.as_dict() for c in counts]
    files_read = sorted({c.file for c in counts}) if summary["format"] == "csv" else [source.name]
    return TabularResult(made, sort_problems(problems), _totals(summary), files_read, ignored_files)


def _totals(summary: dict) -> dict:
    sheets = summary["sheets"]
    summary["totals"] = {
        "rows_read": sum(s["rows_read"] for s in sheets),
        "empty_rows": sum(s["empty_rows"] for s in sheets),
        "rows_refused": sum(s["rows_refused"] for s in sheets),
        "records_made": sum(s.get("records_made", 0) for s in sheets),
        "items_made": sum(s.get("items_made", 0) for s in sheets),
    }
    return summary


def _header_text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return plain_number(value)
    return str(value)


def _resolve_headers(raw: RawSheet, spec: SheetSpec, fmt: str, delimiter: str, problems: list) -> tuple[dict, bool]:
    """Column index -> what the column is; and whether every column is accounted for."""
    ok = True
    width = max([len(raw.headers)] + [len(cells) for _, cells in raw.rows])
    targets, seen = {}, {}
    for idx in range(1, width + 1):
        header = raw.headers[idx - 1] if idx <= len(raw.headers) else None
        letter = column_letter(idx)
        if isinstance(header, Unusable):
            problems.append(Problem(raw.label, 1, "", f"column {letter}: the header is {header.reason}", "a plain text header"))
            ok = False
            continue
        if is_empty(header):
            filled = [n for n, cells in raw.rows if idx <= len(cells) and not is_empty(cells[idx - 1])]
            if filled:
                problems.append(Problem(raw.label, 1, "", f"column {letter} has values (first in row {filled[0]}) but no header",
                                        "a header in row 1, mapped under columns: or listed in ignore_columns"))
                ok = False
            continue
        text = _header_text(header)
        key = normalize(text)
        if key in seen:
            problems.append(Problem(raw.label, 1, "", f"column {letter} {text!r} repeats the header of column {seen[key]}",
                                    "each header once per sheet (headers match ignoring case and spaces)"))
            ok = False
            continue
        seen[key] = letter
        if spec.parent_column and key == normalize(spec.parent_column):
            targets[idx] = ("parent", text, None)
        elif key in spec.columns:
            targets[idx] = ("column", text, spec.columns[key])
        elif key in spec.ignored:
            continue
        elif spec.extension_columns and text.startswith("x-"):
            targets[idx] = ("column", text, _extension_column(text, spec.options))
        else:
            hint = ""
            if fmt == "csv" and delimiter == "," and (";" in text or "\t" in text):
                hint = "; the header holds ';' or tabs: if the file is separated by them, set csv: {delimiter: ';'} in the mapping"
            problems.append(Problem(raw.label, 1, "", f"column {letter} {text!r} is not in the mapping; its values would be lost",
                                    f"map it under sheets: {spec.name}: columns: (to a field of {spec.record_type}), "
                                    f"or list it in ignore_columns{hint}"))
            ok = False
    if spec.parent_column and not any(t[0] == "parent" for t in targets.values()):
        problems.append(Problem(raw.label, 1, "", f"no column {spec.parent_column!r}, which ties each item to its "
                                f"{spec.record_type} record", f"a column {spec.parent_column!r} holding {spec.record_type} ids"))
        ok = False
    return targets, ok


def _extension_column(header: str, options: Options) -> ColumnSpec:
    return ColumnSpec(header, FieldSpec(header, "text"), options, {})


def _read_sheet(raw: RawSheet, spec: SheetSpec, fmt: str, delimiter: str, problems: list, count: _SheetCount) -> list:
    targets, sheet_ok = _resolve_headers(raw, spec, fmt, delimiter, problems)
    out = []
    for rownum, cells in raw.rows:
        count.rows_read += 1
        if all(is_empty(c) for c in cells):
            count.empty_rows += 1
            continue
        row_origin = Origin(raw.label, rownum)
        data, origins, empty_columns, refused, refused_pointers = {}, {}, {}, not sheet_ok, set()
        parent_id, parent_origin = None, None
        for idx, (what, header, col) in targets.items():
            value = cells[idx - 1] if idx <= len(cells) else None
            origin = Origin(raw.label, rownum, column_letter(idx), header, value)
            path = col.field.path if col else "id"
            pointer = pointer_of(path)
            if isinstance(value, Unusable):
                problems.append(origin.problem(pointer, "the cell is " + value.reason))
                refused = True
                refused_pointers.add(pointer)
                continue
            if is_empty(value):
                if what == "column":
                    empty_columns[pointer] = (origin.column, header)
                continue
            try:
                converted = convert_cell(value, col.field if col else _ID_SPEC, col.options if col else spec.options,
                                         col.values if col else None, raw.epoch)
            except Refused as exc:
                problems.append(origin.problem(pointer if col else "", exc.message, exc.expected))
                refused = True
                refused_pointers.add(pointer)
                continue
            if what == "parent":
                parent_id, parent_origin = converted, origin
            else:
                set_path(data, path, converted)
                origins[pointer] = origin
        for path, value in spec.constants.items():
            set_path(data, path, copy.deepcopy(value))
            origins[pointer_of(path)] = row_origin
        if refused:
            count.refused_rows.add(rownum)
        if spec.items:
            out.append(_Item(parent_id, data, row_origin, origins, empty_columns, parent_origin, refused))
        else:
            record = {"type": spec.record_type}
            record.update(data)
            built = Built(record, row_origin, origins, empty_columns, refused_pointers)
            out.append((built, refused))
    return out


def _assemble(records: list, items: list, problems: list) -> list[Built]:
    by_id, refused, refused_ids = {}, set(), set()
    for spec, count, (built, bad) in records:
        rid = built.data.get("id")
        if bad:
            # The rest of the row is still checked, so the user gets every problem in one run.
            problems.extend(built.validate(frozenset(built.refused_pointers)))
            refused.add(id(built))
            if isinstance(rid, str):
                refused_ids.add(rid)
            continue
        if isinstance(rid, str) and rid in by_id:
            first = by_id[rid]
            problems.append(built.origin_of("/id").problem("/id", f"duplicate id {rid!r}; first used on {first.origin.file} "
                                                           f"row {first.origin.row}", "ids unique across the whole input"))
            refused.add(id(built))
            count.refused_rows.add(built.origin.row)
            continue
        if isinstance(rid, str):
            by_id[rid] = built

    owners: dict = {}
    for spec, count, item in items:
        if item.parent_id is None:
            if not item.refused:
                problems.append(Problem(item.origin.file, item.origin.row, "", f"no {spec.record_type} id in column "
                                        f"{spec.parent_column!r}; the item cannot be tied to its record",
                                        f"the id of a {spec.record_type} record"))
                count.refused_rows.add(item.origin.row)
            continue
        owners.setdefault((spec.record_type, item.parent_id), []).append((spec, count, item))

    for (rtype, pid), rows in owners.items():
        parent = by_id.get(pid)
        if parent is None or parent.data["type"] != rtype:
            for spec, count, item in rows:
                if item.refused or pid in refused_ids:
                    continue      # the row's own problem, or its record's, is reported already
                what = (f"is a {parent.data['type']} record, not a {rtype}" if parent is not None
                        else f"is not the id of any {rtype} record read")
                problems.append(item.parent_origin.problem("", f"{pid!r} {what}", f"the id of a {rtype} record"))
                count.refused_rows.add(item.origin.row)
            continue
        if id(parent) not in refused:
            _attach(parent, rows, problems, refused)

    made, made_ids = [], set()
    for spec, count, (built, _) in records:
        if id(built) not in refused:
            errs = built.validate()
            if not errs:
                count.made += 1
                made.append(built)
                made_ids.add(id(built))
                continue
            problems.extend(errs)
        count.refused_rows.add(built.origin.row)
    for spec, count, item in items:
        parent = by_id.get(item.parent_id) if isinstance(item.parent_id, str) else None
        if item.refused or parent is None or id(parent) not in made_ids or item.origin.row in count.refused_rows:
            continue
        if item.data:
            count.made += 1
        else:
            count.empty_lists += 1
    return made


def _attach(parent: Built, rows: list, problems: list, refused: set):
    """Put the items of one record in place, in sheet then row order; a refused item row
    refuses the record (a list with a hole in it is not the list the CB keeps)."""
    by_path: dict = {}
    for spec, count, item in rows:
        by_path.setdefault(spec.items.path, []).append((spec, count, item))
    for path, group in by_path.items():
        bad = [(count, item) for _, count, item in group if item.refused]
        if bad:
            count, item = bad[0]
            problems.append(parent.origin.problem("", f"record {parent.data['id']!r} not made: its {path} item on "
                                                      f"{item.origin.file} row {item.origin.row} was refused",
                                                  "every item row of the record readable"))
            refused.add(id(parent))
            return
        filled = [(count, item) for _, count, item in group if item.data]
        blanks = [(count, item) for _, count, item in group if not item.data]
        if filled and blanks:
            for count, item in blanks:
                problems.append(item.origin.problem("", f"a row with only the id {parent.data['id']!r} says it has no "
                                                        f"{path}, but other rows give some",
                                                    "either item rows, or one row with only the id for an empty list"))
                count.refused_rows.add(item.origin.row)
            refused.add(id(parent))
            return
        if len(blanks) > 1:
            for count, item in blanks[1:]:
                problems.append(item.origin.problem("", f"a second row with only the id {parent.data['id']!r}",
                                                    "one row with only the id for an empty list"))
                count.refused_rows.add(item.origin.row)
            refused.add(id(parent))
            return
        base = pointer_of(path)
        values = []
        for i, (count, item) in enumerate(filled):
            values.append(item.data)
            parent.origins[f"{base}/{i}"] = item.origin
            for p, o in item.origins.items():
                parent.origins[f"{base}/{i}{p}"] = o
            for p, gap in item.empty_columns.items():
                parent.empty_columns[f"{base}/{i}{p}"] = gap
        set_path(parent.data, path, values)
