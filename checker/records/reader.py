"""Reads a folder (or one file) of record files: YAML, JSON and JSON Lines.

Every record keeps its source file (relative to the input root, so reports do not depend on
where the folder lies), the document it came from and the JSON Pointer of its root, so any
field can be traced back to a line.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from checker.errors import Problem
from checker.plain_text import shown
from checker.records.located import Document, load_json_document, load_json_lines, load_yaml_documents
from checker.records.schema_registry import record_types

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
    # A reader that knows which records a problem concerns (an importer's refused row) says so
    # here: problem -> ids of records it returned; pipeline.withheld_records withholds only them.
    implicated: dict = field(default_factory=dict)


MIB = 1024 ** 2
MAX_FILE_MIB = 256          # generous for an export; a record file is held in memory whole
MAX_FILE_ENV = "CBCHECK_MAX_FILE_MIB"
NOT_READ = "record files cbcheck can read: fix the file or its permissions, or move it out of the input folder"
EMPTY_HINT = ("at least one record: export the file again, or delete it if it is empty on purpose "
              "(cbcheck treats a file without records as a truncated export)")


def _unreadable_entry(path: Path, real_root: Path | None) -> str | None:
    """Why the record file at `path` cannot be read, or None when it can. Inside a folder
    (`real_root`) a link is followed only to a file inside it; a FIFO or device would block
    or never end."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the links lead back to each other); not read"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"dangling link: it points at {shown(os.readlink(path))}, which does not exist; not read"
        return f"cannot read: {exc.strerror}"
    if real_root and os.path.islink(path) and not Path(os.path.realpath(path)).is_relative_to(real_root):
        return "link points outside the input folder; not read"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device); not read"
    return None


def _record_files(root: Path, problems: list[Problem]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(record files with the names reports show, other files listed as ignored). Every entry
    that cannot be read, folders included, is a problem: a report must never cover less than
    the input without saying so. Names are shown escaped (plain_text.shown)."""
    if not root.is_dir():
        why = _unreadable_entry(root, None)
        if why:
            problems.append(Problem(shown(str(root)), None, "", why, NOT_READ))
            return [], []
        return [(root, shown(root.name))], []

    def unreadable(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "."
        problems.append(Problem(shown(str(root) if rel == "." else rel), None, "",
                                f"cannot read this folder: {exc.strerror}",
                                "a folder cbcheck can read: fix its permissions, or move it out of the input folder"))

    files, ignored = [], []
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = shown(path.relative_to(root).as_posix())
            if path.suffix.lower() not in READERS:
                ignored.append(rel)
                continue
            why = _unreadable_entry(path, real_root)
            if why:
                problems.append(Problem(rel, None, "", why, NOT_READ))
                continue
            files.append((path, rel))
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():
                ignored.append(shown((Path(dirpath) / name).relative_to(root).as_posix()) + "/")
    return files, ignored


def max_file_bytes() -> tuple[int, Problem | None]:
    """The size limit for one record file: MAX_FILE_MIB, or the MiB given in the environment
    variable MAX_FILE_ENV (a whole number from 1 on), and the problem with that variable."""
    given = os.environ.get(MAX_FILE_ENV)
    if given is None:
        return MAX_FILE_MIB * MIB, None
    if given.strip().isascii() and given.strip().isdigit() and int(given) >= 1:
        return int(given) * MIB, None
    return MAX_FILE_MIB * MIB, Problem(MAX_FILE_ENV, None, "", f"{shown(given)!r} is not a size in MiB",
                                       f"a whole number of MiB from 1 on (default {MAX_FILE_MIB})")


def _too_large(rel: str, size: int, limit: int, kind: str) -> Problem:
    return Problem(rel, None, "",
                   f"{size:,} bytes, more than the {limit // MIB:,} MiB a {kind} may hold; not read",
                   f"smaller files (split the export), or a higher limit: {MAX_FILE_ENV}=<MiB>")


def read_text(path: Path, rel: str, limit: int, kind: str = "record file", encoding_hint: str = "UTF-8",
              unreadable_hint: str = NOT_READ) -> tuple[str | None, Problem | None]:
    """The text of a file cbcheck reads whole (a record file, a CSV sheet); a byte-order mark is
    dropped, as spreadsheet programs write one. A file larger than `limit` bytes is refused
    before it is read, and one that grows past it while being read is refused too, so no input
    file can exhaust memory; `kind` names the file in that message."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                return None, _too_large(rel, size, limit, kind)
            raw = handle.read(limit + 1)
    except OSError as exc:
        return None, Problem(rel, None, "", f"cannot read: {exc.strerror}", unreadable_hint)
    if len(raw) > limit:
        return None, _too_large(rel, len(raw), limit, kind)
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, Problem(rel, raw[: exc.start].count(b"\n") + 1, "",
                             f"not UTF-8 text ({exc.reason} at byte {exc.start})", encoding_hint)


def input_files(source: str | os.PathLike) -> tuple[list[tuple[Path, str]], list[str], list[Problem], int]:
    """(record files with the names reports show, files ignored, problems, the size limit of
    one file) of a folder or file of records; no file is read yet."""
    root = Path(source)
    if not root.exists() and not root.is_symlink():
        return [], [], [Problem(shown(str(source)), None, "", "no such file or folder", "a folder of record files")], 0
    limit, limit_problem = max_file_bytes()
    if limit_problem:
        return [], [], [limit_problem], limit
    problems: list[Problem] = []
    files, ignored = _record_files(root, problems)
    return files, ignored, problems, limit


def read_file(path: Path, rel: str, limit: int, problems: list[Problem]) -> list[Record]:
    """The records of one record file; its problems are added to `problems`."""
    text, problem = read_text(path, rel, limit)
    if problem:
        problems.append(problem)
        return []
    documents, errs = READERS[path.suffix.lower()](text, rel) if text.strip() else ([], [])
    errs += [problem for doc in documents for problem in doc.not_json]
    problems.extend(errs)
    known = len(problems)
    found = [record for doc in documents for record in records_of(doc, rel, problems)]
    if not found and not errs and len(problems) == known:
        # 0 bytes, only `---` or comments, `null` or `[]`: in every format the same problem
        problems.append(Problem(rel, None, "", "empty file: it holds no records (a truncated export?)", EMPTY_HINT))
    return found


def read_records(source: str | os.PathLike) -> ReadResult:
    files, ignored, problems, limit = input_files(source)
    records: list[Record] = []
    for path, rel in files:
        records.extend(read_file(path, rel, limit, problems))
    return ReadResult(records, problems, [rel for _, rel in files], ignored)


def records_of(doc: Document, file: str, problems: list[Problem]):
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
        refused = [p for p in doc.not_json + doc.unsound if p.pointer == (root or "/") or p.pointer.startswith(root + "/")]
        if refused:     # reported already; the schemas cannot judge data JSON or a report cannot hold
            skeleton = _refused_record(item, file, doc, root, refused)
            out.extend([skeleton] if skeleton is not None else [])
            continue
        out.append(Record(item, file, doc, root))
    return out


@dataclass
class RefusedRecord(Record):
    """A record some value of which was refused (values.py; YAML data JSON cannot hold), as far
    as the index may know it: its id, type and owner field only, with the problems refusing
    it. Indexed, it keeps the records naming it from dangling and lets pipeline.load_input
    withhold only its partition (one refused value used to leave every client unjudged, with
    a dangling-reference error for each record of its client). Never validated nor judged:
    its partition is withheld."""
    refused: tuple[Problem, ...] = ()


def _refused_record(item: dict, file: str, doc: Document, root: str, refused: list[Problem]) -> RefusedRecord | None:
    """The skeleton of a refused record, or None when its id or type is itself refused or not
    text (then no record can be told to hold the problem)."""
    info = record_types().get(item.get("type")) if isinstance(item.get("type"), str) else None
    fields = ("id", "type") + ((info.owner_field,) if info is not None and info.owner_field else ())
    at = {p.pointer for p in refused}
    skeleton = {name: item[name] for name in fields if isinstance(item.get(name), str) and f"{root}/{name}" not in at}
    if "id" not in skeleton or "type" not in skeleton:
        return None
    return RefusedRecord(skeleton, file, doc, root, tuple(refused))
