"""Reads the raw grid of a spreadsheet: the sheets of an .xlsx workbook, or the .csv files of
a folder, as rows of cell values with the row numbers a spreadsheet program shows.

Cells that look empty but are not (a formula whose value was never saved, an error value such
as #N/A, the hidden part of merged cells) are marked Unusable instead of read as empty, so a
row that depends on them is refused and reported rather than read with a hole in it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from checker.archive_limits import Limits, expansion_refusal
from checker.errors import Problem
from checker.importers.convert import EXCEL_EPOCH_1900, is_empty
from checker.importers.csv_cells import restore
from checker.plain_text import shown
from checker.records.reader import max_file_bytes, read_text


@dataclass(frozen=True)
class Unusable:
    reason: str
    shown: str = ""

    def __repr__(self) -> str:          # messages show the cell as the user sees it
        return self.shown or self.reason


@dataclass
class RawSheet:
    name: str                  # sheet name, or .csv file name without .csv
    label: str                 # how problems name it: book.xlsx[sheet] or file.csv
    headers: list              # header cell values of row 1 (None where empty)
    rows: list                 # [(row number, [cell values])], data rows only, trailing empty rows cut
    epoch: dt.date = EXCEL_EPOCH_1900


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA: what the spreadsheet shows above the column (CSV too, once opened)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _trim(grid: list) -> tuple[list, list]:
    headers = list(grid[0]) if grid else []
    rows = [(n, list(cells)) for n, cells in enumerate(grid[1:], start=2)]
    while rows and all(is_empty(c) for c in rows[-1][1]):
        rows.pop()
    return headers, rows


def workbook_refusal(path: Path, limits: Limits = Limits()) -> Problem | None:
    """Why a workbook must not reach openpyxl, or None. An .xlsx is a zip of XML parts and
    openpyxl expands them in memory, so a 1 MB workbook whose sheet expands to gigabytes would
    exhaust memory: prescreen's limits for a submission's zip apply here too, checked on the
    zip's directory before anything is expanded. A file that is no zip at all is left to
    openpyxl, which says what it is instead."""
    try:
        with zipfile.ZipFile(path) as archive:
            why = expansion_refusal(archive.infolist(), limits)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None
    if why is None:
        return None
    return Problem(path.name, None, "", f"refused: the workbook is not read, since {why}",
                   "a workbook saved by Excel or LibreOffice; a genuinely larger one as several workbooks "
                   "or as .csv files")


def read_workbook(path: Path) -> tuple[list[RawSheet], list[Problem], list[str]]:
    """(worksheets, problems, chart sheets, which hold no rows and are listed as ignored)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    name = shown(path.name)          # the name reports carry: escaped, valid UTF-8
    refusal = workbook_refusal(path)
    if refusal:
        return [], [refusal], []
    try:
        # Formulas as written, so a formula cell is known as one; their saved values are
        # fetched below only when there are any (a second load costs as much as the first).
        book = load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        return [], [Problem(name, None, "", f"cannot read the workbook: {exc}",
                            "an .xlsx workbook saved by Excel or LibreOffice (not .xls, not password protected)")], []
    formula_cells = {(ws.title, cell.row, cell.column) for ws in book.worksheets
                     for row in ws.iter_rows() for cell in row if cell.data_type == "f"}
    saved = _saved_values(path, formula_cells) if formula_cells else {}
    epoch = book.epoch.date() if isinstance(book.epoch, dt.datetime) else book.epoch
    sheets = []
    charts = [chart.title for chart in getattr(book, "chartsheets", [])]
    for ws in book.worksheets:
        label = f"{name}[{ws.title}]"
        merged = {}
        for rng in ws.merged_cells.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    merged[(r, c)] = str(rng.coord)
        grid = []
        for row in ws.iter_rows():
            cells = []
            for cell in row:
                value = cell.value
                if (cell.row, cell.column) in merged:
                    value = Unusable(f"part of merged cells {merged[(cell.row, cell.column)]}: unmerge them and "
                                     "put the value in every cell it applies to", f"merged {merged[(cell.row, cell.column)]}")
                elif cell.data_type == "e":
                    value = Unusable(f"an error value {cell.value}: fix the formula or type the value", str(cell.value))
                elif cell.data_type == "f":
                    value = saved.get((ws.title, cell.row, cell.column))
                    if value is None:
                        value = Unusable("a formula whose value was never saved: open and save the workbook in Excel "
                                         "or LibreOffice, or paste the values", "formula")
                cells.append(value)
            grid.append(cells)
        headers, rows = _trim(grid)
        sheets.append(RawSheet(ws.title, label, headers, rows, epoch))
    return sheets, [], charts


def _saved_values(path: Path, cells: set) -> dict:
    """The values Excel saved for formula cells (None where it saved none); an error value
    saved for a formula (#DIV/0!) is Unusable like any other."""
    from openpyxl import load_workbook
    book = load_workbook(path, data_only=True, read_only=True)
    out = {}
    try:
        for title in sorted({t for t, _, _ in cells}):
            for row in book[title].iter_rows():
                for cell in row:
                    key = (title, getattr(cell, "row", None), getattr(cell, "column", None))
                    if key in cells:
                        out[key] = (Unusable(f"an error value {cell.value}: fix the formula or type the value",
                                             str(cell.value)) if cell.data_type == "e" else cell.value)
    finally:
        book.close()
    return out


def read_csv_folder(folder: Path, delimiter: str = ",", quotechar: str = '"'
                    ) -> tuple[list[RawSheet], list[Problem], list[str]]:
    """Every .csv file directly in `folder`; other files are returned as ignored (and listed)."""
    sheets, problems, ignored = [], [], []
    limit, limit_problem = max_file_bytes()
    if limit_problem:   # one problem, not one per file
        return [], [limit_problem], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.is_dir():
            ignored.append(path.name + "/")
            continue
        if path.suffix.lower() != ".csv":
            ignored.append(path.name)
            continue
        sheet, errs = read_csv_file(path, delimiter, quotechar, limit)
        problems.extend(errs)
        if sheet is not None:
            sheets.append(sheet)
    return sheets, problems, ignored


def read_csv_file(path: Path, delimiter: str = ",", quotechar: str = '"', limit: int | None = None
                  ) -> tuple[RawSheet | None, list[Problem]]:
    """One CSV sheet; `limit`: its size limit in bytes, read from the environment when not given."""
    label = shown(path.name)
    if limit is None:
        limit, limit_problem = max_file_bytes()
        if limit_problem:
            return None, [limit_problem]
    text, problem = read_text(path, label, limit, "CSV file", "UTF-8 (in Excel: Save As > CSV UTF-8)", "a readable file")
    if problem:
        return None, [problem]
    grid = []
    # newline="" hands the csv module the line ends untouched, so a quoted cell may hold them.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar, strict=True)
    try:
        for cells in reader:
            grid.append([restore(cell) for cell in cells])     # a cell the export neutralised
    except csv.Error as exc:
        return None, [Problem(label, reader.line_num, "", f"not valid CSV: {exc}",
                              f"cells separated by {delimiter!r}, quoted with {quotechar!r} where needed")]
    headers, rows = _trim(grid)
    return RawSheet(path.stem, label, [h if h.strip() else None for h in headers], rows), []
