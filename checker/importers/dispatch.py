"""Which reader a path needs, and the one-call entries the CLI wires in.

`cbcheck check PATH` reads record files (YAML/JSON/JSONL) as before; a workbook or a folder
of .csv files goes through the importers instead and yields the same ReadResult, each
record located at its sheet and row; a database URL (sqlite:///..., postgresql://...) is
read through its database mapping, each record located at its table and key.
"""
from __future__ import annotations

from pathlib import Path

from checker.errors import Problem
from checker.importers.certsearch import load_certsearch, read_certsearch
from checker.importers.certsearch_options import CertsearchOptions, resolve_options
from checker.importers.database import import_database, load_database
from checker.importers.detect import IMPORT_FORMATS, MAPPING_IN_FOLDER, detect_source
from checker.importers.export import write_records
from checker.importers.mapping import default_mapping, load_mapping
from checker.importers.tabular import load_tabular, read_tabular
from checker.records.reader import ReadResult

__all__ = ["IMPORT_FORMATS", "MAPPING_IN_FOLDER", "detect_source", "load_source", "run_import"]


def mapping_beside(path) -> Path | None:
    """The mapping that goes with a source when none is given: mapping.yaml inside a CSV
    folder, or BOOK.mapping.yaml next to BOOK.xlsx."""
    path = Path(path)
    candidate = path / MAPPING_IN_FOLDER if path.is_dir() else path.with_name(path.stem + ".mapping.yaml")
    return candidate if candidate.is_file() else None


def _mapping(path, mapping_path) -> tuple[dict | None, list[Problem], str]:
    mapping_path = Path(mapping_path) if mapping_path else mapping_beside(path)
    if mapping_path is None:
        return default_mapping(), [], "the template mapping"
    mapping, problems = load_mapping(mapping_path)
    return mapping, problems, str(mapping_path)


def certsearch_options(path, mapping_path, given: CertsearchOptions | None) -> tuple[CertsearchOptions, list[Problem]]:
    """A CertSearch workbook's options: its mapping file's (given, or BOOK.mapping.yaml beside
    it) under the command line's."""
    found = Path(mapping_path) if mapping_path else mapping_beside(path)
    return resolve_options(found, given or CertsearchOptions())


def _options_misplaced(kind: str | None, given: CertsearchOptions | None) -> list[Problem]:
    if given is None or not given.given():
        return []
    what = {"database": "a database", "tabular": "a spreadsheet export"}.get(kind, "record files")
    return [Problem("--status-map/--ignore-column/--version", None, "",
                    f"these options are for an IAF CertSearch upload workbook, and the source is {what}",
                    "leave them out, or say such things in the source's mapping file")]


def load_source(path, mapping_path=None, certsearch: CertsearchOptions | None = None) -> ReadResult:
    """A workbook or CSV folder as the record reader's ReadResult (for `cbcheck check`).
    `certsearch` (version, status_map, ignore_columns) applies to CertSearch workbooks only."""
    kind = detect_source(path)
    if kind != "certsearch" and _options_misplaced(kind, certsearch):
        return ReadResult([], _options_misplaced(kind, certsearch), [], [])
    if kind == "database":
        return load_database(path, mapping_path)
    if kind == "certsearch":
        options, problems = certsearch_options(path, mapping_path, certsearch)
        if problems:
            return ReadResult([], problems, [], [])
        return load_certsearch(Path(path), options.version, status_map=options.status_map,
                               ignore_columns=options.ignore_columns)
    mapping, problems, _ = _mapping(path, mapping_path)
    if problems:
        return ReadResult([], problems, [], [])
    return load_tabular(Path(path), mapping)


def run_import(fmt: str, source, out_dir, mapping_path=None, certsearch: CertsearchOptions | None = None
               ) -> tuple[list[Problem], dict]:
    """`cbcheck import FORMAT SOURCE --mapping M --out DIR`: read, then write YAML records per
    client. With any problem nothing is written (a partial import could later pass a check
    on what it never saw). Returns (problems, summary); exit 2 when problems, else 0."""
    if fmt not in IMPORT_FORMATS:
        return [Problem(fmt, None, "", f"unknown import format {fmt!r}", "one of " + ", ".join(IMPORT_FORMATS))], {}
    if fmt != "certsearch" and _options_misplaced(fmt, certsearch):
        return _options_misplaced(fmt, certsearch), {}
    if fmt == "database":
        result = import_database(str(source), mapping_path)
        records, problems, summary = [b.data for b in result.built], result.problems, result.summary
    elif fmt == "certsearch":
        options, problems = certsearch_options(source, mapping_path, certsearch)
        if problems:
            return problems, {}
        records, problems, summary = read_certsearch(Path(source), options.version, status_map=options.status_map,
                                                     ignore_columns=options.ignore_columns)
    else:
        mapping, problems, used = _mapping(source, mapping_path)
        if problems:
            return problems, {"mapping": used}
        records, problems, summary = read_tabular(Path(source), mapping)
        summary["mapping"] = used
    if problems:
        return problems, summary
    problems = write_records(records, Path(out_dir))
    summary["written_to"] = str(out_dir)
    return problems, summary
