"""A JSON Lines file's lines made into what the first pass's index needs of them (records/
line_plan.py) by the processes of the pass's pool (records/file_pool.py), while the main process
adds them to the index in file order (records/stream.py): its share of the pass (no client is
judged before the pass ends) is then the adding, not the reading, parsing and counting (at
10,000 clients, 2.9 of its CPU-seconds fall to 0.8, the pool's processes taking 2.5).

The main process reads a file in ranges of about RANGE_BYTES, each ending at a line end, and
sends each range's offset, size and first line's number (the lines it counted before it): the
pool's process reads the range itself (a range's bytes sent through its pipe would fill it while
the process sends its results back through the other). The process cuts its range into chunks of
MOST_LINES lines, makes each chunk's recipe, and joins consecutive chunks' recipes into one where
it can (line_plan.joined): the main process adds a range's records in a few bulk steps.

A cached night's pool takes its chunks' plans from last night's memo instead, in ranges cut
where the memo's chunks end (records/memo_chunks.py); without a pool, the main process does
(records/line_memo.py, stream._Pass._add_lines).
"""
from __future__ import annotations

import hashlib
import io
import os
import zlib
from functools import partial
from itertools import accumulate, chain
from operator import methodcaller
from pathlib import Path
from typing import NamedTuple

import orjson

from checker.records.line_memo import MOST_LINES
from checker.records.line_plan import Plan, PlanSpec, joined, plan_of, recipe_of
from checker.records.located import quick_json_line

RANGE_BYTES = 1024 ** 2
FILE_END = "the end of a JSON Lines file"       # what the pool's results give after a file's last range


class TooLarge(Exception):
    """A file beyond the size limit (or grown beyond it while read): the input is read whole."""


class Chunk(NamedTuple):
    """Consecutive lines as the main process adds them: by their `plan`, else line by line
    (`lines`: (offset, number, raw, digest) each; for a plan the main process cannot add, it
    reads them again: stream._lines_again)."""
    plan: Plan | None
    lines: list | None
    # A cached night's chunk whose memo entry gives its records' indexed fields and evidence
    # (line_memo.LineMemo.taken): (fields, evidence), its `lines` added with them.
    taken: tuple | None = None


def ranges(file_no: int, path: Path, limit: int, cut: int = 0):
    """The pool's items of a JSON Lines file: (file number, path, offset, lines before, bytes,
    lines, whether the last), each range ending at a line end; TooLarge beyond `limit` bytes.
    With `cut` (a cached night's: line_memo.CUT), each range ends after a line that ends a
    memo's chunk wherever the chunk began (_to_cut), or at the file's end: the chunks the pool
    cuts a range into are then those the whole file is cut into."""
    # Read into one buffer, only counted here: a new block of RANGE_BYTES a range was mapped
    # anew each time (stream._large_blocks_mapped), its pages faulted in and given back, which
    # took this loop from 0.07 to 0.23 s at 10,000 clients (124 MB), on the main's critical path.
    buffer = bytearray(RANGE_BYTES)
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise TooLarge
        start, number = 0, 0
        while True:
            size = handle.readinto(buffer)
            rest = handle.readline() if size and buffer[size - 1] != NEWLINE else b""
            if cut and size:
                rest += _to_cut(handle, buffer[buffer.rfind(b"\n", 0, size - 1) + 1:size] + rest, cut,
                                limit - start - size - len(rest))
            if start + size + len(rest) > limit:
                raise TooLarge
            last, lines = not handle.peek(1), buffer.count(b"\n", 0, size) + rest.count(b"\n")
            yield file_no, str(path), start, number, size + len(rest), lines, last
            if last:
                return
            start, number = start + size + len(rest), number + lines


NEWLINE = ord("\n")


def _to_cut(handle, last: bytes, cut: int, room: int) -> bytes:
    """The lines after the line `last` up to the first that ends a memo's chunk whatever came
    before it (its CRC-32's low byte below `cut`: stream._chunk_ends), `last` itself first
    asked; none when it is one or the file ends. Some hundred lines on average (a file of lines
    that never end a chunk, such as one line repeated, is read to its end or `room` bytes
    more)."""
    more, size = [], 0
    while last and zlib.crc32(last) & 255 >= cut and size <= room:
        last = handle.readline()
        more.append(last)
        size += len(last)
    return b"".join(more)


def range_made(item: tuple, make) -> list:
    """What a process of the pass's pool gives for a `ranges` item: [make(its bytes)], or
    [None] when the file no longer has them where the main process counted them (changed
    meanwhile); FILE_END after its file's last range."""
    _file_no, path, start, _number, size, lines, last = item
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            block = handle.read(size)
    except OSError:
        block = b""
    found = [make(block) if len(block) == size and block.count(b"\n") == lines else None]
    return found + [FILE_END] if last else found


def range_chunks(spec: PlanSpec, item: tuple) -> list:
    """In a process of the pass's pool: the Chunks of a range of a JSON Lines file (a `ranges`
    item), as range_made gives them."""
    file_no, _path, start, number, _size, _lines, _last = item
    return range_made(item, lambda block: _chunks(spec, file_no, block, start, number))


def _chunks(spec: PlanSpec, file_no: int, block: bytes, start: int, number: int) -> list[Chunk]:
    """The Chunks of a range's `block`: chunks with recipes joined where they have one together."""
    made, planned = [], []
    plain = block.isascii() and b"\r" not in block
    for lines in _cut(block, start, number):
        recipe = recipe_of(datas_of(lines, plain), spec)
        if recipe is not None:
            planned.append((recipe, lines))
            continue
        made += _planned(spec, file_no, planned)
        planned = []
        made.append(Chunk(None, lines))
    return made + _planned(spec, file_no, planned)


def _planned(spec: PlanSpec, file_no: int, planned: list) -> list[Chunk]:
    """The Chunks of consecutive chunks with recipes: one, when they have one together."""
    together = joined([recipe for recipe, _lines in planned], spec) if len(planned) > 1 else None
    if together is not None:
        planned = [(together, list(chain.from_iterable(lines for _recipe, lines in planned)))]
    return [Chunk(plan_of(recipe, lines, file_no, spec), None) for recipe, lines in planned]


_DIGEST = partial(hashlib.blake2b, digest_size=12)     # stream._digest, called in C a line


def _cut(block: bytes, offset: int, number: int):
    """Lists of (byte offset, line number, raw line, digest) of the lines of `block` (read
    from byte `offset`, after `number` lines), MOST_LINES a chunk; each step over every line
    one call in C (split, digest, offsets)."""
    raws = io.BytesIO(block).readlines()
    lines = list(zip(accumulate(map(len, raws), initial=offset), range(number + 1, number + 1 + len(raws)),
                     raws, line_digests(raws)))
    return [lines[at:at + MOST_LINES] for at in range(0, len(lines), MOST_LINES)]


def line_digests(raws: list[bytes]) -> list[bytes]:
    """stream._digest of each of `raws`, in C a line."""
    return list(map(methodcaller("digest"), map(_DIGEST, raws)))


def datas_of(lines: list, plain: bool) -> list:
    """quick_json_line of each line; `plain`: of a block of ASCII without a carriage return,
    where it is orjson's read of each (in C, line after line, until one fails)."""
    if plain:
        try:
            return list(map(orjson.loads, [line[2] for line in lines]))
        except orjson.JSONDecodeError:
            pass
    return [quick_json_line(line[2]) for line in lines]
