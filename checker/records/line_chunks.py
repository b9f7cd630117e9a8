"""The first pass's chunks of a JSON Lines file, each made into what the index needs of it
(records/line_plan.py) or taken from last night's memo (records/line_memo.py), without the
index: in the main process, or spread over the pass's pool (records/file_pool.py) while the
main process adds the chunks to the index in file order (records/stream.py).

The main process reads a file in ranges of about RANGE_BYTES, each ending at a line end, and
for the pool sends each range's offset, size and first line's number (the lines it counted
before it): the pool's process reads the range itself. With a memo, a range ends at a line that
ends a chunk, so that the chunks made of the ranges are those made of the whole file: the memo's
keys do not move with where a range ends.
"""
from __future__ import annotations

import hashlib
import io
import os
from functools import partial
from itertools import accumulate, chain
from operator import methodcaller
from pathlib import Path
from typing import NamedTuple

import orjson

from checker.records.line_memo import CUT, MOST_LINES, LineMemo, fields_entry, recipe_entry
from checker.records.line_plan import Plan, PlanSpec, Recipe, joined, plan_of, recipe_of
from checker.records.located import quick_json_line

RANGE_BYTES = 1024 ** 2
FILE_END = "the end of a JSON Lines file"       # what the pool's results give after a file's last chunk


class TooLarge(Exception):
    """A file beyond the size limit (or grown beyond it while read): the input is read whole."""


class LineWork(NamedTuple):
    """What making a chunk reads besides its lines: the memo (or None), what a plan reads of
    the index builder, and the builder's indexed_fields (a fields entry's)."""
    memo: LineMemo | None
    spec: PlanSpec
    fields: object


class Chunk(NamedTuple):
    """Consecutive lines as the pass adds them: by their `plan`, else line by line (`lines`:
    (offset, number, raw, digest) each; None for a plan a pool process made, whose lines the
    main process reads again only if it cannot add the plan) with the fields the memo `taken`
    of them, or parsed."""
    plan: Plan | None
    lines: list | None
    taken: tuple | None


class Made(NamedTuple):
    """A range's chunks as the pass adds them (Chunks: one plan for consecutive chunks with
    plans where they have one together, line_plan.joined), and for the memo each chunk's
    (key, whether last night's entry was taken, the entry made tonight or None)."""
    chunks: list[Chunk]
    memo: list[tuple[bytes, bool, bytes | None]]


def range_chunks(work: LineWork, item: tuple, block: bytes | None = None, keep_lines: bool = False) -> list:
    """The Made of a range of a JSON Lines file (a `ranges` item, read here in a process of the
    pass's pool, or its `block` of bytes), and FILE_END after its file's last; None for it when
    the file no longer has the range's bytes and lines where the main process counted them
    (changed meanwhile). `keep_lines`: a plan's lines are kept with it."""
    file_no, path, start, number, size, lines, last = item
    if block is None:
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                block = handle.read(size)
        except OSError:
            block = b""
    if len(block) != size or block.count(b"\n") != lines:
        found: list = [None]
    else:
        found = [_made(work, file_no, block, start, number, keep_lines)]
    return found + [FILE_END] if last else found


def _made(work: LineWork, file_no: int, block: bytes, start: int, number: int, keep_lines: bool) -> Made:
    made, notes, planned = [], [], []
    plain = block.isascii() and b"\r" not in block
    for lines in _cut(block, start, number, CUT if work.memo is not None else 0):
        recipe, taken, note = _chunk(work, lines, plain)
        if note is not None:
            notes.append(note)
        if recipe is not None:
            planned.append((recipe, lines))
            continue
        made += _planned(work, file_no, planned, keep_lines)
        planned = []
        made.append(Chunk(None, lines, taken))
    return Made(made + _planned(work, file_no, planned, keep_lines), notes)


def _planned(work: LineWork, file_no: int, planned: list, keep_lines: bool) -> list[Chunk]:
    """The Chunks of consecutive chunks with recipes: one, when they have one together."""
    together = joined([recipe for recipe, _lines in planned], work.spec) if len(planned) > 1 else None
    if together is not None:
        planned = [(together, list(chain.from_iterable(lines for _recipe, lines in planned)))]
    return [Chunk(plan_of(recipe, lines, file_no, work.spec), lines if keep_lines else None, None)
            for recipe, lines in planned]


def ranges(file_no: int, path: Path, limit: int, cut: bool):
    """The ranges of a JSON Lines file, each as (the pool's item: (file number, path, offset,
    lines before, bytes, lines, whether the last), its bytes), each range ending at a line end and, with `cut` (a memo), at a line
    that ends a chunk; TooLarge beyond `limit` bytes. The items are small: a process of the pool
    reads its range itself (a range's bytes sent through its pipe would fill it while the
    process sends its results back through the other)."""
    blake2b = hashlib.blake2b
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise TooLarge
        start, number = 0, 0
        while True:
            block = handle.read(RANGE_BYTES)
            if block and not block.endswith(b"\n"):
                block += handle.readline()
            while cut and block and blake2b(block[block.rfind(b"\n", 0, -1) + 1:], digest_size=12).digest()[0] >= CUT:
                line = handle.readline()        # ends a chunk only when the memo's cut says so
                if not line:
                    break
                block += line
            if start + len(block) > limit:
                raise TooLarge
            last, lines = not handle.peek(1), block.count(b"\n")
            yield (file_no, str(path), start, number, len(block), lines, last), block
            if last:
                return
            start, number = start + len(block), number + lines


_DIGEST = partial(hashlib.blake2b, digest_size=12)     # stream._digest, called in C a line


def _cut(block: bytes, offset: int, number: int, cut: int):
    """Lists of (byte offset, line number, raw line, digest) of the lines of `block` (read
    from byte `offset`, after `number` lines), in chunks: a line whose digest's first byte is
    below `cut` ends one, and so does a chunk's MOST_LINES-th. Each step over every line is
    one call in C (split, digest, offsets; the digests' first bytes as one bytes, searched)."""
    raws = io.BytesIO(block).readlines()
    digests = list(map(methodcaller("digest"), map(_DIGEST, raws)))
    lines = list(zip(accumulate(map(len, raws), initial=offset), range(number + 1, number + 1 + len(raws)),
                     raws, digests))
    ends = b"".join(digests)[::12].translate(_ENDS[cut])     # 0 where a line ends a chunk
    start = 0
    while start < len(lines):
        end = ends.find(0, start, start + MOST_LINES)
        end = end + 1 if end != -1 else min(start + MOST_LINES, len(lines))
        yield lines[start:end]
        start = end


_ENDS = {cut: bytes(0 if byte < cut else 1 for byte in range(256)) for cut in (0, CUT)}


def _datas(lines: list, plain: bool) -> list:
    """quick_json_line of each line; `plain`: of a block of ASCII without a carriage return,
    where it is orjson's read of each (in C, line after line, until one fails)."""
    if plain:
        try:
            return list(map(orjson.loads, [line[2] for line in lines]))
        except orjson.JSONDecodeError:
            pass
    return [quick_json_line(line[2]) for line in lines]


def _chunk(work: LineWork, lines: list, plain: bool) -> tuple:
    """(its recipe, or the memo's fields of its lines, or neither; for the memo (key, last
    night's entry taken, tonight's entry) or None) of a chunk of `lines`."""
    memo, spec = work.memo, work.spec
    key = memo.key([line[3] for line in lines]) if memo is not None else None
    found = memo.read(key, len(lines), spec) if memo is not None else None
    recipe = found if isinstance(found, Recipe) else None
    taken = found if found is not None and recipe is None else None
    entry = None
    if found is None:
        datas = _datas(lines, plain)
        recipe = recipe_of(datas, spec)
        if memo is not None and recipe is not None:
            entry = recipe_entry(recipe)
        elif memo is not None and all(type(data) is dict for data in datas):
            entry = fields_entry(datas, work.fields)
    return recipe, taken, None if key is None else (key, found is not None, entry)
