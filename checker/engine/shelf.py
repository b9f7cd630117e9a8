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
    """key -> a plain value, written to the shelf's file as it is put, read back by `get`.
    A context manager: leaving it closes (and so deletes) the file."""

    def __init__(self, folder: str | None = None, prefix: str = "shelf-"):
        # key -> where its value is in the file, as offset << 32 | length (one int a key,
        # not a tuple of two), or (the value,) kept here
        self.stored: dict = {}
        self.end = 0
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
            if len(blob) >= 1 << 32:
                return
            os.pwrite(self.file.fileno(), blob, self.end)
        except (ValueError, OSError):
            return
        self.stored[key] = self.end << 32 | len(blob)
        self.end += len(blob)

    def get(self, key):
        """The value put under `key` (KeyError when none was)."""
        where = self.stored[key]
        if type(where) is tuple:
            return where[0]
        return marshal.loads(os.pread(self.file.fileno(), where & 0xFFFFFFFF, where >> 32))

    def __contains__(self, key) -> bool:
        return key in self.stored

    def keys(self):
        return self.stored.keys()
