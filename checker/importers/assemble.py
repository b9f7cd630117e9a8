"""Rows -> records, whatever the rows come from (a sheet, a .csv file, a database table).

A row is turned into a record (or into an item of a record's list-of-objects field) cell by
cell through the mapping's conversions; then records are assembled: duplicate ids refused,
items attached to their records in row order, every record validated against its schema.
Every row ends up in exactly one count (empty, refused, made), and a record is made only when
every cell behind it converted and the whole record passed its schema: a record with a hole
in it could pass a check it should fail.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

from checker.errors import Problem
from checker.importers.convert import EXCEL_EPOCH_1900, Refused, convert_cell, is_empty
from checker.importers.layout import FieldSpec
from checker.importers.mapping import SheetSpec
from checker.importers.origins import Built, Origin, pointer_of, set_path
from checker.importers.sources import Unusable

ID_SPEC = FieldSpec("id", "id")


@dataclass
class RowItem:
    parent_id: str | None
    data: dict
    origin: Origin
    origins: dict
    empty_columns: dict
    parent_origin: Origin | None
    refused: bool = False


@dataclass
class RowCount:
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


def totals(summary: dict) -> dict:
    sheets = summary["sheets"]
    summary["totals"] = {
        "rows_read": sum(s["rows_read"] for s in sheets),
        "empty_rows": sum(s["empty_rows"] for s in sheets),
        "rows_refused": sum(s["rows_refused"] for s in sheets),
        "records_made": sum(s.get("records_made", 0) for s in sheets),
        "items_made": sum(s.get("items_made", 0) for s in sheets),
    }
    return summary


def build_row(spec: SheetSpec, row_origin: Origin, cells, problems: list, count: RowCount,
              refused: bool = False, epoch: dt.date = EXCEL_EPOCH_1900):
    """One row: an item (RowItem) on an items sheet, else (Built, refused). `cells` are
    (what, column spec, origin) with what "parent" (the owning record's id, items only) or
    "column", and the cell's value in origin.raw; `refused` says the row is refused already."""
    data, origins, empty_columns, refused_pointers = {}, {}, {}, set()
    parent_id, parent_origin = None, None
    for what, col, origin in cells:
        value = origin.raw
        path = col.field.path if col else "id"
        pointer = pointer_of(path)
        if isinstance(value, Unusable):
            problems.append(origin.problem(pointer, "the cell is " + value.reason))
            refused = True
            refused_pointers.add(pointer)
            continue
        if is_empty(value):
            if what == "column":
                empty_columns[pointer] = origin.column_name()
            continue
        try:
            converted = convert_cell(value, col.field if col else ID_SPEC, col.options if col else spec.options,
                                     col.values if col else None, epoch)
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
        count.refused_rows.add(row_origin.row)
    if spec.items:
        return RowItem(parent_id, data, row_origin, origins, empty_columns, parent_origin, refused)
    record = {"type": spec.record_type}
    record.update(data)
    return Built(record, row_origin, origins, empty_columns, refused_pointers), refused


def assemble(records: list, items: list, problems: list) -> list[Built]:
    by_id, refused, refused_ids = _index_records(records, problems)
    _attach_items(items, by_id, refused, refused_ids, problems)
    return _validated(records, items, by_id, refused, problems)


def _index_records(records: list, problems: list) -> tuple[dict, set, set]:
    """(id -> record, ids (id()) of the records refused, record ids of refused rows):
    duplicate ids refused here."""
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
            problems.append(built.origin_of("/id").problem("/id", f"duplicate id {rid!r}; first used on "
                                                           f"{first.origin.place()}", "ids unique across the whole input"))
            refused.add(id(built))
            count.refused_rows.add(built.origin.row)
            continue
        if isinstance(rid, str):
            by_id[rid] = built
    return by_id, refused, refused_ids


def _attach_items(items: list, by_id: dict, refused: set, refused_ids: set, problems: list):
    """Each item row onto its record; an item tied to no record of its type is a problem."""
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
            attach(parent, rows, problems, refused)


def _validated(records: list, items: list, by_id: dict, refused: set, problems: list) -> list[Built]:
    """The records that pass their schema, every row counted as made or refused."""
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


def attach(parent: Built, rows: list, problems: list, refused: set):
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
                                                      f"{item.origin.place()} was refused",
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
