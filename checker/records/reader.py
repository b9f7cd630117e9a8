"""Reads a folder (or one file) of record files: YAML, JSON and JSON Lines.

Every record keeps its source file (relative to the input root, so reports do not depend on
where the folder lies), the document it came from and the JSON Pointer of its root, so any
field can be traced back to a line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from checker.errors import Problem
from checker.records.located import Document, load_json_document, load_json_lines, load_yaml_documents

READERS = {".yaml": load_yaml_documents, ".yml": load_yaml_documents,
           ".json": load_json_document, ".jsonl": load_json_lines}


@dataclass
class Record:
    data: dict
    file: str
    document: Document
    root: str              # JSON Pointer of the record inside its document

    @property
    def id(self) -> str:
        return self.data.get("id")

    @property
    def type(self) -> str:
        return self.data.get("type")

    def line_of(self, pointer: str = "") -> int:
        return self.document.line_of(self.root + pointer)

    def location(self, pointer: str = "") -> dict:
        return {"file": self.file, "line": self.line_of(pointer), "pointer": self.root + pointer}


@dataclass
class ReadResult:
    records: list[Record]
    problems: list[Problem]
    files_read: list[str]
    files_ignored: list[str]


def _record_files(root: Path, problems: list[Problem]) -> tuple[list[Path], list[str]]:
    if root.is_file():
        return [root], []
    files, ignored = [], []
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.suffix.lower() not in READERS:
                ignored.append(rel)
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                problems.append(Problem(rel, None, "", "link points outside the input folder; not read",
                                        "record files inside the folder"))
                continue
            if not path.is_file():   # a FIFO or device would block or never end
                problems.append(Problem(rel, None, "", "not a regular file; not read", "a plain record file"))
                continue
            files.append(path)
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():
                ignored.append((Path(dirpath) / name).relative_to(root).as_posix() + "/")
    return files, ignored


def read_records(source: str | os.PathLike) -> ReadResult:
    root = Path(source)
    problems: list[Problem] = []
    if not root.exists():
        problems.append(Problem(str(source), None, "", "no such file or folder", "a folder of record files"))
        return ReadResult([], problems, [], [])
    files, ignored = _record_files(root, problems)
    records: list[Record] = []
    read = []
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        read.append(rel)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(rel, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})", "UTF-8"))
            continue
        except OSError as exc:
            problems.append(Problem(rel, None, "", f"cannot read: {exc.strerror}", "a readable file"))
            continue
        documents, errs = READERS[path.suffix.lower()](text, rel)
        problems.extend(errs)
        for doc in documents:
            records.extend(_records_of(doc, rel, problems))
    return ReadResult(records, problems, read, ignored)


def _records_of(doc: Document, file: str, problems: list[Problem]):
    if doc.data is None:
        return []
    items = doc.data if isinstance(doc.data, list) else [doc.data]
    prefix = "" if not isinstance(doc.data, list) else None
    out = []
    for i, item in enumerate(items):
        root = prefix if prefix is not None else f"/{i}"
        if not isinstance(item, dict):
            problems.append(Problem(file, doc.line_of(root), root or "/",
                                    f"a record must be a mapping, found {type(item).__name__}",
                                    "a mapping with at least `id` and `type`"))
            continue
        out.append(Record(item, file, doc, root))
    return out
