"""The record files of a streamed run by number, packed: each file's absolute path and the name
reports show, for the first pass (records/stream.py), the workers that read the clients'
records back and the CB-wide partition.

A list of (pathlib.Path, name) pairs costs about 700 bytes a file (the Path, its parts, its
string, the pair), and an export in folders has a file per client: at 25,000 clients 17 MB in
the main process for the whole run (and as much again in each worker, when the workers were
sent the whole list; each client's task now carries its own files: engine/streamed.ClientSources).
Here a file costs its name's characters in one string and an offset: its path is made when
asked for, the folder's path joined to its name, which is the file's path below the folder
unless the name was escaped for display (plain_text.shown: control characters, bytes that were
not UTF-8); those few are kept as they are.
"""
from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path


class FileList(Sequence):
    """(absolute Path, name reports show) of each record file, by file number."""

    def __init__(self, files: Iterable[tuple[os.PathLike | str, str]]):
        base: str | None = None
        names, self._ends, self._odd = [], array("Q"), {}
        end = 0
        for number, (path, name) in enumerate(files):
            full = os.path.abspath(path)
            if base is None and full.endswith("/" + name):
                base = full[:-len(name) - 1]
            if base is None or full != f"{base}/{name}":
                self._odd[number] = full        # its name is not its path below the folder
            names.append(name)
            end += len(name)
            self._ends.append(end)
        self._base = base or ""
        self._names = "".join(names)

    def __len__(self) -> int:
        return len(self._ends)

    def name(self, number: int) -> str:
        """The name reports show of file `number`."""
        if not 0 <= number < len(self._ends):
            raise IndexError(number)
        return self._names[self._ends[number - 1] if number else 0:self._ends[number]]

    def path(self, number: int) -> Path:
        """The absolute path of file `number`."""
        name = self.name(number)
        return Path(self._odd.get(number) or f"{self._base}/{name}")

    def __getitem__(self, number: int) -> tuple[Path, str]:
        if number < 0:
            number += len(self._ends)
        return self.path(number), self.name(number)

    def __iter__(self):
        return (self[number] for number in range(len(self._ends)))

    def __eq__(self, other) -> bool:
        """The same files by number (a list of (Path, name) pairs compares as their FileList)."""
        if isinstance(other, list):
            other = FileList(other)
        if not isinstance(other, FileList):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None

    @property
    def names(self) -> FileNames:
        """The names alone, by file number."""
        return FileNames(self)


class FileNames(Sequence):
    """A FileList's names by file number (what records/stubs.StubTable reads of its files)."""
    __slots__ = ("_files",)

    def __init__(self, files: FileList):
        self._files = files

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, number: int) -> str:
        return self._files.name(number)
