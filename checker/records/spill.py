"""A streamed run's spill: what the first pass parsed of each YAML or JSON record file, kept for
the worker that judges its client, so that no such file is parsed twice in a run.

Parsing a YAML file again costs a worker more than judging its client (libyaml and the located
composer: read_back took 8.4 ms a client file of a 1,000-client export, 0.7 ms from here).
The first pass (records/stream.first_pass) appends each file's records, with their
documents' line maps, to a data file in a private temporary folder (one per process that
parses: the first pass's own, or each of its pool's), in marshal's format:
written here with plain values only (dicts, lists, strings, numbers, booleans, None), and
loading it runs no code. Each file's entry starts with the digest of the bytes it was parsed
from and a checksum of the rest (against a torn or damaged spill: the folder is the user's
own, no one else can plant data there). A worker (records/stream.read_back) takes a file's
records from there when both hold, and parses the file exactly as before when they do not,
or when the spill is gone or unreadable: the spill makes a run cheaper, never different.

The folder is made by tempfile.mkdtemp (mode 0700, under TMPDIR) and removed when the run
ends, however it ends (spill_folder). Only local processes read it (the first pass, and the
local workers, each sent with a task where its files' entries lie); a cluster's workers
(--dask) may run on other machines and parse the files themselves. The data file takes about
1.5 times the bytes of the record files it holds (their line maps take as much room as their
data): 23 MB at 1,000 generated clients.
"""
from __future__ import annotations

import copy
import marshal
import os
import shutil
import socket
import tempfile
import zlib
from array import array
from collections.abc import Mapping, MutableMapping
from contextlib import contextmanager

from checker.records.located import Document
from checker.records.reader import Record

_MAGIC = b"cbcheck-spill-1\n"
_SOURCE_DIGEST = 12         # the first pass's digest of a file's bytes (stream._digest)
_HEADER = len(_MAGIC) + _SOURCE_DIGEST + 4


def _checksum(payload: bytes) -> bytes:
    return zlib.crc32(payload).to_bytes(4, "little")       # 6 us for a client's file (blake2b: 34)


class Places(MutableMapping):
    """file number -> (data file's name, offset, length) of its entry, packed: about 20 bytes a
    file in three arrays, against about 250 for a dict's entry and its tuple (an export in
    folders has a file per client)."""

    def __init__(self):
        self._names: list[str] = []         # one a process that writes
        self._name_no: dict[str, int] = {}
        self._name, self._offset, self._length = array("I"), array("Q"), array("Q")   # length 0: none

    def __setitem__(self, file_no: int, place: tuple[str, int, int]):
        name, offset, length = place
        if length <= 0 or file_no < 0:
            raise ValueError(f"no entry is {length} bytes long at file {file_no}")
        missing = file_no + 1 - len(self._length)
        if missing > 0:
            for column in (self._name, self._offset, self._length):
                column.frombytes(bytes(missing * column.itemsize))
        name_no = self._name_no.get(name)
        if name_no is None:
            name_no = self._name_no[name] = len(self._names)
            self._names.append(name)
        self._name[file_no], self._offset[file_no], self._length[file_no] = name_no, offset, length

    def __getitem__(self, file_no: int) -> tuple[str, int, int]:
        if not 0 <= file_no < len(self._length) or not self._length[file_no]:
            raise KeyError(file_no)
        return self._names[self._name[file_no]], self._offset[file_no], self._length[file_no]

    def __delitem__(self, file_no: int):
        self[file_no]       # noqa: B018 - KeyError when it has none
        self._length[file_no] = 0

    def __iter__(self):
        return (file_no for file_no, length in enumerate(self._length) if length)

    def __len__(self) -> int:
        return len(self._length) - self._length.count(0)


class Spill:
    """One run's spill file: written by the first pass (`write`), read by the local workers
    (`read`), which are sent it with where each record file's entry lies (`places`)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.places = Places()      # where each record file's entry lies
        # (process id, descriptor, data file's name, its end): each process that writes (the
        # first pass, or each of its pool's processes: records/file_pool.py) has its own file.
        self._writer: tuple[int, int, str, int] | None = None
        # process id -> its descriptor of each data file (a forked worker opens its own; a
        # narrowed view shares them)
        self._readers: dict[int, dict[str, int]] = {}
        self.failed = False                             # a write failed: nothing more is spilled

    def write(self, file_no: int, source_digest: bytes,
              entries: list[tuple[Record, int, bytes]]) -> tuple[str, int, int] | None:
        """Spill the records `entries` (as stream._whole_file gives them) of file `file_no`,
        whose bytes have `source_digest`; where it went (for `placed` in the process that reads
        it back), or None. A spill that cannot be written is not an error of the run: its files
        are parsed again by the workers, as without a spill."""
        if self.failed:
            return None
        documents: dict[int, Document] = {}
        for record, document, _raw in entries:
            documents.setdefault(document, record.document)
        try:    # (ValueError: a value marshal cannot hold; the reader refuses those already, as not JSON)
            payload = marshal.dumps(([(documents[n].first_line, documents[n].lines) for n in range(len(documents))],
                                     [(document, record.root, record.data) for record, document, _raw in entries]))
        except ValueError:
            return None
        blob = _MAGIC + source_digest + _checksum(payload) + payload
        try:
            if self._writer is None or self._writer[0] != os.getpid():
                descriptor, path = tempfile.mkstemp(prefix="records-", suffix=".spill", dir=self.folder)
                self._writer = (os.getpid(), descriptor, os.path.basename(path), 0)
            pid, descriptor, name, end = self._writer
            view = memoryview(blob)
            while view:
                view = view[os.write(descriptor, view):]
        except OSError:             # a full disk, say: the rest is parsed again where it is read
            self.failed = True
            return None
        self._writer = (pid, descriptor, name, end + len(blob))
        self.places[file_no] = place = (name, end, len(blob))
        return place

    def placed(self, file_no: int, place: tuple[str, int, int]):
        """File `file_no`'s entry was written by another process (one of the first pass's pool),
        at `place` (what its `write` gave)."""
        self.places[file_no] = place

    def narrowed(self, places: Mapping[int, tuple[str, int, int]]) -> Spill:
        """This spill reading only the entries `places` names (file number -> place, as
        `places` gives them): a worker is sent those of each task's files with the task
        (engine/streamed.ClientSources), not where every file's entry lies."""
        view = copy.copy(self)
        view.places = places
        return view

    def read(self, file_no: int, source_digest: bytes, rel: str) -> list[tuple[Record, int, bytes]] | None:
        """The entries spilled for file `file_no` (named `rel`) as stream._whole_file gives them,
        or None when none were spilled for these bytes (`source_digest`) or they cannot be read
        back as written: the caller parses the file then."""
        place = self.places.get(file_no)
        if place is None:
            return None
        name, offset, length = place
        try:
            blob = os.pread(self._read_descriptor(name), length, offset)
        except OSError:
            return None
        written_for, payload = _MAGIC + source_digest, blob[_HEADER:]
        if (len(blob) != length or not blob.startswith(written_for)
                or blob[len(written_for):_HEADER] != _checksum(payload)):
            return None
        try:
            documents, records = marshal.loads(payload)
            lines = [Document(None, found, first) for first, found in documents]
            return [(Record(data, rel, lines[document], root), document, source_digest)
                    for document, root, data in records]
        except (ValueError, TypeError, EOFError, IndexError):
            return None

    def seal(self):
        """Every file is written: the workers forked from here only read."""
        if self._writer is not None and self._writer[0] == os.getpid():
            os.close(self._writer[1])
        self._writer = None

    def _read_descriptor(self, name: str) -> int:
        """This process's descriptor of the data file `name` (a forked worker opens its own)."""
        mine = self._readers.setdefault(os.getpid(), {})
        found = mine.get(name)
        if found is None:
            found = mine[name] = os.open(os.path.join(self.folder, name), os.O_RDONLY)
        return found

    def close(self):
        self.seal()
        for descriptor in self._readers.pop(os.getpid(), {}).values():
            os.close(descriptor)


PREFIX = "cbcheck-spill-"


def _host_prefix() -> str:
    """The start of the spill folder names of the runs on this host."""
    return f"{PREFIX}{socket.gethostname()}-"


def _owner_prefix() -> str:
    """The start of this process's spill folder names: its host and process id, so that a
    later run can tell a folder whose run is gone."""
    return f"{_host_prefix()}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:         # another user's process: alive
        return True
    return True


def remove_abandoned(root: str):
    """Removes the spill folders under `root` that runs on this host left behind when they were
    killed outright (SIGKILL, the out-of-memory killer: no `finally` runs), each up to 1.5 times
    the YAML it holds: those whose process is gone and that belong to this user. A folder whose
    process id was taken again waits for that process to end."""
    mine = _host_prefix()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(mine):].split("-", 1)[0] if entry.name.startswith(mine) else ""
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid():
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


@contextmanager
def spill_folder(wanted: bool = True):
    """A Spill in a private temporary folder, removed with everything in it when the block
    ends, by an error or Ctrl-C too; None when not `wanted` or when no folder can be made
    (the run then parses each file where it reads it, as without a spill). Folders earlier
    runs could not remove are removed first (remove_abandoned)."""
    folder = None
    if wanted:
        remove_abandoned(tempfile.gettempdir())
        try:
            folder = tempfile.mkdtemp(prefix=_owner_prefix())
        except OSError:
            folder = None
    spill = Spill(folder) if folder else None
    try:
        yield spill
    finally:
        if spill is not None:
            spill.close()
            shutil.rmtree(folder, ignore_errors=True)
