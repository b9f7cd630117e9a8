"""The mapping file: which sheet (or .csv file) holds which record type, which column feeds
which field, and how cell text is converted.

A mapping is checked in two passes, both located (mapping file, line, JSON Pointer): its
shape against `mapping.schema.json`, then its meaning against the record schemas (a column
naming a field no record has, two columns feeding one field, a required field no column
gives, an enumeration label mapped to a value the schema refuses...). Problems found here are
reported once, instead of once per row of every sheet.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator

from checker.errors import Problem
from checker.importers.layout import FieldSpec, ItemsSpec, TypeLayout, template_sheets, type_layout
from checker.records.located import Document, escape_pointer_token, load_yaml_documents
from checker.records.schema_registry import record_types

DATE_FORMATS = ("YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YYYY", "YYYYMMDD", "excel_serial")
TRUE_WORDS = frozenset({"yes", "y", "true", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "0"})
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
TEMPLATE_README_SHEET = "README"


def normalize(text) -> str:
    """Headers, sheet-free labels and words are matched ignoring case and runs of spaces:
    'Audit  type ' and 'audit type' are the same column to a person reading the sheet."""
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class Options:
    date_formats: tuple = ("YYYY-MM-DD",)
    list_separator: str = ";"
    empty_list: str = "(none)"
    decimal_separator: str = "."
    true_words: frozenset = TRUE_WORDS
    false_words: frozenset = FALSE_WORDS


@dataclass(frozen=True)
class ColumnSpec:
    header: str               # as written in the mapping
    field: FieldSpec          # path relative to the record, or to the item on an items sheet
    options: Options
    values: dict = field(default_factory=dict)     # normalized cell text -> value


@dataclass
class SheetSpec:
    name: str
    record_type: str
    items: ItemsSpec | None
    parent_column: str | None
    columns: dict             # normalized header -> ColumnSpec
    ignored: frozenset        # normalized headers
    constants: dict           # field path -> value
    extension_columns: bool
    options: Options
    pointer: str              # where the sheet is in the mapping, for problems about it


@dataclass
class CompiledMapping:
    sheets: dict              # sheet name -> SheetSpec, in mapping order
    ignore_sheets: frozenset
    csv_delimiter: str = ","
    csv_quotechar: str = '"'

    def sheet_for(self, name: str) -> SheetSpec | None:
        return self.sheets.get(name)


@lru_cache(maxsize=1)
def _schema_validator() -> Draft202012Validator:
    text = (resources.files("checker.importers") / "mapping.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


class _Located:
    """Problems about the mapping, each at the line its pointer came from (when known)."""

    def __init__(self, file: str, doc: Document | None):
        self.file, self.doc, self.problems = file, doc, []

    def add(self, pointer: str, message: str, expected: str = ""):
        line = self.doc.line_of(pointer) if self.doc else None
        self.problems.append(Problem(self.file, line, pointer, message, expected))


def _ptr(*parts) -> str:
    return "".join("/" + escape_pointer_token(p) for p in parts)


def load_mapping(path: str | Path) -> tuple[dict | None, list[Problem]]:
    """Read and check a mapping file; (the mapping, []) or (None, every problem found)."""
    doc, problems = read_mapping_document(path)
    if problems:
        return None, problems
    _, problems = compile_mapping(doc.data, Path(path).name, doc)
    return (doc.data, []) if not problems else (None, problems)


def read_mapping_document(path: str | Path) -> tuple[Document | None, list[Problem]]:
    """The one YAML document of a mapping file (tabular or database), with its lines."""
    path = Path(path)
    file = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              "a UTF-8 YAML mapping file")]
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read the mapping: {exc.strerror}",
                              "a readable YAML mapping file (see fixtures/templates/mapping.yaml)")]
    docs, problems = load_yaml_documents(text, file)
    if problems:
        return None, problems
    if len(docs) != 1:
        return None, [Problem(file, None, "", f"{len(docs)} YAML documents; a mapping is exactly one",
                              "one YAML document")]
    return docs[0], []


def schema_problems(validator: Draft202012Validator, data, file: str, doc: Document | None) -> list[Problem]:
    """Where a mapping breaks its JSON Schema, each at its line."""
    loc = _Located(file, doc)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        loc.add(_ptr(*error.absolute_path), _schema_message(error), _schema_expected(error))
    return loc.problems


def compile_mapping(data, file: str = "mapping", doc: Document | None = None
                    ) -> tuple[CompiledMapping | None, list[Problem]]:
    """Check a mapping (shape, then meaning) and turn it into column specs."""
    loc = _Located(file, doc)
    if not isinstance(data, dict):
        loc.add("", f"a mapping must be a YAML mapping, found {type(data).__name__}",
                "cbcheck_mapping: 1 and sheets: {...}")
        return None, loc.problems
    loc.problems += schema_problems(_schema_validator(), data, file, doc)
    if loc.problems:
        return None, loc.problems
    sheets = _compile_sheets("sheets", data["sheets"], data.get("defaults", {}), loc)
    ignore = data.get("ignore_sheets", [])
    for i, name in enumerate(ignore):
        if name in data["sheets"]:
            loc.add(_ptr("ignore_sheets", i), f"sheet {name!r} is both mapped and ignored",
                    "each sheet either under sheets or in ignore_sheets")
    csv_opts = data.get("csv", {})
    compiled = CompiledMapping(sheets, frozenset(ignore), csv_opts.get("delimiter", ","),
                               csv_opts.get("quotechar", '"'))
    return (compiled, []) if not loc.problems else (None, loc.problems)


def _schema_message(error) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "unknown key(s) " + ", ".join(map(repr, extra))
    if error.validator == "oneOf":
        return f"{error.instance!r} is neither a field path nor an object with `field`"
    return error.message


def _schema_expected(error) -> str:
    v = error.validator
    if v == "additionalProperties":
        return "one of " + ", ".join(sorted(error.schema.get("properties", {})))
    if v == "enum":
        return "one of " + ", ".join(map(str, error.validator_value))
    if v == "required":
        return "the key to be present (see fixtures/templates/mapping.yaml)"
    if v == "oneOf":
        return "a field path such as start_date, or {field: start_date, date_formats: [DD/MM/YYYY]}"
    return f"{v}: {error.validator_value!r}"


def _options(base: Options, raw: dict, loc: _Located, pointer: str) -> Options:
    formats = tuple(raw.get("date_formats", base.date_formats))
    # Said once, where the formats are declared, not again for everything that inherits them.
    if "date_formats" in raw and "DD/MM/YYYY" in formats and "MM/DD/YYYY" in formats:
        loc.add(pointer + "/date_formats", "both DD/MM/YYYY and MM/DD/YYYY are declared: 04/03/2024 could be "
                "either, and cbcheck never guesses", "one of the two, the order your sheet uses")
    return Options(
        date_formats=formats,
        list_separator=raw.get("list_separator", base.list_separator),
        empty_list=raw.get("empty_list", base.empty_list),
        decimal_separator=raw.get("decimal_separator", base.decimal_separator),
        true_words=base.true_words | {normalize(w) for w in raw.get("true_words", [])},
        false_words=base.false_words | {normalize(w) for w in raw.get("false_words", [])},
    )


def compile_sheets(section: str, entries: dict, defaults: dict, file: str, doc: Document | None
                   ) -> tuple[dict, list[Problem]]:
    """Check the meaning of sheet-like entries whose shape is checked already: `section` is
    the key holding them in the file (sheets, or a database mapping's tables), for locating
    problems. Returns (name -> SheetSpec, problems)."""
    loc = _Located(file, doc)
    return _compile_sheets(section, entries, defaults, loc), loc.problems


def _compile_sheets(section: str, entries: dict, defaults: dict, loc: _Located) -> dict:
    options = _options(Options(), defaults, loc, "/defaults")
    specs = {}
    for name, raw in entries.items():
        spec = _compile_sheet(name, raw, options, loc, section)
        if spec is not None:
            specs[name] = spec
    return specs


@dataclass
class _SheetTarget:
    """What one mapping entry feeds, and where it is, for compiling its columns."""
    section: str
    name: str
    record_type: str
    layout: TypeLayout
    items: ItemsSpec | None

    @property
    def fields(self) -> dict:
        return self.items.fields if self.items else self.layout.fields

    def pointer(self, *parts) -> str:
        return _ptr(self.section, self.name, *parts)

    def field_spec(self, path: str, loc: _Located, pointer: str) -> FieldSpec | None:
        return _field_spec(path, self.fields, self.items, self.layout, self.record_type, loc, pointer)


def _compile_sheet(name: str, raw: dict, defaults: Options, loc: _Located, section: str) -> SheetSpec | None:
    target = _sheet_target(name, raw, loc, section)
    if target is None:
        return None
    sp = target.pointer()
    sheet_opts = _options(defaults, raw, loc, sp)
    columns, seen_fields = _compile_columns(target, raw["columns"], sheet_opts, loc)
    ignored = _compile_ignored(target, raw.get("ignore_columns", []), columns, loc)
    parent = raw.get("parent_column")
    if parent is not None and (normalize(parent) in columns or normalize(parent) in ignored):
        loc.add(sp + "/parent_column", f"column {parent!r} is the parent column and also mapped or ignored",
                "the parent column only as parent_column")
    constants = _compile_constants(target, raw.get("constants", {}), seen_fields, loc)
    _check_required(target, set(seen_fields) | set(constants), loc)
    if "extension_columns" in raw and target.items is not None:
        loc.add(sp + "/extension_columns", "extension columns are for record sheets only (items take no x- fields)",
                "no extension_columns on an items sheet")
    return SheetSpec(name, target.record_type, target.items, parent, columns, frozenset(ignored), constants,
                     bool(raw.get("extension_columns", False)) and target.items is None, sheet_opts, sp)


def _sheet_target(name: str, raw: dict, loc: _Located, section: str) -> _SheetTarget | None:
    """The record type (and list-of-objects field, on an items sheet) an entry feeds; None
    when it names none, said at its line."""
    sp = _ptr(section, name)
    rtype = raw["type"]
    if rtype not in record_types():
        loc.add(sp + "/type", f"unknown record type {rtype!r}", "one of " + ", ".join(sorted(record_types())))
        return None
    layout = type_layout(rtype)
    items = None
    if "items" in raw:
        items = layout.items.get(raw["items"])
        if items is None:
            loc.add(sp + "/items", f"{rtype} has no list-of-objects field {raw['items']!r}",
                    "one of " + (", ".join(layout.items) or f"(none: {rtype} has no such field)"))
            return None
        if "parent_column" not in raw:
            loc.add(sp, "an items sheet needs parent_column, the column holding the id of the record "
                    "each item belongs to", f"parent_column: the header of the {rtype} id column")
    elif "parent_column" in raw:
        loc.add(sp + "/parent_column", "parent_column is only for items sheets", "items: <list field> as well, or no parent_column")
    return _SheetTarget(section, name, rtype, layout, items)


def _compile_columns(target: _SheetTarget, entries: dict, sheet_opts: Options, loc: _Located) -> tuple[dict, dict]:
    """(normalized header -> ColumnSpec, field path -> the header feeding it)."""
    columns, seen_fields = {}, {}
    for header, col in entries.items():
        cp = target.pointer("columns", header)
        fp = cp if isinstance(col, str) else cp + "/field"
        col = {"field": col} if isinstance(col, str) else col
        key = normalize(header)
        if key in columns:
            loc.add(cp, f"header {header!r} repeats {columns[key].header!r} (headers match ignoring case and spaces)",
                    "each header once")
            continue
        fspec = target.field_spec(col["field"], loc, fp)
        if fspec is None:
            continue
        if fspec.path in seen_fields:
            loc.add(cp, f"field {fspec.path!r} is already fed by column {seen_fields[fspec.path]!r}",
                    "one column per field")
            continue
        seen_fields[fspec.path] = header
        opts = _options(sheet_opts, col, loc, cp)
        columns[key] = ColumnSpec(header, fspec, opts, _compile_values(target, header, col.get("values", {}), fspec, loc))
    return columns, seen_fields


def _compile_values(target: _SheetTarget, header: str, labels: dict, fspec: FieldSpec, loc: _Located) -> dict:
    """A column's labels (normalized cell text) -> the values they stand for."""
    values = {}
    for label, value in labels.items():
        vp = target.pointer("columns", header, "values", label)
        bad = value_error(value, fspec, item_of_list=fspec.is_list)
        if bad:
            loc.add(vp, f"{label!r} maps to {value!r}, which {bad}", expected_for(fspec))
        nkey = normalize(label)
        if nkey in values:
            loc.add(vp, f"label {label!r} repeats another label (labels match ignoring case and spaces)", "each label once")
        values[nkey] = value
    return values


def _compile_ignored(target: _SheetTarget, headers: list, columns: dict, loc: _Located) -> set:
    ignored = set()
    for i, header in enumerate(headers):
        if normalize(header) in columns:
            loc.add(target.pointer("ignore_columns", i), f"column {header!r} is both mapped and ignored",
                    "each column either under columns or in ignore_columns")
        ignored.add(normalize(header))
    return ignored


def _compile_constants(target: _SheetTarget, entries: dict, seen_fields: dict, loc: _Located) -> dict:
    """field path -> the value every record (or item) of the sheet gets."""
    constants = {}
    for fname, value in entries.items():
        kp = target.pointer("constants", fname)
        fspec = target.field_spec(fname, loc, kp)
        if fspec is None:
            continue
        if fspec.path in seen_fields:
            loc.add(kp, f"field {fspec.path!r} is both a constant and fed by column {seen_fields[fspec.path]!r}",
                    "either a column or a constant")
            continue
        bad = value_error(value, fspec)
        if bad:
            loc.add(kp, f"constant {value!r} {bad}", expected_for(fspec))
        constants[fspec.path] = value
    return constants


def _check_required(target: _SheetTarget, given: set, loc: _Located):
    items, rtype = target.items, target.record_type
    needed = (["id"] + list(target.layout.required)) if items is None else list(items.required)
    for req in needed:
        if req not in given:
            loc.add(target.pointer("columns"), f"no column or constant gives the required field {req!r}"
                    + (f" of {rtype} records" if items is None else f" of {rtype} {items.path} items"),
                    f"a column mapped to {req}")


def _field_spec(path: str, fields: dict, items: ItemsSpec | None, layout, rtype: str, loc: _Located, pointer: str):
    if path in fields:
        return fields[path]
    if items is None and path.startswith("x-") and "." not in path:
        return FieldSpec(path, "text")
    what = f"{rtype} {items.path} items" if items else f"{rtype} records"
    if path == "type":
        loc.add(pointer, "`type` comes from the sheet's `type`, not from a column", "another field")
    elif items is None and path in layout.items:
        loc.add(pointer, f"{path!r} is a list of objects; it needs its own items sheet",
                f"a sheet with type: {rtype}, items: {path}, parent_column: <id column>")
    elif any(f.startswith(path + ".") for f in fields):
        loc.add(pointer, f"{path!r} is an object; map its fields one column each",
                "one of " + ", ".join(f for f in fields if f.startswith(path + ".")))
    else:
        loc.add(pointer, f"{what} have no field {path!r}",
                "one of " + ", ".join(fields) + ("" if items else " (or an x- extension field)"))
    return None


def expected_for(spec: FieldSpec) -> str:
    base = {"id": "a record id (letters, digits and . _ : -)", "text": "text", "date": "a date written YYYY-MM-DD",
            "boolean": "true or false", "integer": "a whole number", "number": "a number",
            "enum": "one of " + ", ".join(map(str, spec.enum))}[spec.kind]
    return ("a list of: " + base) if spec.is_list else base


def value_error(value, spec: FieldSpec, item_of_list: bool = False) -> str | None:
    """Why a value from the mapping itself (a constant, or the target of a label) does not fit
    the field, or None."""
    if spec.is_list and not item_of_list:
        if not isinstance(value, list):
            return "is not a list"
        return next((e for e in (value_error(v, spec, True) for v in value) if e), None)
    kind = spec.kind
    if kind == "boolean":
        return None if isinstance(value, bool) else "is not true or false"
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "integer" and not isinstance(value, int)):
            return f"is not {'a whole number' if kind == 'integer' else 'a number'}"
        return None
    if not isinstance(value, str):
        return "is not text"
    if kind == "enum" and value not in spec.enum:
        return "is not an allowed value"
    if kind == "id" and not ID_RE.match(value):
        return "is not a valid record id"
    if kind == "date":
        try:
            dt.date.fromisoformat(value)
            return None if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else "is not a date written YYYY-MM-DD"
        except ValueError:
            return "is not a date written YYYY-MM-DD"
    return None


def default_mapping() -> dict:
    """The mapping of the template layout (fixtures/templates): one sheet per record type,
    headers equal to field paths, an items sheet per list-of-objects field."""
    sheets = {}
    for s in template_sheets():
        entry: dict = {"type": s.record_type}
        if s.items:
            entry["items"] = s.items
            entry["parent_column"] = s.parent_column
        entry["columns"] = {c: c for c in s.columns}
        if not s.items:
            entry["extension_columns"] = True
        sheets[s.name] = entry
    return {
        "cbcheck_mapping": 1,
        "description": "The cbcheck template layout: one sheet (or .csv file) per record type, column headers "
                       "equal to the record fields; list-of-objects fields on their own items sheets.",
        "sheets": sheets,
        "ignore_sheets": [TEMPLATE_README_SHEET],
    }
