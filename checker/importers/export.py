"""Records -> the template layout (an .xlsx workbook or a folder of .csv files), and records
-> YAML files per client for `cbcheck import`.

The export writes exactly what the default mapping reads back: reading an export gives the
same records. A value the layout cannot carry (an empty text, a list value holding the list
separator, an empty object...) is a problem, and then nothing is written: an export that
silently changed a record would break that promise.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import yaml

from checker.errors import Problem, sort_problems
from checker.importers.convert import plain_number
from checker.importers.csv_cells import neutralise
from checker.importers.layout import FieldSpec, TypeLayout, items_sheet_name, template_sheets, type_layout
from checker.importers.mapping import ID_RE, TEMPLATE_README_SHEET, Options, normalize
from checker.importers.origins import pointer_of
from checker.output_files import OutputError, folder_problem, write_files
from checker.records.located import Document, escape_pointer_token
from checker.records.reader import Record
from checker.records.schema_registry import record_types

_OPTIONS = Options()
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XLSX_CELL_MAX = 32767
OUT_DIR_NOT_EMPTY = "old records in it would be checked with the new ones"
CSV_DIR_NOT_EMPTY = "old .csv files in it would be read with the new ones"
_README = [
    "cbcheck template: one sheet per record type; the columns are the record fields (see checker/records/schemas).",
    "Row 1 holds the headers; one record per row. Dates: date cells, or text written YYYY-MM-DD.",
    "List fields (standards, sites, decided_by...): values in one cell separated by ';'. '(none)' means an empty list; "
    "an empty cell means not recorded.",
    "Sheets named TYPE.FIELD hold the items of a list of objects (personnel.competences...), one row per item; "
    "the first column holds the id of the record they belong to. A row with only that id means the list is empty.",
    "Extra columns named x-... become text extension fields. Other extra columns must be mapped or ignored in a mapping.",
    "Read it with: cbcheck check WORKBOOK.xlsx, or cbcheck import tabular WORKBOOK.xlsx --mapping mapping.yaml --out DIR.",
]


def _where(record: dict, index: int) -> str:
    return f"record {record.get('id', index)!r}"


class _Rows:
    """The rows of every template sheet, built from records, with what could not be carried."""

    def __init__(self, for_csv: bool):
        self.for_csv = for_csv
        self.sheets = {s.name: s for s in template_sheets()}
        self.rows = {s.name: [] for s in template_sheets()}     # record sheets: cells dicts; items sheets: rows
        self.extensions = {s.name: set() for s in template_sheets() if not s.items}
        self.problems: list[Problem] = []

    def problem(self, record, index, pointer, message, expected=""):
        self.problems.append(Problem(_where(record, index), None, pointer, message, expected))

    def add(self, record: dict, index: int):
        rtype = record.get("type")
        if rtype not in record_types():
            self.problem(record, index, "/type", f"unknown record type {rtype!r}", "a record type of the schemas")
            return
        rid = record.get("id")
        if not isinstance(rid, str) or not ID_RE.match(rid):
            self.problem(record, index, "/id", f"no valid id ({rid!r})", "a record id")
            return
        layout = type_layout(rtype)
        cells: dict = {}
        self._walk(record, index, layout, record, "", cells)
        self.rows[rtype].append(cells)
        for path, spec in layout.items.items():
            value = _get(record, path)
            if value is None:
                continue
            name = items_sheet_name(rtype, path)
            if not isinstance(value, list):
                self.problem(record, index, pointer_of(path), "not a list", "a list of objects")
                continue
            if not value:
                self.rows[name].append([rid] + [None] * len(spec.fields))
                continue
            for i, item in enumerate(value):
                ptr = f"{pointer_of(path)}/{i}"
                if not isinstance(item, dict) or not item:
                    self.problem(record, index, ptr, "an empty item cannot be told from an empty list in a sheet",
                                 "items with at least one field")
                    continue
                row = [rid]
                for key in item:
                    if key not in spec.fields:
                        self.problem(record, index, f"{ptr}/{key}", f"unknown item field {key!r}",
                                     "one of " + ", ".join(spec.fields))
                for fname, fspec in spec.fields.items():
                    row.append(self._cell(record, index, f"{ptr}/{fname}", item.get(fname), fspec))
                self.rows[name].append(row)

    def _walk(self, record, index, layout: TypeLayout, data: dict, prefix: str, cells: dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            ptr = pointer_of(path) if prefix else "/" + escape_pointer_token(key)
            if not prefix and key == "type":
                continue
            if path in layout.items:
                continue                      # its own sheet
            if not prefix and key.startswith("x-"):
                if not isinstance(value, str) or not value.strip():
                    self.problem(record, index, ptr, "an extension field the template can carry only as text",
                                 "a non-empty text value")
                else:
                    cells[key] = self._text(record, index, ptr, value)
                    self.extensions[record["type"]].add(key)
                continue
            if path in layout.fields:
                cells[path] = self._cell(record, index, ptr, value, layout.fields[path])
            elif isinstance(value, dict) and any(f.startswith(path + ".") for f in list(layout.fields) + list(layout.items)):
                if not value:
                    self.problem(record, index, ptr, "an empty object cannot be written as cells",
                                 "leave the field out, or give it at least one field")
                self._walk(record, index, layout, value, path + ".", cells)
            else:
                self.problem(record, index, ptr, f"field {path!r} is not in the template layout",
                             "a field of the record schema")

    def _cell(self, record, index, ptr, value, spec: FieldSpec):
        if value is None:
            return None
        if spec.is_list:
            if not isinstance(value, list):
                self.problem(record, index, ptr, "not a list", "a list")
                return None
            if not value:
                return _OPTIONS.empty_list
            parts = []
            for i, item in enumerate(value):
                text = self._scalar_text(record, index, f"{ptr}/{i}", item, spec)
                if text is None:
                    continue
                if _OPTIONS.list_separator in text or text != text.strip() or not text \
                        or normalize(text) == normalize(_OPTIONS.empty_list):
                    self.problem(record, index, f"{ptr}/{i}", f"list value {text!r} cannot be written in one cell "
                                 f"(it holds {_OPTIONS.list_separator!r}, surrounding spaces, nothing, or the empty-list "
                                 f"mark {_OPTIONS.empty_list!r})", "list values without them")
                    continue
                parts.append(text)
            return (_OPTIONS.list_separator + " ").join(parts)
        kind = spec.kind
        if kind == "date":
            day = _iso_date(value)
            if day is None:
                self.problem(record, index, ptr, f"not a date: {value!r}", "YYYY-MM-DD")
                return None
            return value if self.for_csv else day
        if kind == "boolean":
            if not isinstance(value, bool):
                self.problem(record, index, ptr, f"not true or false: {value!r}", "a boolean")
                return None
            return ("true" if value else "false") if self.for_csv else value
        if kind in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.problem(record, index, ptr, f"not a number: {value!r}", "a number")
                return None
            return plain_number(value) if self.for_csv else value
        if not isinstance(value, str):
            self.problem(record, index, ptr, f"not text: {value!r}", "text")
            return None
        if kind in ("id", "enum") and value != value.strip():
            self.problem(record, index, ptr, f"{value!r} has surrounding spaces, which reading removes", "no surrounding spaces")
            return None
        return self._text(record, index, ptr, value)

    def _scalar_text(self, record, index, ptr, value, spec: FieldSpec):
        if spec.kind == "date" and _iso_date(value) is None:
            self.problem(record, index, ptr, f"not a date: {value!r}", "YYYY-MM-DD")
            return None
        if not isinstance(value, str):
            self.problem(record, index, ptr, f"not text: {value!r}", "text")
            return None
        return value

    def _text(self, record, index, ptr, value: str):
        if not value.strip():
            self.problem(record, index, ptr, "an empty or blank text reads back as no value",
                         "leave the field out, or give it text")
            return None
        if not self.for_csv:
            if _ILLEGAL_XLSX.search(value):
                self.problem(record, index, ptr, "control characters, which an .xlsx cell cannot hold", "printable text")
                return None
            if len(value) > _XLSX_CELL_MAX:
                self.problem(record, index, ptr, f"{len(value)} characters; an .xlsx cell holds {_XLSX_CELL_MAX}",
                             "shorter text (or export to CSV)")
                return None
        return value

    def tables(self):
        """(sheet name, headers, rows) in template order, extension columns sorted at the end."""
        for name, sheet in self.sheets.items():
            if sheet.items:
                yield name, [sheet.parent_column] + list(sheet.columns), self.rows[name]
                continue
            headers = list(sheet.columns) + sorted(self.extensions[name])
            yield name, headers, [[cells.get(h) for h in headers] for cells in self.rows[name]]


def _get(record: dict, path: str):
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _iso_date(value) -> dt.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _collect(records: list[dict], for_csv: bool) -> _Rows:
    rows = _Rows(for_csv)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            rows.problems.append(Problem(f"record {i}", None, "", "not a mapping", "a record"))
            continue
        rows.add(record, i)
    return rows


def template_tables(records: list[dict]) -> tuple[list, list[Problem]]:
    """The records as the template's tables: [(sheet name, headers, rows)] with typed values
    (dates as dates, booleans, numbers; lists joined with '; '), or ([], the problems)."""
    rows = _collect(records, for_csv=False)
    return ([], sort_problems(rows.problems)) if rows.problems else (list(rows.tables()), [])


def export_workbook(records: list[dict], path: Path) -> list[Problem]:
    """Write records to an .xlsx workbook in the template layout; [] on success, else the
    problems and nothing written."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.utils import get_column_letter

    rows = _collect(records, for_csv=False)
    if rows.problems:
        return sort_problems(rows.problems)
    book = Workbook()
    readme = book.active
    readme.title = TEMPLATE_README_SHEET
    for line in _README:
        readme.append([line])
    readme.column_dimensions["A"].width = 120
    bold = Font(bold=True)
    for name, headers, data in rows.tables():
        ws = book.create_sheet(name)
        ws.append(headers)
        for cell in ws[1]:
            cell.font = bold
            cell.data_type = "s"
        for r, values in enumerate(data, start=2):
            ws.append(values)
            for c, value in enumerate(values, start=1):
                if isinstance(value, str):
                    ws.cell(row=r, column=c).data_type = "s"   # text stays text: '=...' is no formula, '#N/A' no error
        ws.freeze_panes = "A2"
        sheet = rows.sheets[name]
        fields = type_layout(sheet.record_type).items[sheet.items].fields if sheet.items else type_layout(sheet.record_type).fields
        for i, header in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(header) + 2))
            spec = fields.get(header)
            if spec is not None and spec.kind == "enum" and not spec.is_list:
                # A drop-down where the schema has a closed list; a warning, not a block, so a
                # CB's own label can still be typed and mapped.
                dv = DataValidation(type="list", formula1='"' + ",".join(spec.enum) + '"', allow_blank=True,
                                    errorStyle="warning", showErrorMessage=True)
                dv.add(f"{get_column_letter(i)}2:{get_column_letter(i)}1048576")
                ws.add_data_validation(dv)
    content = io.BytesIO()
    book.save(content)
    return _write([(Path(path), content.getvalue())])


def export_csv(records: list[dict], folder: Path) -> list[Problem]:
    """Write records as one UTF-8 (with BOM, for Excel) .csv file per template sheet into an
    empty or new folder; [] on success, else the problems and nothing written."""
    folder = Path(folder)
    where_to = folder_problem(folder, CSV_DIR_NOT_EMPTY)
    if where_to:
        return [where_to]
    rows = _collect(records, for_csv=True)
    if rows.problems:
        return sort_problems(rows.problems)
    files = []
    for name, headers, data in rows.tables():
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        for row in [headers] + data:
            writer.writerow([neutralise("" if v is None else v) for v in row])
        files.append((folder / f"{name}.csv", text.getvalue().encode("utf-8-sig")))
    return _write(files)


def _write(files: list) -> list[Problem]:
    """All the files or none (folders made for them are removed again); [] or the problem."""
    try:
        write_files(files, make_parents=True)
    except OutputError as exc:
        return exc.problems
    return []


def client_folder(client_id: str) -> str:
    # ':' is allowed in ids but not in Windows file names; '%' is never in an id, so the
    # escaped name cannot collide with another client's.
    return client_id.replace(":", "%3A")


def write_records(records: list[dict], out_dir: Path) -> list[Problem]:
    """Write records as YAML the record reader reads: out_dir/cb/records.yaml for CB-wide
    records, out_dir/clients/<client id>/records.yaml for each client's. The records are
    indexed first (duplicate ids, dangling references); with any problem nothing is written."""
    from checker.records.index import build_index
    from checker.records.validate import validate_record

    out_dir = Path(out_dir)
    where_to = folder_problem(out_dir, OUT_DIR_NOT_EMPTY)
    if where_to:
        return [where_to]
    wrapped = [Record(r, f"record {r.get('id', i)!r}" if isinstance(r, dict) else f"record {i}", Document(r, {}, 0), "")
               for i, r in enumerate(records)]
    problems = [p for rec in wrapped for p in (validate_record(rec) if isinstance(rec.data, dict) else
                [Problem(rec.file, None, "", "not a mapping", "a record")])]
    if problems:
        return sort_problems(problems)
    index, problems = build_index(wrapped)
    if problems:
        return sort_problems(problems)
    groups: dict = {}
    for rec in wrapped:
        owner = index.owner_client.get(rec.id)
        key = ("clients", client_folder(owner)) if owner else ("cb",)
        groups.setdefault(key, []).append(rec.data)
    files = [(out_dir.joinpath(*key, "records.yaml"),
              yaml.safe_dump(groups[key], sort_keys=False, allow_unicode=True, default_flow_style=False, width=100))
             for key in sorted(groups)]
    return _write(files)
