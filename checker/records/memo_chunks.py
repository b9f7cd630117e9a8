"""A cached night's JSON Lines chunks made by the processes of the first pass's pool (records/
file_pool.py), as line_chunks.py makes them without a memo: each chunk last night's memo holds
(records/line_memo.py) taken from it, the others parsed, while the main process adds them to
the index in file order (records/stream.py). Its share of the pass is then the adding: the
reading, cutting, keying, looking up and checking of every chunk's entry are the pool's. At
10,000 clients (3,680 chunks) the main process's CPU in the pass fell from 2.1 to 1.2 s, the
pool's processes taking 1.4-1.8 s: more CPU in all (the joins, the pickles, the ranges), so the
night's wall gains only where a core is free while the pass runs.

The main process cuts each file into ranges that end where a memo's chunk ends whatever came
before it (line_chunks.ranges with the memo's cut), so that the chunks of a range are those of
the whole file, and adds each range's tally to its memo: the entries made of the chunks parsed
here, the keys of all its chunks, how many were reused and parsed (LineMemo.add_tally). The
memo's entries were read before the pool forked: its processes look them up in their copy.
Consecutive chunks with plans (taken, or made of a changed chunk) are joined into one where
they can be (line_plan.joined): the main process adds a range's records in a few bulk steps.
"""
from __future__ import annotations

import io
from itertools import accumulate

from checker.records.line_chunks import Chunk, datas_of, line_digests, range_made
from checker.records.line_memo import LineMemo, TakenPlan
from checker.records.line_plan import Plan, PlanSpec, joined
from checker.records.stubs import ROW, line_rows


def memo_range_chunks(spec: PlanSpec, memo: LineMemo, fields, chunk_ends, item: tuple) -> list:
    """In a process of the pass's pool: the Chunks of a range of a JSON Lines file (a ranges
    item cut at the memo's chunks), its memo's tally first (LineMemo.tally), as range_made
    gives them.
    `fields(type)`: the fields the index reads; `chunk_ends`: stream._chunk_ends with its cut."""
    file_no, _path, start, number, _size, _lines, _last = item

    def made(block: bytes) -> list:
        night = memo.night()
        chunks = _Range(spec, night, fields, file_no, block, start, number).chunks(chunk_ends)
        return [night.tally(), *chunks]     # the tally once they are taken
    return range_made(item, made)


class _Range:
    """One range's lines, cut into the memo's chunks and made into Chunks."""

    def __init__(self, spec: PlanSpec, night: LineMemo, fields, file_no: int, block: bytes, start: int, number: int):
        self.spec, self.night, self.fields, self.file_no = spec, night, fields, file_no
        self.raws = io.BytesIO(block).readlines()
        self.offsets = list(accumulate(map(len, self.raws), initial=start))
        self.first = number + 1            # the range's first line's number
        self.plain = block.isascii() and b"\r" not in block
        self.made: list[Chunk] = []
        self.planned: list[tuple] = []     # consecutive chunks with plans: (recipe, begin, digests)

    def chunks(self, chunk_ends) -> list[Chunk]:
        begin = 0
        ends = chunk_ends(self.raws)
        if len(self.raws) > (ends[-1] if ends else 0):     # the file's last lines, after its last chunk's end
            ends.append(len(self.raws))
        for end in ends:
            self._chunk(begin, end)
            begin = end
        self._flush()
        return self.made

    def _chunk(self, begin: int, end: int):
        """One chunk: its plan taken or made kept for _flush, else a Chunk of its lines."""
        raws, night = self.raws[begin:end], self.night
        key = night.key(raws)
        taken = night.taken(key, end - begin, self.spec)
        if isinstance(taken, TakenPlan):
            self.planned.append((taken[0], begin, taken[1]))
            return
        lines = self._lines(begin, end)
        if taken is None:       # parsed, its entry made as stream._Pass._add_chunk_parsed makes it
            quick = [data for data in datas_of(lines, self.plain) if isinstance(data, dict)]
            digests = [line[3] for line in lines]
            recipe = night.keep_parsed(key, quick, len(lines), self.spec, self.fields, digests)
            if recipe is not None:
                self.planned.append((recipe, begin, b"".join(digests)))
                return
        self._flush()
        self.made.append(Chunk(None, lines, taken))

    def _lines(self, begin: int, end: int) -> list[tuple]:
        """(byte offset, line number, raw line, digest) of lines begin..end of the range."""
        raws = self.raws[begin:end]
        return list(zip(self.offsets[begin:end], range(self.first + begin, self.first + end), raws, line_digests(raws)))

    def _flush(self):
        """The chunks with plans kept so far, as one Chunk when their recipes join, else one
        each; their rows made at once."""
        if not self.planned:
            return
        planned, self.planned = self.planned, []
        recipes = [recipe for recipe, _begin, _digests in planned]
        begin, end = planned[0][1], planned[-1][1] + len(planned[-1][0].ids)
        kinds = [kind for recipe in recipes for kind in recipe.kinds]
        rows = line_rows(self.spec.type_no, self.offsets[begin], self.first + begin, self.raws[begin:end], kinds,
                         b"".join(digests for _recipe, _begin, digests in planned), self.file_no, self.spec.root_no)
        together = joined(recipes, self.spec) if len(recipes) > 1 else None
        if together is not None:
            self.made.append(Chunk(Plan(together, self.first + begin, rows), None))
            return
        for recipe, at, _digests in planned:
            size = ROW.size * (at - begin)
            self.made.append(Chunk(Plan(recipe, self.first + at, rows[size:size + ROW.size * len(recipe.ids)]), None))
