"""A streamed run's spill: what the first pass parsed of each YAML or JSON record file, kept for
the worker that judges its client, so that no such file is parsed twice in a run.

Parsing a YAML file costs far more than anything else a worker does with it (libyaml and the
located composer: about 3-7 ms for one client's file, against ~0.1 ms to load it back here).
The first pass (records/stream.first_pass) appends each file's records, with their
documents' line maps, to one data file in a private temporary folder: marshal's format,
which holds only plain values (dicts, lists, strings, numbers, booleans, None) and runs no
code when loaded, behind a header with the digest of the file's bytes it was parsed from and
a digest of the payload. A worker (records/stream.read_back) takes a file's records from
there when both digests hold, and parses the file exactly as before when they do not, or
when the spill is gone or unreadable: the spill can make a run cheaper, never different.

The folder is made by tempfile.mkdtemp (mode 0700, under TMPDIR) and removed when the run
ends, however it ends (spill_folder). Only local worker processes read it (they are forked
from the process that wrote it); a cluster's workers (--dask) may run on other machines and
parse the files themselves. The data file takes about the size of the record files it holds.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import tempfile
from contextlib import contextmanager

from checker.records.located import Document
from checker.records.reader import Record

_MAGIC = b"cbcheck-spill-1\n"
_SOURCE_DIGEST = 12         # the first pass's digest of a file's bytes (stream._digest)
_PAYLOAD_DIGEST = 16
_HEADER = len(_MAGIC) + _SOURCE_DIGEST + _PAYLOAD_DIGEST


def _payload_digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_PAYLOAD_DIGEST).digest()


class Spill:
    """One run's spill file: written by the first pass (`write`), read by the local workers
    forked after it (`read`), which inherit where each record file's entry lies."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "records.spill")
        self.places: dict[int, tuple[int, int]] = {}    # file number -> (offset, length)
        self._end = 0
        self._writer: int | None = None
        self._reader: tuple[int, int] | None = None     # (process id, descriptor): one per process
        self.failed = False                             # a write failed: nothing more is spilled

    def write(self, file_no: int, source_digest: bytes, entries: list[tuple[Record, int, bytes]]):
        """Spill the records `entries` (as stream._whole_file gives them) of file `file_no`,
        whose bytes have `source_digest`. A spill that cannot be written is not an error of the
        run: its files are parsed again by the workers, as without a spill."""
        if self.failed:
            return
        documents: dict[int, Document] = {}
        for record, document, _raw in entries:
            documents.setdefault(document, record.document)
        payload = marshal.dumps(([(documents[n].first_line, documents[n].lines) for n in range(len(documents))],
                                 [(document, record.root, record.data) for record, document, _raw in entries]))
        blob = _MAGIC + source_digest + _payload_digest(payload) + payload
        try:
            if self._writer is None:
                self._writer = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            view = memoryview(blob)
            while view:
                view = view[os.write(self._writer, view):]
        except OSError:             # a full disk, say: the rest is parsed again where it is read
            self.failed = True
            return
        self.places[file_no] = (self._end, len(blob))
        self._end += len(blob)

    def read(self, file_no: int, source_digest: bytes, rel: str) -> list[tuple[Record, int, bytes]] | None:
        """The entries spilled for file `file_no` (named `rel`) as stream._whole_file gives them,
        or None when none were spilled for these bytes (`source_digest`) or they cannot be read
        back as written: the caller parses the file then."""
        place = self.places.get(file_no)
        if place is None:
            return None
        try:
            blob = os.pread(self._read_descriptor(), place[1], place[0])
        except OSError:
            return None
        payload = blob[_HEADER:]
        header = _MAGIC + source_digest + _payload_digest(payload)
        if len(blob) != place[1] or blob[:_HEADER] != header:
            return None
        try:
            documents, records = marshal.loads(payload)
            lines = [Document(None, found, first) for first, found in documents]
            return [(Record(data, rel, lines[document], root), document, source_digest)
                    for document, root, data in records]
        except (ValueError, TypeError, EOFError, IndexError):
            return None

    def _read_descriptor(self) -> int:
        """This process's descriptor of the spill file (a forked worker opens its own)."""
        if self._reader is None or self._reader[0] != os.getpid():
            self._reader = (os.getpid(), os.open(self.path, os.O_RDONLY))
        return self._reader[1]

    def close(self):
        for descriptor in (self._writer, self._reader[1] if self._reader else None):
            if descriptor is not None:
                os.close(descriptor)
        self._writer = self._reader = None


@contextmanager
def spill_folder(wanted: bool = True):
    """A Spill in a private temporary folder, removed with everything in it when the block
    ends, by an error or Ctrl-C too; None when not `wanted` or when no folder can be made
    (the run then parses each file where it reads it, as without a spill)."""
    folder = None
    if wanted:
        try:
            folder = tempfile.mkdtemp(prefix="cbcheck-spill-")
        except OSError:
            folder = None
    spill = Spill(folder) if folder else None
    try:
        yield spill
    finally:
        if spill is not None:
            spill.close()
            shutil.rmtree(folder, ignore_errors=True)
