"""Which reader a path needs: the importers' one question every `cbcheck check` asks.

Apart from dispatch.py, so that a run over record files (a nightly `check` of a JSON Lines
export) does not load the importers, their mappings and their schemas only to be told "none"
(0.05 CPU-s of a cached night's main process, a sixtieth of it).
"""
from __future__ import annotations

from pathlib import Path

from checker.importers.database_url import is_database_url
from checker.records.reader import READERS

MAPPING_IN_FOLDER = "mapping.yaml"
IMPORT_FORMATS = ("tabular", "certsearch", "database")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def detect_source(path) -> str | None:
    """'database' (a database URL, given as text), 'certsearch' (an IAF CertSearch upload
    workbook), 'tabular' (any other .xlsx workbook, one .csv file, or a folder holding .csv
    files and no record files or subfolders), or None (record files: the record reader's
    business)."""
    if is_database_url(path):
        return "database"
    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in WORKBOOK_SUFFIXES:
            from checker.importers.certsearch import is_certsearch_workbook    # a workbook's own reader
            return "certsearch" if is_certsearch_workbook(path) else "tabular"
        return "tabular" if suffix == ".csv" else None
    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError:
            return None         # the record reader reports the folder it cannot read
        if any(e.is_dir() for e in entries):
            return None
        names = [e.name for e in entries]
        records = [n for n in names if Path(n).suffix.lower() in READERS and n != MAPPING_IN_FOLDER]
        if any(n.lower().endswith(".csv") for n in names) and not records:
            return "tabular"
    return None
