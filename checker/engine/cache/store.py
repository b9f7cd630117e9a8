"""The cache's entries on disk: one SQLite file (stdlib sqlite3) in the cache folder.

SQLite rather than one JSON file per entry, measured (10,000 entries of 1 KB on this machine's
disk): 0.08 s to write them in one transaction and 0.03 s to read them back, against 2.5 s and
0.3 s as files renamed into place without fsync, and 44 s with fsync. A transaction is atomic:
a kill or a full disk leaves the entries as they were. Concurrent runs: SQLite locks the file
for every read and write, and writers also take an exclusive lock on a lock file beside it, so
that only one run at a time replaces a damaged file or prunes. One row per partition: the
cache holds the partitions of the last run that wrote it, never more (see `write`).

A file that is not a cbcheck cache of this format (corrupt, truncated, another program's) is
read as empty and replaced by a new one when the run writes; an entry is read back as text
and trusted only once entries.decode accepts it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from checker.engine.cache.keys import FORMAT
from checker.errors import Problem

CACHE_FILE = "cbcheck-cache.sqlite"
LOCK_FILE = "cbcheck-cache.lock"
BUSY_SECONDS = 60
_TEXTS = {str}       # what each column of an entry's row must be
FEW_SIDS = 64        # batches(sids=...) selects up to this many partitions by id, more among all rows
_SCHEMA = ("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
           "CREATE TABLE entries (sid TEXT PRIMARY KEY, digest TEXT NOT NULL, steady_from TEXT NOT NULL, "
           "steady_until TEXT NOT NULL, verdict TEXT NOT NULL)",
           # The first pass's memo (records/line_memo.py): a chunk of JSON Lines lines' takings by its key.
           "CREATE TABLE lines (key BLOB PRIMARY KEY, taken BLOB NOT NULL)")


class CacheUnavailable(Exception):
    """The cache cannot be read or written now (locked too long, read-only, disk full): the run
    goes on without it and says why."""


class CacheDamaged(Exception):
    """The cache file is damaged or not a cache of this format: its entries are read as none."""


@dataclass
class Entry:
    digest: str
    steady_from: str     # ISO dates: the verdict holds for every --as-of in [steady_from, steady_until]
    steady_until: str
    verdict: str         # entries.encode's JSON


class EntryStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE

    def prepare(self) -> Problem | None:
        """Before the run: the folder exists (created if missing) and the cache can be written
        there, else why not."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _unwritable(self.folder, f"cannot be created ({exc.strerror or exc})")
        if not self.folder.is_dir():
            return _unwritable(self.folder, "is not a folder")
        if not os.access(self.folder, os.W_OK | os.X_OK):
            return _unwritable(self.folder, "is not writable")
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            return _unwritable(self.path, "cannot be read and written")
        return None

    def read(self) -> tuple[dict[str, Entry], bool]:
        """(entries by partition id, whether the file was damaged or foreign and read as empty)."""
        try:
            return {sid: entry for batch in self.batches() for sid, entry in batch}, False
        except CacheDamaged:
            return {}, True

    def batches(self, size: int = 256, sids: set[str] | None = None,
                texts: bool = True) -> Iterator[list[tuple[str, Entry]]]:
        """Every entry as (partition id, entry), `size` rows at a time, so a caller holds one
        batch of verdicts' texts, not all of them (86 MB at 10,000 clients); none when there
        is no file yet. With `sids`, the caller wants only those partitions' (a few are looked
        up by id, more read among every row: the caller keeps its own); without `texts`, each
        entry's verdict is "" (its key and dates only). Raises CacheDamaged when the file is
        damaged or foreign, before the first batch or in pages read later, and
        CacheUnavailable when another run holds it."""
        if self._damaged():
            raise CacheDamaged(str(self.path))
        if not self.path.exists() or sids is not None and not sids:
            return
        query = f"SELECT sid, digest, steady_from, steady_until, {'verdict' if texts else chr(39) * 2} FROM entries"
        # A few partitions (a streamed run's CB-wide one) looked up by id, not among every entry.
        few = sorted(sids) if sids is not None and len(sids) <= FEW_SIDS else None
        try:
            with contextlib.closing(self._connect()) as con:
                cursor = con.execute(query + (f" WHERE sid IN ({','.join('?' * len(few))})" if few else ""),
                                     few or ())
                while rows := cursor.fetchmany(size):
                    yield [(row[0], Entry(*row[1:])) for row in rows if set(map(type, row)) == _TEXTS]
        except sqlite3.DatabaseError as exc:
            if _busy(exc):
                raise CacheUnavailable(f"{self.path} is locked by another run ({exc})") from exc
            raise CacheDamaged(str(self.path)) from exc      # damaged in pages _damaged() did not read

    def line_entries(self) -> dict[bytes, bytes]:
        """The first pass's memo entries by key, read in one query (one a chunk cost 15 times
        as much: 0.5 CPU-s for 12,800 chunks); none from a file damaged, foreign or not there."""
        rows = self._select("SELECT key, taken FROM lines") or []
        return {key: taken for key, taken in rows if isinstance(key, bytes) and isinstance(taken, bytes)}

    def _select(self, query: str) -> list | None:
        """The rows `query` gives; [] when there is no file yet, None when it is damaged or
        foreign (read as empty); CacheUnavailable when another run holds it too long."""
        if self._damaged():
            return None
        if not self.path.exists():
            return []
        try:
            with contextlib.closing(self._connect()) as con:
                return con.execute(query).fetchall()
        except sqlite3.DatabaseError as exc:
            if _busy(exc):
                raise CacheUnavailable(f"{self.path} is locked by another run ({exc})") from exc
            return None     # damaged since _damaged() looked, or in pages it did not read

    def write(self, entries: dict[str, Entry], keep: set[str]) -> int:
        """Store `entries` (replacing each partition's old one) and drop the entries of
        partitions not in `keep`, in one transaction; the number dropped."""
        with self._writing() as con:
            con.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                            [(sid, e.digest, e.steady_from, e.steady_until, e.verdict) for sid, e in entries.items()])
            return _keep_only(con, "entries", "sid TEXT", keep)

    @contextlib.contextmanager
    def _writing(self):
        """A connection inside one write transaction, under the lock (a damaged or foreign file
        replaced first, the tables of a new one created); CacheUnavailable when it cannot be."""
        try:
            with self._locked():
                if self._damaged():
                    self._replace()
                with contextlib.closing(self._connect()) as con:
                    with con:
                        con.execute("BEGIN IMMEDIATE")
                        if not _has_tables(con):
                            _create(con)
                        yield con
        except (sqlite3.DatabaseError, OSError) as exc:
            raise CacheUnavailable(f"cannot write {self.path} ({exc})") from exc

    def write_lines(self, fresh: dict[bytes, bytes], seen: set[bytes]):
        """Store the memo's `fresh` entries and drop those of chunks not `seen` tonight, in one
        transaction (an entry is never replaced: its key stands for its lines' bytes)."""
        with self._writing() as con:
            con.executemany("INSERT OR IGNORE INTO lines VALUES (?, ?)", fresh.items())
            _keep_only(con, "lines", "key BLOB", seen)

    def _damaged(self) -> bool:
        """Whether the file exists and is not a cache of this format: corrupt, truncated, or
        another program's database (an empty file is a new cache)."""
        if not self.path.exists():
            return False
        try:
            with contextlib.closing(self._connect()) as con:
                return not _is_cache(con) and _has_tables(con)
        except sqlite3.DatabaseError as exc:
            if _busy(exc):
                raise CacheUnavailable(f"{self.path} is locked by another run ({exc})") from exc
            return True

    def _replace(self):
        """A new, empty cache file in place of a damaged or foreign one (under the lock). Its
        journal goes too: SQLite would otherwise play a journal of the old file into the new."""
        fresh = self.folder / f".{CACHE_FILE}.new"
        fresh.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(fresh)) as con:
            with con:
                _create(con)
        Path(f"{self.path}-journal").unlink(missing_ok=True)
        os.replace(fresh, self.path)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)

    @contextlib.contextmanager
    def _locked(self):
        with open(self.folder / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _keep_only(con: sqlite3.Connection, table: str, key: str, keep: set) -> int:
    """Drop the rows of `table` (the cache's own: entries or lines) whose `key` column (its
    name and type) is not in `keep`; how many. The keys stored are read and compared here, in
    the write transaction: a night drops few or none, and copying the 10,000 kept keys into a
    table to compare them there cost 0.1 CPU-s a write."""
    name = key.split()[0]
    gone = [row for row in con.execute(f"SELECT {name} FROM {table}") if row[0] not in keep]
    con.executemany(f"DELETE FROM {table} WHERE {name} = ?", gone)
    return len(gone)


def _unwritable(path: Path, why: str) -> Problem:
    return Problem(str(path), None, "", f"--cache: {why}",
                   "a folder you may write to for the cache (or run without --cache)")


def _create(con: sqlite3.Connection):
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))


def _has_tables(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _is_cache(con: sqlite3.Connection) -> bool:
    """Whether the file is a cache of this format (a new, empty file is not, yet)."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        con.execute("SELECT sid, digest, steady_from, steady_until, verdict FROM entries LIMIT 0")
        con.execute("SELECT key, taken FROM lines LIMIT 0")
    except sqlite3.DatabaseError as exc:
        if _busy(exc):
            raise
        return False
    return row is not None and row[0] == FORMAT


def _busy(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(exc)
