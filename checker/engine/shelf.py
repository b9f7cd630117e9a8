"""Plain values set aside out of the main process's memory while the workers live: each value
written, in marshal's format (plain values: loading runs no code), to an unnamed temporary file
(in the run's spill folder when there is one) and read back when it is asked for. What the main
process holds while the workers run is the peak of the whole process tree; a value kept as
objects there (a client's findings, what its records give the CB-wide kinds) costs many times
its bytes. A value that cannot be written (no room, a value marshal cannot hold) is kept in
memory instead: the run is never different.
"""
from __future__ import annotations

import marshal
import os
import tempfile


class Shelf:
    """key -> a plain value, written to the shelf's file as it is put (a buffer at a time),
    read back by `get`. A context manager: leaving it closes (and so deletes) the file."""

    WRITE_BYTES = 1024 ** 2     # written a buffer at a time (one write a value: 0.05 CPU-s a cached night)

    def __init__(self, folder: str | None = None, prefix: str = "shelf-"):
        # key -> where its value is in the file, as offset << 32 | length (one int a key,
        # not a tuple of two), or (the value,) kept here
        self.stored: dict = {}
        self.end = 0
        self.buffer, self.start = bytearray(), 0       # not written yet; its offset in the file
        try:
            self.file = tempfile.TemporaryFile(prefix=prefix, dir=folder)
        except OSError:
            self.file = None

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    def put(self, key, value):
        """`value` under `key` (a key put again: its new value)."""
        self.stored[key] = (value,)      # unless written below
        if self.file is None:
            return
        try:
            blob = marshal.dumps(value)
        except ValueError:
            return
        if len(blob) >= 1 << 32:
            return
        self.stored[key] = self.end << 32 | len(blob)
        self.end += len(blob)
        self.buffer += blob
        if len(self.buffer) >= self.WRITE_BYTES:
            self._write()

    def _write(self):
        """The buffer written to the file (kept, and read from, when it cannot be)."""
        try:
            os.pwrite(self.file.fileno(), self.buffer, self.start)
        except OSError:
            return
        self.start += len(self.buffer)
        self.buffer = bytearray()

    def get(self, key):
        """The value put under `key` (KeyError when none was)."""
        where = self.stored[key]
        if type(where) is tuple:
            return where[0]
        offset, length = where >> 32, where & 0xFFFFFFFF
        if offset >= self.start:
            return marshal.loads(self.buffer[offset - self.start:offset - self.start + length])
        return marshal.loads(os.pread(self.file.fileno(), length, offset))

    def __contains__(self, key) -> bool:
        return key in self.stored

    def keys(self):
        return self.stored.keys()
