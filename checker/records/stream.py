"""The streaming first pass over a folder of record files, and reading one partition's records
back from where the pass found them.

The pass reads every record once, adds it to the index (records/index.IndexBuilder: duplicate
ids, references and owners are checked there, exactly as over the whole input) and then drops
its data, keeping a stub: its type, file, the line of its id, where to read it again and a
digest of its bytes. Only the records no client owns (people, the CB, its activities; they
are shared by every partition) stay whole, with the records of a YAML or JSON file that
holds several clients' records (reading such a file again for each of its clients would
cost its parse once per client). Memory is then the stubs plus the shared records, not the
export; each client's records are read again, validated and judged in a worker.

Any problem the pass meets that is tied to no record (a file that cannot be read or parsed,
an empty file, a line the whole-file reader would split differently) stops the pass with
WholeInputNeeded: such a problem withholds every evaluation, and the whole-input reader
(records/reader.read_records) then lists every problem of the input exactly as it always did.
"""
from __future__ import annotations

import hashlib
import os
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from checker.errors import Problem
from checker.records.evidence import Evidence, summarise
from checker.records.fast_json import exact_json
from checker.records.index import IndexBuilder, RecordIndex
from checker.records.located import Document, json_line_document, nearest, quick_json
from checker.records.reader import Record, input_files, max_file_bytes, read_file, records_of

JSON_LINES = ".jsonl"


class WholeInputNeeded(Exception):
    """The input has a problem no single record owns: read it whole (pipeline.load_input)."""


_PLACE = struct.Struct("<QII")       # at, line, id_line


class Stub:
    """What the index keeps of a record whose data was dropped: its type, file, where to read it
    again and a digest of its bytes, packed (a few dozen bytes a record: see the module's docstring)."""
    __slots__ = ("type", "file", "file_no", "root", "_packed")

    def __init__(self, kind: str, file: str, file_no: int, root: str, place: tuple[int, int, int], digest: bytes):
        self.type, self.file, self.file_no, self.root = kind, file, file_no, root
        self._packed = _PLACE.pack(*place) + digest

    @property
    def at(self) -> int:
        """JSON Lines: the byte offset of its line; YAML and JSON: its document's number."""
        return _PLACE.unpack_from(self._packed)[0]

    @property
    def line(self) -> int:
        """JSON Lines: its line; YAML and JSON: the line its record starts on."""
        return _PLACE.unpack_from(self._packed)[1]

    @property
    def digest(self) -> bytes:
        """Of its bytes: its line's (JSON Lines), its whole file's (YAML, JSON)."""
        return self._packed[_PLACE.size:]

    def line_of(self, _pointer: str = "") -> int:
        return _PLACE.unpack_from(self._packed)[2]     # asked only for "/id" (duplicate id messages)


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=12).digest()


def _json_lines(path: Path, rel: str, limit: int):
    """(record, byte offset, line number, raw line) of every record of a JSON Lines file."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise WholeInputNeeded(rel)
        offset, number, found = 0, 0, False
        for raw in handle:
            number += 1
            try:
                text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
            except UnicodeDecodeError:
                raise WholeInputNeeded(rel) from None
            lines = text.splitlines()
            if len(lines) > 1:      # a line break other than \n: the whole-file reader counts lines otherwise
                raise WholeInputNeeded(rel)
            for record in _line_records(lines[0] if lines else "", rel, number, exact=False):
                found = True
                yield record, offset, number, raw
            offset += len(raw)
            if offset > limit:
                raise WholeInputNeeded(rel)
    if not found:
        raise WholeInputNeeded(rel)     # an empty file


def _line_records(text: str, rel: str, number: int, exact: bool = True) -> list[Record]:
    """The records of one JSON Lines line. Not `exact` (the first pass): parsed by quick_json
    when it can, so a duplicate key goes unseen here; the worker reads the line again exactly
    (read_back: by fast_json.exact_json where it is sure, else json_line_document) and sends
    the run to the whole-input path then."""
    if not text.strip():
        return []
    data = exact_json(text) if exact else quick_json(text)
    if data is not None:
        document, problems = Document(data, {"": number}, number), []
    else:
        document, problems = json_line_document(text, rel, number)
    if document is None or problems or document.not_json:
        raise WholeInputNeeded(rel)
    records = records_of(document, rel, problems)
    if problems:
        raise WholeInputNeeded(rel)
    return records


def _whole_file(path: Path, rel: str, limit: int):
    """(record, document number, digest of the file's bytes) of a YAML or JSON file, read whole."""
    problems: list[Problem] = []
    records = read_file(path, rel, limit, problems)
    if problems:
        raise WholeInputNeeded(rel)
    documents = {}
    for record in records:
        documents.setdefault(id(record.document), len(documents))
    raw = _digest(path.read_bytes())
    return [(record, documents[id(record.document)], raw) for record in records]


@dataclass
class FirstPass:
    files: list[tuple[Path, str]]          # by file number: (path, name reports show)
    files_ignored: list[str]
    index: RecordIndex                     # by_id holds Stubs, or Records for those kept whole
    problems: list[Problem]                # reference problems
    unindexed: list[Record]                # records not indexed (no id, unknown type, duplicates): validated here
    records: int = 0
    records_by_type: Counter = field(default_factory=Counter)
    evidence: Evidence | None = None


class _Pass:
    def __init__(self, source):
        files, ignored, problems, self.limit = input_files(source)
        if problems:
            raise WholeInputNeeded(str(source))
        # Absolute: a worker reading them back may run elsewhere (--dask, on a shared path).
        self.files = [(Path(os.path.abspath(path)), rel) for path, rel in files]
        self.builder = IndexBuilder()
        self.stubs: dict[str, Stub] = {}      # of records kept whole, for when their owner is known
        self.result = FirstPass(self.files, ignored, self.builder.index, [], [])

    def run(self) -> FirstPass:
        self.result.evidence = summarise(self._indexed())
        self.result.index, self.result.problems = self.builder.finish()
        self._drop_owned()
        return self.result

    def _indexed(self):
        """Every record of the input, each indexed; yields those indexed (for the evidence)."""
        for file_no, (path, rel) in enumerate(self.files):
            if path.suffix.lower() == JSON_LINES:
                for record, offset, number, raw in _json_lines(path, rel, self.limit):
                    if self._add(record, self._stub(record, rel, file_no, (offset, number, number), _digest(raw))):
                        yield record
            else:
                yield from self._add_file(file_no, path, rel)

    def _add_file(self, file_no: int, path: Path, rel: str):
        """A YAML or JSON file's records: dropped to stubs after the file when they belong to
        one client, kept whole when they belong to several (see the module's docstring)."""
        added = []
        for record, document, raw in _whole_file(path, rel, self.limit):
            stub = self._stub(record, rel, file_no, (document, record.line_of(), record.line_of("/id")), raw)
            if self._add(record, stub):
                added.append((record, stub))
                yield record
        # Records whose owner is not read yet stay whole until the end (_drop_owned), whatever
        # their file: a file whose records are only known to be several clients' then is read
        # once per client.
        owners = {self.builder.index.owner_client.get(record.id) for record, _stub in added} - {None}
        if len(owners) > 1:
            for record, _stub in added:
                self.builder.index.by_id[record.id] = record
                self.stubs.pop(record.id, None)

    def _stub(self, record: Record, rel: str, file_no: int, place: tuple[int, int, int], digest: bytes) -> Stub | None:
        """A record's stub, its type and root the interned strings every stub shares (None for a
        record of no known type: it is not indexed)."""
        kind = self.builder.types.get(record.type) if isinstance(record.type, str) else None
        if kind is None:
            return None
        return Stub(kind.name, rel, file_no, sys.intern(record.root), place, digest)

    def _add(self, record: Record, stub: Stub | None) -> bool:
        result = self.result
        result.records += 1
        if isinstance(record.type, str):
            result.records_by_type[record.type] += 1
        if not self.builder.add(record):
            result.unindexed.append(record)
            return False
        # Kept whole while no client is known to own it (CB-wide, or its owner not read yet).
        if self.builder.index.owner_client.get(record.id) is not None:
            self.builder.index.by_id[record.id] = stub
        else:
            self.stubs[record.id] = stub
        return True

    def _drop_owned(self):
        """Records kept whole until their owner was read, and found to belong to a client: dropped now."""
        owners, by_id = self.result.index.owner_client, self.result.index.by_id
        for rid, stub in self.stubs.items():
            if owners.get(rid) is not None:
                by_id[rid] = stub
        self.stubs.clear()


def first_pass(source) -> FirstPass:
    """The index of the records under `source`, their data dropped but for shared records (see
    the module's docstring); raises WholeInputNeeded when the input must be read whole."""
    return _Pass(source).run()


def read_back(files: list[tuple[Path, str]], stubs: list[Stub]) -> tuple[list[Record], bool]:
    """The records `stubs` stand for, read again from their files; (records, unchanged): False
    when a file no longer holds what the first pass read there (changed while the run went on)."""
    records, unchanged, parsed = [], True, {}
    handles: dict[int, object] = {}
    lines_file: dict[int, bool] = {}       # file number -> JSON Lines?
    try:
        for stub in stubs:
            path, rel = files[stub.file_no]
            if stub.file_no not in lines_file:
                lines_file[stub.file_no] = path.suffix.lower() == JSON_LINES
            if lines_file[stub.file_no]:
                found, same = _read_line(handles, path, stub, rel)
            else:
                found, same = _read_document(parsed, path, stub, rel)
            records.extend(found)
            unchanged &= same and len(found) == 1
    except OSError:         # gone or unreadable since the first pass
        return [], False
    finally:
        for handle in handles.values():
            handle.close()
    return records, unchanged


def _read_line(handles: dict, path: Path, stub: Stub, rel: str) -> tuple[list[Record], bool]:
    handle = handles.get(stub.file_no) or handles.setdefault(stub.file_no, path.open("rb"))
    at = stub.at
    handle.seek(at)
    raw = handle.readline()
    if _digest(raw) != stub.digest:
        return [], False
    text = raw.decode("utf-8-sig" if at == 0 else "utf-8").splitlines()
    try:
        found = [r for r in _line_records(text[0] if text else "", rel, stub.line) if r.root == stub.root]
    except WholeInputNeeded:
        return [], False
    return found, True


def _read_document(parsed: dict, path: Path, stub: Stub, rel: str) -> tuple[list[Record], bool]:
    if stub.file_no not in parsed:
        try:
            parsed[stub.file_no] = _whole_file(path, rel, max_file_bytes()[0])
        except (WholeInputNeeded, OSError):
            parsed[stub.file_no] = []
    found = [(record, raw) for record, document, raw in parsed[stub.file_no]
             if document == stub.at and record.root == stub.root]
    same = all(raw == stub.digest for _record, raw in found)
    return [record for record, _raw in found], same


def detached(record: Record) -> Record:
    """`record` with only its own part of its document's line map (a worker it is sent to needs
    no more, and a document may hold a whole file's records)."""
    where = located(record)
    return Record(record.data, record.file, Document(None, where.lines, where.first_line), record.root)


@dataclass
class Located:
    """Where a record read in a worker stands, for its findings' file, line and pointer: what a
    Record answers about its location, without its data."""
    type: str
    file: str
    root: str
    lines: dict[str, int]
    first_line: int

    def line_of(self, pointer: str = "") -> int:
        return nearest(self.lines, self.root + pointer, self.first_line)


def located(record: Record) -> Located:
    root, lines = record.root, record.document.lines
    mine = {p: line for p, line in lines.items() if p == "" or p == root or p.startswith(root + "/")}
    return Located(record.type, record.file, root, mine, record.document.first_line)
